import { describe, expect, it } from 'vitest';
import { type Event, EventSchema } from '../../core/events.ts';
import { runAutoSchedule } from '../../service/auto-schedule.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { planWorkload, workloadView } from '../../service/status.ts';
import { recheckWaitingRuns } from '../../service/torc-completion.ts';
import { sentIds, type TestDeps, testDeps } from '../support/deps.ts';
import { resultEvent } from '../support/events.ts';

// The Torc path through the service, on in-memory ports: job results → completion → steps, each sent only
// when the previous one succeeded; a failed step stops with the reason; censuses → auto-schedule; orphans.

const envelope = {
  version: 1 as const,
  occurredAt: '2026-11-25T12:00:00Z',
  cluster: 'lab',
  source: 'relay:torc',
};
const SMALL = { id: 3, name: 'small', memory: '200m', runtime: 'PT10M', numCpus: 1, numGpus: 0, numNodes: 1 };

const finished = (jobId: number, returnCode: number, runId = 1): Event => ({
  ...envelope,
  id: `torc-job:7:${jobId}:${runId}`,
  type: 'torc.job.finished',
  data: {
    workflowId: 7,
    jobId,
    jobName: `job${jobId}`,
    status: returnCode === 0 ? 'completed' : 'failed',
    runId,
    returnCode,
    execTimeMinutes: 0.5,
    peakMemoryBytes: 199 * 1024 ** 2,
    attemptId: 1,
    resourceRequirements: SMALL,
  },
});

const completed = (failedJobIds: number[], runId = 1, liveAllocations = 0): Event => ({
  ...envelope,
  id: `torc-complete:7:${runId}`,
  type: 'torc.workflow.completed',
  data: {
    workflowId: 7,
    runId,
    isCanceled: false,
    page: { index: 1, count: 1 },
    failedJobIds,
    canceled: [],
    rrSizes: { 3: 2 },
    liveAllocations,
    resourceRequirements: [SMALL],
  },
});

const result = resultEvent;

const last = (deps: TestDeps) => deps.commands.sent().at(-1)!;
const status = async (deps: TestDeps) => (await deps.store.getWorkload('torc-wf7'))?.status;
const lines = async (deps: TestDeps) => (await deps.store.listHistory('torc-wf7')).map((h) => h.line);

async function failedRun(deps: TestDeps) {
  await handleEvent(deps, finished(1, 137));
  await handleEvent(deps, finished(2, 0));
  await handleEvent(deps, completed([1]));
}

describe('Torc recovery in the service', () => {
  it('runs the steps in order, each only after the previous one succeeded', async () => {
    const deps = testDeps();
    await failedRun(deps);
    expect(await status(deps)).toBe('recovering');
    expect(sentIds(deps)).toEqual(['torc-wf7:a1:0-resources']);
    await handleEvent(deps, result(last(deps)));
    expect(sentIds(deps)).toEqual(['torc-wf7:a1:0-resources', 'torc-wf7:a1:1-reset']);
    await handleEvent(deps, result(last(deps)));
    expect(last(deps)).toMatchObject({ id: 'torc-wf7:a1:2-allocations', type: 'torc.submit-allocations' });
    await handleEvent(deps, result(last(deps), { slurmJobIds: ['501'] }));
    expect(deps.commands.sent()).toHaveLength(3);
    expect(await lines(deps)).toContain('  1 allocation(s) submitted: 501');
  });

  it('a failed step stops recovery: needs attention, the reason and output in history, nothing more sent', async () => {
    const deps = testDeps();
    await failedRun(deps);
    await handleEvent(
      deps,
      result(last(deps), {
        ok: false,
        error: 'unsupported command torc.update-resources (protocol 2; relay 0.1.0, protocol 1)',
        output: 'details',
      }),
    );
    expect(await status(deps)).toBe('needs-attention');
    expect(await lines(deps)).toEqual(
      expect.arrayContaining([
        'Attempt 1: recovery stopped at updating resource requirements: unsupported command torc.update-resources (protocol 2; relay 0.1.0, protocol 1)',
        '  output: details',
      ]),
    );
    expect(deps.commands.sent()).toHaveLength(1);
  });

  it('a completion whose results are not recorded yet waits, and is decided on the whole evidence once they come', async () => {
    const deps = testDeps();
    await handleEvent(deps, completed([1]));
    expect(deps.commands.sent()).toEqual([]);
    expect((await deps.store.getWorkload('torc-wf7'))?.waiting).toMatchObject({ runId: 1, live: 0 });
    await handleEvent(deps, finished(1, 137));
    await recheckWaitingRuns(deps);
    expect(sentIds(deps)).toEqual(['torc-wf7:a1:0-resources']);
    expect((await deps.store.getWorkload('torc-wf7'))?.waiting).toBeUndefined();
  });

  it('a run with nothing failed is healthy; the status view and plan show the workflow', async () => {
    const deps = testDeps();
    await handleEvent(deps, finished(1, 0));
    await handleEvent(deps, completed([]));
    expect(await status(deps)).toBe('healthy');
    expect(await planWorkload(deps, 'torc-wf7')).toMatchObject([
      { outcome: 'stop', stopReason: 'nothing-failed' },
    ]);
    expect(await workloadView(deps, 'torc-wf7')).toMatchObject({ kind: 'torc', counts: { success: 1 } });
  });

  it('an allocation that ended is cleaned up once, whichever source saw it', async () => {
    const deps = testDeps();
    await handleEvent(deps, {
      ...envelope,
      id: 'allocation-ended:7:501',
      type: 'slurm.allocation.ended',
      data: { workflowId: 7, slurmJobId: '501', state: 'not in squeue' },
    });
    await handleEvent(deps, {
      ...envelope,
      id: 'sacct:lab:501',
      source: 'relay:sacct',
      type: 'slurm.sacct',
      data: {
        jobId: '501',
        jobName: 'worker_1',
        state: 'CANCELLED',
        exitCode: '0:15',
        comment: 'rebound:torc-wf7/torc-wf7:a1:2-allocations:small:0',
      },
    });
    expect(sentIds(deps)).toEqual(['torc-wf7:cleanup:501']);
    await handleEvent(deps, result(last(deps), { output: 'marked failed (orphaned): job(s) 1' }));
    expect(await lines(deps)).toContain('torc-wf7:cleanup:501: marked failed (orphaned): job(s) 1');
  });
});

const census = (observedAt: string, ready: number[], live = 0): Event => ({
  ...envelope,
  id: `torc-census:7:${Date.parse(observedAt)}`,
  type: 'torc.workflow.census',
  data: {
    workflowId: 7,
    observedAt,
    liveAllocations: live,
    pendingFailed: 0,
    active: 0,
    ready: ready.map((id) => ({ id, rrId: 3, attemptId: 1 })),
    resourceRequirements: [SMALL],
  },
});

describe('auto-schedule in the service', () => {
  it("records whose workflow it is from the census (the relay's watch list), for who may read it", async () => {
    const deps = testDeps();
    const event = census('2026-11-25T12:00:00Z', [1]);
    if (event.type !== 'torc.workflow.census') throw new Error('a census');
    await handleEvent(deps, { ...event, data: { ...event.data, owner: 'alice' } });
    expect((await deps.store.getWorkload('torc-wf7'))?.owner).toBe('alice');
  });

  it('a failed or refused schedule makes the workflow need attention, with the reason in history', async () => {
    const deps = testDeps();
    await handleEvent(deps, census('2026-11-25T12:00:00Z', [1]));
    await runAutoSchedule(deps);
    const reason =
      "Torc workflow 7's allocations are not submitted: owned by svc (uid 999): below the site's minimum uid 1000";
    await handleEvent(deps, result(last(deps), { ok: false, error: reason }));
    expect((await deps.store.getWorkload('torc-wf7'))?.status).toBe('needs-attention');
    expect((await lines(deps)).join('\n')).toContain(reason);
  });

  it('a stall (nothing fits a partition) needs attention, said once however often the tick runs', async () => {
    const deps = testDeps();
    const event = census('2026-11-25T12:00:00Z', [1]);
    if (event.type !== 'torc.workflow.census') throw new Error('a census');
    const huge = { ...SMALL, memory: '900g' };
    await handleEvent(deps, { ...event, data: { ...event.data, resourceRequirements: [huge] } });
    expect(await runAutoSchedule(deps)).toEqual([]);
    expect(await runAutoSchedule(deps)).toEqual([]);
    expect((await deps.store.getWorkload('torc-wf7'))?.status).toBe('needs-attention');
    expect(
      (await lines(deps)).filter((l) => l.startsWith('Auto-schedule cannot go on: nothing fits a partition')),
    ).toHaveLength(1);
    expect(deps.commands.sent()).toEqual([]);
  });

  it('a row with 0 CPUs (Torc accepts it) is taken, and planned as 1 CPU on 1 node', async () => {
    const deps = testDeps();
    const event = census('2026-11-25T12:00:00Z', [1]);
    if (event.type !== 'torc.workflow.census') throw new Error('a census');
    const odd = {
      ...event,
      data: { ...event.data, resourceRequirements: [{ ...SMALL, numCpus: 0, numNodes: 0 }] },
    };
    expect(EventSchema.safeParse(odd).success).toBe(true);
    await handleEvent(deps, odd);
    expect(await runAutoSchedule(deps)).toEqual(['torc-wf7:sched:s1']);
    expect(last(deps)).toMatchObject({ allocations: [{ cpusPerTask: 1, nodes: 1 }] });
  });

  it('schedules ready jobs nobody runs, once per census, and decides again after the result', async () => {
    const deps = testDeps();
    await handleEvent(deps, census('2026-11-25T12:00:00Z', [1, 2]));
    const [id] = await runAutoSchedule(deps);
    expect(id).toBe('torc-wf7:sched:s1');
    expect(await runAutoSchedule(deps)).toEqual([]);
    expect(last(deps)).toMatchObject({ type: 'torc.submit-allocations', workflowId: 7 });
    await handleEvent(deps, result(last(deps), { slurmJobIds: ['600'], output: 'submitted 600' }));
    const w = await deps.store.getWorkload('torc-wf7');
    expect(w?.autoSchedule).toMatchObject({
      count: 1,
      inFlight: undefined,
      lastScheduledAt: expect.any(String),
    });
    expect(await lines(deps)).toContain('torc-wf7:sched:s1: submitted 600');
    // The same census again decides nothing; an older one is ignored.
    await handleEvent(deps, census('2026-11-25T11:59:00Z', [1, 2]));
    expect(await runAutoSchedule(deps)).toEqual([]);
  });
});

describe('a completion while allocations are live', () => {
  it('waits (said once), needs attention after allocationWaitSeconds (told once), and recovers once none is left', async () => {
    const deps = testDeps({ torc: { allocationWaitSeconds: 600 } });
    await handleEvent(deps, finished(1, 137));
    await handleEvent(deps, completed([1], 1, 2));
    await handleEvent(deps, { ...completed([1], 1, 2), id: 'redelivered' });
    expect(deps.commands.sent()).toEqual([]);
    const waitLines = (await lines(deps)).filter((l) => l.includes('still pending or running'));
    expect(waitLines).toEqual([
      'Workflow 7 run 1 complete, but 2 allocation(s) are still pending or running: recovery waits until they end (at most 600 s before a person is asked)',
    ]);
    // A newer census still counts one live: the tick waits.
    deps.advance(60);
    await handleEvent(deps, census(deps.now().toISOString(), [], 1));
    await recheckWaitingRuns(deps);
    expect(deps.commands.sent()).toEqual([]);
    expect(await status(deps)).toBe('watching');
    // Past the bound: a person is asked, once, however often the tick runs.
    deps.advance(600);
    await recheckWaitingRuns(deps);
    await recheckWaitingRuns(deps);
    expect(await status(deps)).toBe('needs-attention');
    expect((await deps.store.getWorkload('torc-wf7'))?.notices).toHaveLength(1);
    expect((await lines(deps)).filter((l) => l.includes('has waited'))).toEqual([
      'Run 1 has waited 660 s for 1 allocation(s) that are still pending or running: recovery has not started. Cancel them (scancel) if they will not run, or let them end; recovery starts when none is left.',
    ]);
    // The allocation ends: the next census says so, and the tick recovers the run, once.
    deps.advance(30);
    await handleEvent(deps, census(deps.now().toISOString(), [], 0));
    await recheckWaitingRuns(deps);
    await recheckWaitingRuns(deps);
    expect(sentIds(deps)).toEqual(['torc-wf7:a1:0-resources']);
    expect(await status(deps)).toBe('recovering');
    expect((await deps.store.getWorkload('torc-wf7'))?.waiting).toBeUndefined();
  });
});
