import { describe, expect, it } from 'vitest';
import { diagnose } from '../../core/diagnose.ts';
import { planRecovery } from '../../core/planner.ts';
import { parsePolicy, policyFor } from '../../core/policy.ts';
import { parseProfile } from '../../core/profiles.ts';
import { type RecordedTorcJob, type TorcCompletion, torcRecoveryState } from '../../core/torc-state.ts';
import { GiB } from '../../core/units.ts';
import { onTorcWorkflowCompleted } from '../../service/torc-completion.ts';
import { onTorcJobFinished, torcCommands } from '../../service/torc-recovery.ts';
import { sentIds, testDeps } from '../support/deps.ts';

const LAB_INPUT = {
  name: 'lab',
  displayName: 'Lab',
  partitions: [{ name: 'long', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 'UNLIMITED' }],
};
const LAB = parseProfile(LAB_INPUT);
const SMALL = { id: 3, name: 'small', memory: '200m', runtime: 'PT1M', numCpus: 1, numGpus: 0, numNodes: 1 };
const QUICK = { id: 4, name: 'quick', memory: '200m', runtime: 'PT1M', numCpus: 1, numGpus: 0, numNodes: 1 };
const NOW = new Date('2026-11-25T12:00:00Z');

const recorded = (id: number, rr: typeof SMALL, evidence: RecordedTorcJob['evidence']): RecordedTorcJob => ({
  id,
  name: `job${id}`,
  evidence,
  diagnosis: diagnose(evidence),
  rr,
});
const oom = (id: number) =>
  recorded(id, SMALL, {
    torcStatus: 'failed',
    torcReturnCode: 137,
    peakMemoryBytes: 0.19 * GiB,
    memoryLimitBytes: 200 * 1024 ** 2,
  });
const slow = recorded(22, QUICK, {
  torcStatus: 'terminated',
  torcReturnCode: -15,
  elapsedSeconds: 148,
  timeLimitSeconds: 60,
});
const completion = (over: Partial<TorcCompletion> = {}): TorcCompletion => ({
  workflowId: 7,
  runId: 1,
  isCanceled: false,
  failedJobIds: [19, 20, 22],
  canceled: [{ id: 23, rrId: 3 }],
  rrSizes: { 3: 5, 4: 1 },
  liveAllocations: 0,
  resourceRequirements: [SMALL, QUICK],
  ...over,
});
const plan = (c: TorcCompletion, jobs: RecordedTorcJob[], over: object = {}) =>
  planRecovery(
    torcRecoveryState(c, jobs, LAB, 90),
    policyFor(parsePolicy(over), 'torc-wf7'),
    { attemptsUsed: 0 },
    NOW,
  );

describe('Torc workflow recovery', () => {
  it('copies a shared row for the failing jobs, updates a row in place when all its jobs fail, resets exactly them', () => {
    const p = plan(completion(), [oom(19), oom(20), slow]);
    expect(p.outcome).toBe('recover');
    expect(p.actions.filter((a) => a.type !== 'submit-allocations')).toEqual([
      {
        type: 'update-resources',
        rrId: 3,
        rrName: 'small',
        cloneAs: 'small_a1',
        jobIds: [19, 20],
        memory: '300m',
        runtime: 'PT1M',
      },
      { type: 'update-resources', rrId: 4, rrName: 'quick', jobIds: [22], memory: '200m', runtime: 'PT4M' },
      { type: 'reset-jobs', jobIds: [19, 20, 22] },
    ]);
    // The job cancelled behind them comes back blocked: its allocation waits (deferred) for auto-schedule.
    const submit = p.actions.find((a) => a.type === 'submit-allocations');
    expect(
      submit?.type === 'submit-allocations' && submit.allocations.map((a) => [a.name, a.deferred, a.jobIds]),
    ).toEqual([
      ['quick_a1', false, [22]],
      ['small_deferred_a1', true, [23]],
      ['small_a1_a1', false, [19, 20]],
    ]);
  });

  it('turns the plan into relay steps in order, with ids fixed by workflow and attempt; deferred groups wait', () => {
    const commands = torcCommands(plan(completion(), [oom(19), oom(20), slow]), 7);
    expect(commands.map((c) => `${c.id} ${c.type}`)).toEqual([
      'torc-wf7:a1:0-resources torc.update-resources',
      'torc-wf7:a1:1-resources torc.update-resources',
      'torc-wf7:a1:2-reset torc.reset-jobs',
      'torc-wf7:a1:3-allocations torc.submit-allocations',
    ]);
    const submit = commands[3]!;
    expect(submit.type === 'torc.submit-allocations' && submit.allocations.map((a) => a.name)).toEqual([
      'quick_a1',
      'small_a1_a1',
    ]);
  });

  it('stops with "needs attention" when every failure is unknown, and retries them when asked to', () => {
    const bug = recorded(30, SMALL, { torcStatus: 'failed', torcReturnCode: 3 });
    const c = completion({ failedJobIds: [30], canceled: [] });
    const stop = plan(c, [bug]);
    expect(stop).toMatchObject({ outcome: 'stop', stopReason: 'nothing-recoverable' });
    expect(stop.report).toContain('No recoverable jobs found. 1 job(s) failed with unknown causes.');
    expect(plan(c, [bug], { retryUnknown: true })).toMatchObject({ outcome: 'recover' });
  });

  it('runs an allow-listed hook before the reset when unknown failures are found', () => {
    const bug = recorded(30, SMALL, { torcStatus: 'failed', torcReturnCode: 3 });
    const p = plan(completion({ failedJobIds: [30], canceled: [] }), [bug], {
      unknownFailureHook: 'fix-inputs',
    });
    expect(torcCommands(p, 7).map((c) => c.type)).toEqual([
      'hook.run',
      'torc.reset-jobs',
      'torc.submit-allocations',
    ]);
  });
});

describe('Torc completion redelivered after its attempt was claimed', () => {
  it('re-sends the same first step and never claims a second attempt for one completion', async () => {
    const deps = testDeps({ profile: LAB_INPUT }, NOW.toISOString());
    const { store } = deps;
    const base = { version: 1 as const, source: 'relay:torc', occurredAt: NOW.toISOString(), cluster: 'lab' };
    await onTorcJobFinished(deps, {
      ...base,
      id: 'torc-job:7:19:1:1',
      type: 'torc.job.finished',
      data: {
        workflowId: 7,
        jobId: 19,
        jobName: 'big',
        status: 'failed',
        runId: 1,
        returnCode: 137,
        execTimeMinutes: 0.1,
        peakMemoryBytes: 190 * 1024 ** 2,
        attemptId: 1,
        resourceRequirements: SMALL,
      },
    });
    const completed = {
      ...base,
      id: 'torc-complete:7:1',
      type: 'torc.workflow.completed' as const,
      data: {
        ...completion({ failedJobIds: [19], canceled: [], rrSizes: { 3: 2 } }),
        page: { index: 1, count: 1 },
      },
    };
    await onTorcWorkflowCompleted(deps, completed);
    await onTorcWorkflowCompleted(deps, completed);
    expect((await store.listAttempts('torc-wf7')).map((a) => a.attempt)).toEqual([1]);
    // Sent again (the queue ignores the repeated id): one command, one attempt.
    expect(deps.commands.offered).toEqual(['torc-wf7:a1:0-resources', 'torc-wf7:a1:0-resources']);
    expect(sentIds(deps)).toEqual(['torc-wf7:a1:0-resources']);
  });
});
