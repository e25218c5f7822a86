import { describe, expect, it } from 'vitest';
import type { CommandOf } from '../../core/commands.ts';
import type { EventOf } from '../../core/events.ts';
import { eventIds } from '../../core/ids.ts';
import { planRecovery } from '../../core/planner.ts';
import { parsePolicy, policyFor } from '../../core/policy.ts';
import { parseProfile } from '../../core/profiles.ts';
import { plainJobResubmission } from '../../core/sbatch-script.ts';
import { capturedJobFromScontrol, requeuedBySlurm } from '../../core/scontrol.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { sentIds, testDeps } from '../support/deps.ts';
import { sacctEvent } from '../support/events.ts';
import { LAB_PROFILE } from '../support/lab-profile.ts';

// A job Slurm requeues itself (a node failure, a preemption) ends once per run under one id: each end is its
// own event, the interrupted run is followed (never resubmitted as well), and the final end is decided.

const jobcomp = (endedAt: number, state: string, nodes = 'vm'): EventOf<'slurm.jobcomp'> => ({
  id: eventIds.jobcomp('lab', '90', endedAt),
  version: 1,
  source: 'jobcomp',
  occurredAt: '2026-11-30T12:00:00Z',
  cluster: 'lab',
  type: 'slurm.jobcomp',
  data: { jobId: '90', jobName: 'hog', state, exitCode: '0:0', startedAt: endedAt - 10, endedAt, nodes },
});

describe('a job Slurm requeues', () => {
  it('gives each run its own ids, so the end after a requeue is not a duplicate', () => {
    expect(eventIds.jobcomp('lab', '90', 100)).not.toBe(eventIds.jobcomp('lab', '90', 200));
    expect(eventIds.sacct('lab', '90', 100)).toBe('sacct:lab:90:e100');
  });

  it('tells a job queued again from one that ended (COMPLETING is the end itself)', () => {
    for (const s of ['PENDING', 'RUNNING', 'REQUEUED', 'REQUEUE_HOLD']) expect(requeuedBySlurm(s)).toBe(true);
    for (const s of ['COMPLETING', 'NODE_FAIL', 'COMPLETED', undefined])
      expect(requeuedBySlurm(s)).toBe(false);
  });

  it('follows the interrupted run, then recovers the OOM of the run after it', async () => {
    const deps = testDeps();
    await handleEvent(deps, jobcomp(1000, 'NODE_FAIL'));
    const first = deps.commands.sent().at(-1) as CommandOf<'slurm.enrich'>;
    expect(first).toMatchObject({ id: 'enrich:lab:90:e1000', endedAt: 1000, state: 'NODE_FAIL' });
    // The relay found the job queued again: its reading (of the run the enrichment named) says so.
    await handleEvent(deps, {
      ...sacctEvent('90', { state: 'NODE_FAIL', exitCode: '', requeued: true, nodes: 'vm', endedAt: 1000 }),
      id: eventIds.sacct('lab', '90', 1000),
    });
    expect(sentIds(deps)).toEqual(['enrich:lab:90:e1000']);
    expect((await deps.store.listHistory('nightly')).map((h) => h.line)).toEqual([
      'Job 90 (hog): NODE_FAIL on vm; requeued by Slurm, which runs it again as job 90: followed, not resubmitted',
    ]);
    expect(await deps.store.getJob('lab:90')).toMatchObject({ decided: false, runEndedAt: 1000 });

    // The run after the requeue runs out of memory: its own end, enriched and decided.
    await handleEvent(deps, jobcomp(2000, 'OUT_OF_MEMORY'));
    expect(sentIds(deps).at(-1)).toBe('enrich:lab:90:e2000');
    await handleEvent(deps, {
      ...sacctEvent('90', { endedAt: 2000 }),
      id: eventIds.sacct('lab', '90', 2000),
    });
    expect(deps.commands.sent().at(-1)).toMatchObject({ type: 'slurm.resubmit', resources: { mem: '375M' } });
    // The interrupted run's end arriving again (a spooled copy) changes nothing.
    await handleEvent(deps, { ...jobcomp(1000, 'NODE_FAIL'), id: 'jobcomp:lab:90:e1000:again' });
    expect(sentIds(deps).filter((id) => id.startsWith('enrich:'))).toHaveLength(2);
    expect(await deps.store.getJob('lab:90')).toMatchObject({ decided: true, runEndedAt: 2000 });
  });
});

describe('a node failure Slurm did not requeue', () => {
  const state = (slurmState: string) => ({
    kind: 'slurm' as const,
    workload: 'w',
    profile: parseProfile(LAB_PROFILE),
    jobs: [
      {
        id: '7',
        name: 'n',
        evidence: { slurmState, nodes: 'node[01-02]', memoryLimitBytes: 2 ** 30 },
        limits: { memoryBytes: 2 ** 30, runtimeSeconds: 600 },
        cpus: 1,
        gpus: 0,
      },
    ],
  });
  const plan = (s: string) =>
    planRecovery(
      state(s),
      policyFor(parsePolicy({}), 'w'),
      { attemptsUsed: 0 },
      new Date('2026-11-30T12:00:00Z'),
    );

  it('is retried with the same resources, kept off the nodes it failed on', () => {
    const p = plan('NODE_FAIL');
    expect(p.actions).toMatchObject([{ type: 'resubmit-job', resources: { exclude: 'node[01-02]' } }]);
    expect(p.report.join('\n')).toContain('retried with the same resources, away from node[01-02]');
    expect(plan('BOOT_FAIL').actions).toMatchObject([{ resources: { exclude: 'node[01-02]' } }]);
    // A preemption blames no node.
    expect(plan('PREEMPTED').actions[0]).not.toHaveProperty('resources.exclude');
  });

  it('passes --exclude to sbatch', () => {
    const job = capturedJobFromScontrol(
      { JobId: '7', JobName: 'n' },
      { owner: { uid: 1501, user: 'alice' } },
      'x',
    );
    expect(plainJobResubmission(job, { exclude: 'node[01-02]' }, 'rebound:w').argv).toContain(
      '--exclude=node[01-02]',
    );
  });
});
