import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportFile, parseEnvVars } from '../../core/job-environment.ts';
import { planRecovery } from '../../core/planner.ts';
import { parsePolicy, policyFor } from '../../core/policy.ts';
import { parseProfile } from '../../core/profiles.ts';
import { plainJobResubmission } from '../../core/sbatch-script.ts';
import { capturedJobFromScontrol } from '../../core/scontrol.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { testDeps } from '../support/deps.ts';
import { sacctEvent } from '../support/events.ts';
import { LAB_PROFILE } from '../support/lab-profile.ts';

// The environment a job was submitted with: read from accounting, replayed exactly by its retry; where it
// cannot be read, the retry gets its owner's login environment and the plan says so (or, by policy, stops).

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '..', 'events', 'sacct-env', name), 'utf8');

describe('the submission environment as accounting keeps it (lab, Slurm 22.05)', () => {
  it('reads every variable, multi-line values included, leaving out what sbatch writes itself', () => {
    // Submitted as alice with `env -i PATH=… HOME=… SLURM_CONF=… MYVAR=$'multi\nline' BASH_FUNC_f%%=…
    // sbatch --export=ALL,VAR=value`.
    const env = parseEnvVars(fixture('lab-stored.txt'));
    if (typeof env !== 'object') throw new Error('no environment read');
    expect(env.variables).toEqual([
      ['PATH', '/usr/bin:/bin'],
      ['HOME', '/home/alice'],
      ['SLURM_CONF', '/var/tmp/rebound-slurm/etc/slurm.conf'],
      ['MYVAR', 'multi\nline'],
      ['BASH_FUNC_f%%', '() { echo hi\n}'],
      ['VAR', 'value'],
    ]);
    expect(env.submitDir).toBe('/tmp/probe');
    expect(exportFile(env).toString()).toBe(
      'PATH=/usr/bin:/bin\0HOME=/home/alice\0SLURM_CONF=/var/tmp/rebound-slurm/etc/slurm.conf\0' +
        'MYVAR=multi\nline\0BASH_FUNC_f%%=() { echo hi\n}\0VAR=value',
    );
  });

  it('tells a cluster that keeps none (NONE) from an answer about nothing (not the caller’s job)', () => {
    expect(parseEnvVars(fixture('lab-not-stored.txt'))).toBe('not-stored');
    expect(parseEnvVars('')).toBeUndefined();
  });

  it('replays it with --export-file on fd 3, or asks Slurm for a login environment (--export=NONE)', () => {
    const job = capturedJobFromScontrol(
      { JobId: '7', JobName: 'e' },
      { owner: { uid: 1501, user: 'alice' } },
      'x',
    );
    expect(plainJobResubmission(job, {}, 'rebound:w', { environment: 'exact' }).argv).toContain(
      '--export-file=3',
    );
    expect(plainJobResubmission(job, {}, 'rebound:w', { environment: 'login' }).argv).toContain(
      '--export=NONE',
    );
  });

  // Checked on the lab: with no --export on sbatch's command line, a script line `#SBATCH
  // --export=FOO=bar,MYVAR` gives the job its owner's login environment (SLURM_GET_USER_ENV=1) plus FOO;
  // a command-line --export=NONE would override that line and lose FOO.
  it('leaves a script’s own --export line naming variables to apply, and only such a line', () => {
    const login = (script: string) =>
      plainJobResubmission(
        capturedJobFromScontrol(
          { JobId: '7', JobName: 'e' },
          { owner: { uid: 1501, user: 'alice' } },
          script,
        ),
        {},
        'rebound:w',
        { environment: 'login' },
      ).argv.filter((a) => a.startsWith('--export'));
    expect(login('#!/bin/bash\n#SBATCH --mem=1G\n#SBATCH --export=FOO=bar,MYVAR\nrun\n')).toEqual([]);
    expect(login('#!/bin/bash\n#SBATCH --export FOO=bar\nrun\n')).toEqual([]);
    expect(login('#!/bin/bash\n#SBATCH --export=ALL,FOO=bar\nrun\n')).toEqual(['--export=NONE']);
    expect(login('#!/bin/bash\n#SBATCH --export=none\nrun\n')).toEqual(['--export=NONE']);
    // sbatch reads no directive after the first command.
    expect(login('#!/bin/bash\nrun\n#SBATCH --export=FOO=bar\n')).toEqual(['--export=NONE']);
    expect(login('#!/bin/bash\nrun\n')).toEqual(['--export=NONE']);
  });
});

describe('a job whose environment could not be read', () => {
  const state = (environment: 'stored' | 'not-stored') => ({
    kind: 'slurm' as const,
    workload: 'w',
    profile: parseProfile(LAB_PROFILE),
    jobs: [
      {
        id: '7',
        name: 'e',
        evidence: { slurmState: 'OUT_OF_MEMORY', memoryLimitBytes: 200 * 2 ** 20 },
        limits: { memoryBytes: 200 * 2 ** 20 },
        cpus: 1,
        gpus: 0,
        owner: { uid: 1501, user: 'alice' },
        environment,
      },
    ],
  });
  const now = new Date('2026-11-30T12:00:00Z');

  it('is retried with a login environment of its owner, said in the plan', () => {
    const plan = planRecovery(state('not-stored'), policyFor(parsePolicy({}), 'w'), { attemptsUsed: 0 }, now);
    expect(plan.outcome).toBe('recover');
    expect(plan.report.join('\n')).toContain(
      "increasing memory 200M -> 300M; the environment it was submitted with could not be read from Slurm's accounting (AccountingStoreFlags=job_env): the retry runs with a login environment of alice instead",
    );
    const stored = planRecovery(state('stored'), policyFor(parsePolicy({}), 'w'), { attemptsUsed: 0 }, now);
    expect(stored.report.join('\n')).not.toContain('environment');
  });

  it('needs attention instead where the policy requires the environment', async () => {
    const policy = policyFor(parsePolicy({ requireEnvironment: true }), 'w');
    const plan = planRecovery(state('not-stored'), policy, { attemptsUsed: 0 }, now);
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'records-incomplete' });
    expect(plan.decisions[0]?.note).toBe(
      "not retried: the environment it was submitted with could not be read from Slurm's accounting (AccountingStoreFlags=job_env), and the policy requires it (requireEnvironment); needs attention",
    );
    const deps = testDeps({ policy: { requireEnvironment: true } });
    await handleEvent(
      deps,
      sacctEvent('77', { environment: 'not-stored', owner: { uid: 1501, user: 'alice' } }),
    );
    expect(deps.commands.sent()).toEqual([]);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
  });
});
