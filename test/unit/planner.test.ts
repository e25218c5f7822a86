import { describe, expect, it } from 'vitest';
import type { JobEvidence } from '../../core/evidence.ts';
import { planRecovery } from '../../core/planner.ts';
import { parsePolicy, policyFor } from '../../core/policy.ts';
import { KESTREL, parseProfile } from '../../core/profiles.ts';
import type { FailedJob, RecoveryState } from '../../core/recovery-state.ts';
import { GiB, HOUR, MiB } from '../../core/units.ts';

const NOW = new Date('2026-11-25T12:00:00Z');
const LAB = parseProfile({
  name: 'lab',
  displayName: 'Lab',
  partitions: [
    { name: 'short', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 60 },
    { name: 'long', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 'UNLIMITED' },
  ],
});
const policy = (over: object = {}) => policyFor(parsePolicy(over), 'w');

const OOM: JobEvidence = { slurmState: 'OUT_OF_MEMORY', exitCode: 0, signal: 125 };
const TIMEOUT: JobEvidence = {
  slurmState: 'TIMEOUT',
  exitCode: 0,
  signal: 0,
  elapsedSeconds: 75,
  timeLimitSeconds: 60,
};
const EXIT3: JobEvidence = { slurmState: 'FAILED', exitCode: 3, signal: 0 };

const slurmJob = (
  id: string,
  evidence: JobEvidence,
  memMiB = 200,
  seconds = 60,
  partition = 'short',
): FailedJob => ({
  id,
  name: `job${id}`,
  evidence,
  limits: { memoryBytes: memMiB * MiB, runtimeSeconds: seconds },
  cpus: 1,
  gpus: 0,
  partition,
});
const slurm = (...jobs: FailedJob[]): RecoveryState => ({ kind: 'slurm', workload: 'w', profile: LAB, jobs });

describe('planRecovery: plain Slurm jobs', () => {
  it('raises both limits when the job had reached both (TIMEOUT with its memory at 95 %)', () => {
    const both: JobEvidence = { ...TIMEOUT, peakMemoryBytes: 190 * MiB, memoryLimitBytes: 200 * MiB };
    const plan = planRecovery(
      slurm(slurmJob('12', both, 200, 60, 'long')),
      policy(),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan.actions).toEqual([
      { type: 'resubmit-job', jobId: '12', resources: { mem: '300M', time: '2', partition: 'long' } },
    ]);
    expect(plan.report[1]).toBe(
      'Job 12 (job12): Timeout detected, increasing memory 200M -> 300M, increasing runtime 1 -> 2',
    );
  });

  it('resubmits an OOM with memory × 1.5', () => {
    const plan = planRecovery(slurm(slurmJob('11', OOM)), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan).toMatchObject({ outcome: 'recover', attempt: 1, kind: 'slurm' });
    expect(plan.actions).toEqual([
      { type: 'resubmit-job', jobId: '11', resources: { mem: '300M', time: '1', partition: 'short' } },
    ]);
    expect(plan.report).toEqual([
      'Recovery attempt 1/3 for w',
      'Job 11 (job11): OOM detected, increasing memory 200M -> 300M',
      'Resubmitting job 11 with --mem=300M --time=1 --partition=short',
    ]);
  });

  it('resubmits a timeout with --time=2 and moves it to a partition that allows it', () => {
    const plan = planRecovery(slurm(slurmJob('12', TIMEOUT)), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan.actions).toEqual([
      { type: 'resubmit-job', jobId: '12', resources: { mem: '200M', time: '2', partition: 'long' } },
    ]);
    expect(plan.report[1]).toBe(
      'Job 12 (job12): Timeout detected, increasing runtime 1 -> 2, moving partition short -> long',
    );
  });

  it('stops with "needs attention" when the limit to raise is unknown, instead of guessing one', () => {
    const job = { ...slurmJob('14', OOM), limits: { runtimeSeconds: 60 } };
    const plan = planRecovery(slurm(job), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'limits-unknown', actions: [] });
    expect(plan.report).toEqual([
      'Job 14 (job14): OOM detected (Slurm reports OUT_OF_MEMORY); not retried: the memory limit it ran with is unknown, so there is nothing to scale',
      'No recoverable jobs found: the limits to raise are unknown. Resubmit by hand with a larger request.',
    ]);
  });

  it('raises the known limit and leaves an unknown one to the original options', () => {
    const job = { ...slurmJob('15', TIMEOUT), limits: { runtimeSeconds: 60 } };
    const plan = planRecovery(slurm(job), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan.actions).toEqual([
      { type: 'resubmit-job', jobId: '15', resources: { time: '2', partition: 'long' } },
    ]);
  });

  it("scales the --time limit, not the elapsed time that includes Slurm's kill grace", () => {
    const job = slurmJob('16', { ...TIMEOUT, elapsedSeconds: 88 });
    const plan = planRecovery(slurm(job), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan.actions).toMatchObject([{ resources: { time: '2' } }]);
  });

  it('leaves an unknown failure alone and says so', () => {
    const plan = planRecovery(slurm(slurmJob('13', EXIT3)), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'nothing-recoverable', actions: [] });
    expect(plan.report.slice(0, 2)).toEqual([
      'Job 13 (job13): Unknown failure (failed with exit code 3); unknown cause; not retried (retryUnknown is off and no hook is set)',
      'No recoverable jobs found. 1 job(s) failed with unknown causes.',
    ]);
  });

  it('retries an unknown failure as is when retryUnknown is on', () => {
    const plan = planRecovery(
      slurm(slurmJob('13', EXIT3)),
      policy({ retryUnknown: true }),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan.actions).toEqual([
      { type: 'resubmit-job', jobId: '13', resources: { mem: '200M', time: '1', partition: 'short' } },
    ]);
  });

  it('stops after max retries', () => {
    const plan = planRecovery(
      slurm(slurmJob('14', OOM)),
      policy({ maxRetries: 2 }),
      { attemptsUsed: 2 },
      NOW,
    );
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'max-retries', attempt: 3, actions: [] });
    expect(plan.report.at(-2)).toBe('Max retries (2) exceeded. Manual intervention required.');
    expect(plan.report.at(-1)).toMatch(/^By hand: `rebound recover w` /);
  });

  it('plans a manual attempt past max retries, numbered after every claimed attempt', () => {
    const manual = { by: 'alice', via: 'cli' as const, requestId: 'r-12345678' };
    const plan = planRecovery(
      slurm(slurmJob('14', OOM)),
      policy({ maxRetries: 2 }),
      { attemptsUsed: 2, claimed: 3, manual },
      NOW,
    );
    expect(plan).toMatchObject({
      outcome: 'recover',
      attempt: 4,
      manual: { ...manual, automaticUsed: 2 },
      actions: [{ type: 'resubmit-job', jobId: '14' }],
    });
  });

  it('never retries a cancelled job, even with retryUnknown', () => {
    const plan = planRecovery(
      slurm(slurmJob('15', { slurmState: 'CANCELLED' })),
      policy({ retryUnknown: true }),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'nothing-recoverable' });
    expect(plan.decisions[0]).toMatchObject({ cause: 'cancelled', retry: false });
  });

  it('retries a transient failure with the same resources, unless retryTransient is off', () => {
    const job = slurmJob('16', { slurmState: 'NODE_FAIL' });
    expect(planRecovery(slurm(job), policy(), { attemptsUsed: 0 }, NOW).actions).toEqual([
      { type: 'resubmit-job', jobId: '16', resources: { mem: '200M', time: '1', partition: 'short' } },
    ]);
    expect(
      planRecovery(slurm(job), policy({ retryTransient: false }), { attemptsUsed: 0 }, NOW).outcome,
    ).toBe('stop');
  });

  it('does not retry what exceeds every partition, and says what it would need', () => {
    const plan = planRecovery(slurm(slurmJob('17', OOM, 18_000)), policy(), { attemptsUsed: 0 }, NOW);
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'exceeds-partitions' });
    expect(plan.decisions[0]!.note).toMatch(/needs 26\.37 GiB memory.*offer 19\.53 GiB memory \(short\)/);
  });

  it('reports nothing to do when every job succeeded', () => {
    const plan = planRecovery(
      slurm(slurmJob('18', { slurmState: 'COMPLETED', exitCode: 0, signal: 0 })),
      policy(),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'nothing-failed', decisions: [] });
  });

  it('is deterministic', () => {
    const state = slurm(slurmJob('11', OOM), slurmJob('12', TIMEOUT));
    expect(planRecovery(state, policy(), { attemptsUsed: 1 }, NOW)).toEqual(
      planRecovery(state, policy(), { attemptsUsed: 1 }, NOW),
    );
  });
});

const torcJob = (
  id: number,
  evidence: JobEvidence,
  rr = { id: 3, name: 'large' },
  mem = 8,
  hours = 1,
): FailedJob => ({
  id: String(id),
  name: `job${id}`,
  evidence,
  limits: { memoryBytes: mem * GiB, runtimeSeconds: hours * HOUR },
  cpus: 4,
  gpus: 0,
  rr,
});
/** `members`: each row's jobs, as a workflow has them (the state carries only their number). */
const torc = (jobs: FailedJob[], members: Record<number, number[]> = {}): RecoveryState => ({
  kind: 'torc',
  workload: 'torc:7',
  profile: KESTREL,
  jobs,
  rrSizes: Object.fromEntries(Object.entries(members).map(([rr, ids]) => [rr, ids.length])),
});
const TORC_OOM: JobEvidence = {
  torcStatus: 'failed',
  torcReturnCode: 137,
  elapsedSeconds: 600,
  timeLimitSeconds: 3600,
};
const TORC_TIMEOUT: JobEvidence = {
  torcStatus: 'terminated',
  torcReturnCode: -15,
  elapsedSeconds: 3700,
  timeLimitSeconds: 3600,
};
const TORC_EXIT1: JobEvidence = {
  torcStatus: 'failed',
  torcReturnCode: 1,
  elapsedSeconds: 60,
  timeLimitSeconds: 3600,
};

describe('planRecovery: Torc workflows', () => {
  it('reports in Torc words and updates a row in place when every job in it changes alike', () => {
    const plan = planRecovery(
      torc([torcJob(107, TORC_OOM)], { 3: [107] }),
      policy(),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan.report[1]).toBe('Job 107 (job107): OOM detected, increasing memory 8g -> 12g');
    expect(plan.actions.map((a) => a.type)).toEqual(['update-resources', 'reset-jobs', 'submit-allocations']);
    expect(plan.actions[0]).toEqual({
      type: 'update-resources',
      rrId: 3,
      rrName: 'large',
      jobIds: [107],
      memory: '12g',
      runtime: 'PT1H',
    });
  });

  it('sizes one change per row from the largest need among its failed jobs (one copy, not one per peak)', () => {
    const peak = (gib: number): JobEvidence => ({
      ...TORC_OOM,
      peakMemoryBytes: gib * GiB,
      memoryLimitBytes: 8 * GiB,
    });
    const plan = planRecovery(
      torc([torcJob(1, peak(8.5)), torcJob(2, peak(10))], { 3: [1, 2, 3, 4] }),
      policy(),
      { attemptsUsed: 0 },
      NOW,
    );
    const updates = plan.actions.filter((a) => a.type === 'update-resources');
    expect(updates).toEqual([
      expect.objectContaining({ rrId: 3, cloneAs: 'large_a1', jobIds: [1, 2], memory: '15g' }),
    ]);
    expect(plan.report.filter((l) => l.startsWith('Job '))).toEqual([
      'Job 1 (job1): OOM detected, increasing memory 8g -> 15g',
      'Job 2 (job2): OOM detected, increasing memory 8g -> 15g',
    ]);
  });

  it('gives failing jobs their own copy when the row is shared with jobs that keep it', () => {
    const plan = planRecovery(
      torc([torcJob(1, TORC_OOM), torcJob(2, TORC_TIMEOUT)], { 3: [1, 2, 3, 4] }),
      policy(),
      { attemptsUsed: 1 },
      NOW,
    );
    const updates = plan.actions.filter((a) => a.type === 'update-resources');
    expect(updates).toEqual([
      {
        type: 'update-resources',
        rrId: 3,
        rrName: 'large',
        cloneAs: 'large_a2',
        jobIds: [1],
        memory: '12g',
        runtime: 'PT1H',
      },
      {
        type: 'update-resources',
        rrId: 3,
        rrName: 'large',
        cloneAs: 'large_a2_2',
        jobIds: [2],
        memory: '8g',
        runtime: 'PT1H27M',
      },
    ]);
    const alloc = plan.actions.find((a) => a.type === 'submit-allocations');
    expect(
      alloc?.type === 'submit-allocations' && alloc.allocations.map((a) => [a.name, a.jobIds, a.mem]),
    ).toEqual([
      ['large_a2_a2', [1], '12G'],
      ['large_a2_2_a2', [2], '8G'],
    ]);
  });

  it('resets exactly the chosen jobs, not every failed one', () => {
    const plan = planRecovery(
      torc([torcJob(1, TORC_OOM), torcJob(2, TORC_EXIT1)], { 3: [1, 2] }),
      policy(),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan.actions.find((a) => a.type === 'reset-jobs')).toEqual({ type: 'reset-jobs', jobIds: [1] });
    expect(plan.decisions.find((d) => d.jobId === '2')).toMatchObject({ cause: 'unknown', retry: false });
  });

  it('runs the hook before the reset and includes unknown failures when a hook is set', () => {
    const plan = planRecovery(
      torc([torcJob(2, TORC_EXIT1)], { 3: [2] }),
      policy({ unknownFailureHook: 'notify' }),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan.actions.map((a) => a.type)).toEqual(['run-hook', 'reset-jobs', 'submit-allocations']);
    expect(plan.actions[0]).toEqual({ type: 'run-hook', hook: 'notify' });
    expect(plan.report).toContain('Running recovery hook "notify" for 1 unknown failure(s)');
  });

  it('ends with the Torc message when all failures are unknown', () => {
    const plan = planRecovery(
      torc([torcJob(1, TORC_EXIT1), torcJob(2, TORC_EXIT1)]),
      policy(),
      { attemptsUsed: 0 },
      NOW,
    );
    expect(plan.report.at(-2)).toBe('No recoverable jobs found. 2 job(s) failed with unknown causes.');
  });

  it('plans allocations for the reset jobs together with jobs already pending', () => {
    const state: RecoveryState = {
      ...torc([torcJob(1, TORC_OOM)], { 3: [1] }),
      pending: {
        jobs: [{ id: 9, rr: 'small', waits: true }],
        groups: [{ name: 'small', cpus: 1, memoryBytes: GiB, runtimeSeconds: 600, gpus: 0, nodes: 1 }],
      },
    };
    const plan = planRecovery(state, policy(), { attemptsUsed: 0 }, NOW);
    const alloc = plan.actions.at(-1);
    expect(
      alloc?.type === 'submit-allocations' && alloc.allocations.map((a) => [a.name, a.partition, a.deferred]),
    ).toEqual([
      ['large_a1', 'short', false],
      ['small_deferred_a1', 'short', true],
    ]);
    expect(plan.report).toContain('Submitting 2 allocation(s) in 2 group(s)');
  });
});
