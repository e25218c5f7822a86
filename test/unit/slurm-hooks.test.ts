import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventSchema } from '../../core/events.ts';

// The Slurm hooks themselves (hooks/jobcomp.sh, hooks/epilog-ctld.sh), run as slurmctld runs them: with
// Slurm's variables and no service to reach, so each spools its event. What it spools must be the event the
// service takes, whatever a job name holds; the e2e suites run them under a real slurmctld.

const ROOT = join(import.meta.dirname, '..', '..');

function runHook(hook: string, env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'rebound-hook-'));
  const spool = join(dir, 'spool');
  writeFileSync(join(dir, 'secret'), 'hook-test-secret-of-at-least-32-bytes-000');
  writeFileSync(
    join(dir, 'hook.conf'),
    // Port 9 (discard) is closed here: the post fails at once and the event is spooled.
    `REBOUND_URL=http://127.0.0.1:9\nREBOUND_SECRET_FILE=${join(dir, 'secret')}\nREBOUND_SPOOL=${spool}\n`,
  );
  execFileSync(join(ROOT, 'hooks', hook), {
    env: { ...env, REBOUND_HOOK_CONF: join(dir, 'hook.conf') },
  });
  return spool;
}

async function spooled(spool: string, name: string) {
  const file = join(spool, `${name}.json`);
  for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 25));
  return EventSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

const awkward = 'we"ird\\name\twith\nlines\u0001and ünïcode';

describe('the Slurm hooks', () => {
  it('jobcomp: an array task named as Slurm names it, every field escaped, integers as integers', async () => {
    const spool = runHook('jobcomp.sh', {
      JOBID: '4711',
      ARRAYJOBID: '4700',
      ARRAYTASKID: '11',
      JOBSTATE: 'OUT_OF_MEMORY',
      EXITCODE: '0:125',
      DERIVED_EC: '0:0',
      JOBNAME: awkward,
      PARTITION: 'short',
      USERNAME: 'alice',
      ACCOUNT: 'lab',
      WORK_DIR: '/home/alice/run "1"',
      LIMIT: '00:10:00',
      START: '1795619547',
      END: '1795619549',
      NODES: 'vm',
      CLUSTER: 'lab',
    });
    const event = await spooled(spool, 'jobcomp-lab-4711-e1795619549');
    expect(event).toMatchObject({
      id: 'jobcomp:lab:4711:e1795619549',
      source: 'jobcomp',
      cluster: 'lab',
      type: 'slurm.jobcomp',
      data: {
        jobId: '4700_11',
        // The control character dropped; quotes, backslashes, tabs, newlines and UTF-8 kept.
        jobName: 'we"ird\\name\twith\nlinesand ünïcode',
        workDir: '/home/alice/run "1"',
        state: 'OUT_OF_MEMORY',
        exitCode: '0:125',
        startedAt: 1795619547,
        endedAt: 1795619549,
        nodes: 'vm',
      },
    });
    expect(Math.abs(Date.parse(event.occurredAt) - Date.now())).toBeLessThan(60_000);
  });

  it('jobcomp: a value that is not a number is 0, not broken JSON', async () => {
    const spool = runHook('jobcomp.sh', {
      JOBID: '12',
      JOBSTATE: 'FAILED',
      EXITCODE: '1:0',
      START: 'Unknown',
      END: '1795619600',
    });
    expect((await spooled(spool, 'jobcomp-slurm-12-e1795619600')).data).toMatchObject({
      jobId: '12',
      startedAt: 0,
      endedAt: 1795619600,
    });
  });

  it('epilog: the job and its raw exit status', async () => {
    const spool = runHook('epilog-ctld.sh', {
      SLURM_JOB_ID: '99',
      SLURM_JOB_NAME: awkward,
      SLURM_JOB_PARTITION: 'long',
      SLURM_JOB_USER: 'alice',
      SLURM_JOB_ACCOUNT: 'lab',
      SLURM_JOB_EXIT_CODE: '253',
      SLURM_JOB_EXIT_CODE2: '0:125',
      SLURM_JOB_RESTART_COUNT: '1',
      SLURM_CLUSTER_NAME: 'lab',
    });
    expect(await spooled(spool, 'epilog-lab-99')).toMatchObject({
      id: 'epilog:lab:99:1',
      type: 'slurm.epilog',
      data: { jobId: '99', rawExitStatus: 253, exitCode: '0:125', restartCount: 1, partition: 'long' },
    });
  });
});
