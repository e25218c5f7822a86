import { describe, expect, it } from 'vitest';
import { type Event, type EventOf, EventSchema } from '../../core/events.ts';
import { REPORT_JOBS } from '../../core/plan-report.ts';
import type { TorcJob, TorcResourceRequirements } from '../../core/torc-model.ts';
import { assembleCompletion, JOB_PROBLEMS } from '../../core/torc-state.ts';
import { censusEvent, completionPages, requestBatches } from '../../relay/torc-events.ts';
import { handleEvent, handleEvents } from '../../service/dispatch.ts';
import { recheckWaitingRuns } from '../../service/torc-completion.ts';
import { testDeps } from '../support/deps.ts';

// Large workflows and the records that would block one: a completion paged to fit a queue message and
// put back together in any order, results that never come, jobs without a row, and reports that stay
// readable at 10,000 failures.

const NOW = '2026-11-25T12:00:00Z';
const WF = 7;
const rows: TorcResourceRequirements[] = [1, 2, 3].map((id) => ({
  id,
  workflow_id: WF,
  name: `row${id}`,
  num_cpus: 1,
  num_gpus: 0,
  num_nodes: 1,
  memory: '1g',
  runtime: 'PT10M',
}));
/** n jobs over three rows: every 10th failed, every 10th (offset 5) cancelled behind it. */
const jobs = (n: number): TorcJob[] =>
  Array.from({ length: n }, (_, i) => ({
    id: 1000 + i,
    workflow_id: WF,
    name: `job${i}`,
    command: 'true',
    resource_requirements_id: (i % 3) + 1,
    status: i % 10 === 0 ? 'failed' : i % 10 === 5 ? 'canceled' : 'completed',
  }));
type Page = EventOf<'torc.workflow.completed'>;
const pagesOf = (n: number, bytes?: number) =>
  completionPages('lab', WF, 1, false, jobs(n), rows, 0, NOW, bytes) as Page[];

const finished = (jobId: number, over: Partial<EventOf<'torc.job.finished'>['data']> = {}): Event => ({
  id: `torc-job:${WF}:${jobId}:1`,
  version: 1,
  source: 'relay:torc',
  occurredAt: NOW,
  cluster: 'lab',
  type: 'torc.job.finished',
  data: {
    workflowId: WF,
    jobId,
    jobName: `job${jobId}`,
    status: 'failed',
    runId: 1,
    returnCode: 137,
    execTimeMinutes: 1,
    peakMemoryBytes: 1024 ** 3,
    attemptId: 1,
    resourceRequirements: {
      id: 1,
      name: 'row1',
      memory: '1g',
      runtime: 'PT10M',
      numCpus: 1,
      numGpus: 0,
      numNodes: 1,
    },
    ...over,
  },
});

describe('a paged completion', () => {
  it('keeps every page under its byte budget and puts the whole back together, in any order', () => {
    const pages = pagesOf(100_000);
    expect(pages.length).toBeGreaterThan(1);
    for (const p of pages) {
      expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThan(210_000);
      expect(EventSchema.safeParse(p).success).toBe(true);
      expect(p.data.page.count).toBe(pages.length);
    }
    expect(new Set(pages.map((p) => p.id)).size).toBe(pages.length);
    const whole = assembleCompletion([...pages].reverse().map((p) => p.data))!;
    expect(whole.failedJobIds).toHaveLength(10_000);
    expect(whole.failedJobIds).toEqual(
      jobs(100_000)
        .filter((j) => j.status === 'failed')
        .map((j) => j.id),
    );
    expect(whole.canceled).toHaveLength(10_000);
    expect(whole.rrSizes).toEqual({ 1: 33_334, 2: 33_333, 3: 33_333 });
    expect(whole.resourceRequirements.map((r) => r.id).sort()).toEqual([1, 2, 3]);
  });

  it('is one page, with the run id as its id, for a workflow that fits', () => {
    const [only, ...rest] = pagesOf(20);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ id: `torc-complete:${WF}:1`, data: { page: { index: 1, count: 1 } } });
  });

  it('is undefined until every page is there; a repeated page counts once; pages of two runs are an error', () => {
    const pages = pagesOf(2_000, 2_000).map((p) => p.data);
    expect(pages.length).toBeGreaterThan(2);
    expect(assembleCompletion(pages.slice(1))).toBeUndefined();
    expect(assembleCompletion([...pages.slice(1), pages[1]!])).toBeUndefined();
    expect(assembleCompletion([pages[0]!, ...pages, pages[0]!])?.failedJobIds).toHaveLength(200);
    expect(() => assembleCompletion([pages[0]!, { ...pages[1]!, runId: 2 }])).toThrow(/disagree/);
  });

  it('is posted in requests within the webhook limits, in order', () => {
    const events = [...Array.from({ length: 250 }, (_, i) => finished(i + 1)), ...pagesOf(100_000)];
    const batches = requestBatches(events);
    expect(batches.flat()).toEqual(events);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(100);
      expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThan(256 * 1024);
    }
  });
});

describe('a census of a large workflow', () => {
  it('names the 2,000 lowest ready jobs and counts them all, small enough for a queue message and a record', () => {
    const ready = jobs(20_000).map((j) => ({ ...j, status: 'ready' as const }));
    const census = censusEvent('lab', WF, ready.reverse(), rows, 0, NOW) as EventOf<'torc.workflow.census'>;
    expect(census.data.readyTotal).toBe(20_000);
    expect(census.data.ready.map((j) => j.id)).toEqual(jobs(2_000).map((j) => j.id));
    expect(Buffer.byteLength(JSON.stringify(census))).toBeLessThan(100_000);
    expect(EventSchema.safeParse(census).success).toBe(true);
  });
});

describe('the service with a paged completion', () => {
  it('plans once, when the last page arrives, whatever the order and however often a page comes', async () => {
    const deps = testDeps();
    const pages = pagesOf(1_000, 400);
    expect(pages.length).toBeGreaterThan(2);
    const failed = pages.flatMap((p) => p.data.failedJobIds);
    await handleEvents(
      deps,
      failed.map((id) => finished(id)),
    );
    const [first, ...others] = pages;
    for (const p of others) await handleEvent(deps, p);
    await handleEvent(deps, others[0]!);
    expect(deps.commands.sent()).toEqual([]);
    await handleEvent(deps, first!);
    await handleEvent(deps, { ...first!, id: `${first!.id}-redelivered` });
    expect((await deps.store.listAttempts('torc-wf7')).map((a) => a.attempt)).toEqual([1]);
    const reset = (await deps.store.listAttempts('torc-wf7'))[0]!.plan.actions.find(
      (a) => a.type === 'reset-jobs',
    );
    expect(reset).toMatchObject({ jobIds: failed });
    // The report names 50 jobs and counts the rest.
    const history = (await deps.store.listHistory('torc-wf7')).map((h) => h.line);
    expect(history.filter((l) => l.startsWith('Job '))).toHaveLength(REPORT_JOBS);
    expect(history).toContain(
      `… and ${failed.length - REPORT_JOBS} more job(s) (\`rebound plan --json\` lists each):`,
    );
  });

  it('waits while results may still come, then recovers the others and says which job needs attention', async () => {
    const deps = testDeps();
    const [page] = pagesOf(20);
    const [missing, ...recorded] = page!.data.failedJobIds;
    await handleEvents(
      deps,
      recorded.map((id) => finished(id)),
    );
    await handleEvent(deps, page!);
    expect(await deps.store.listAttempts('torc-wf7')).toEqual([]);
    expect((await deps.store.listHistory('torc-wf7')).map((h) => h.line)).toContain(
      `Workflow ${WF} run 1 complete, but the results of 1 failed job(s) have not arrived yet: recovery waits for them (until none has come for 120 s)`,
    );
    // The tick re-checks: still within the wait, nothing; past it, the others are recovered.
    deps.advance(60);
    await recheckWaitingRuns(deps);
    expect(await deps.store.listAttempts('torc-wf7')).toEqual([]);
    deps.advance(60);
    await recheckWaitingRuns(deps);
    await recheckWaitingRuns(deps);
    const [attempt] = await deps.store.listAttempts('torc-wf7');
    expect(attempt?.plan.actions.find((a) => a.type === 'reset-jobs')).toMatchObject({ jobIds: recorded });
    const history = (await deps.store.listHistory('torc-wf7')).map((h) => h.line);
    expect(history).toContain(
      `Job ${missing} (job ${missing}): Unknown failure (no result received); not retried: ${JOB_PROBLEMS['no-result']}; needs attention`,
    );
  });

  it('a failed job without a resource-requirements row needs attention alone; with nothing else, the workflow does', async () => {
    const deps = testDeps();
    const [page] = pagesOf(20);
    const [rowless, other] = page!.data.failedJobIds;
    const { resourceRequirements: _, ...noRow } = (finished(rowless!) as EventOf<'torc.job.finished'>).data;
    await handleEvent(deps, { ...finished(rowless!), data: noRow } as Event);
    await handleEvent(deps, finished(other!));
    await handleEvent(deps, { ...page!, data: { ...page!.data, failedJobIds: [rowless!] } });
    expect(await deps.store.getWorkload('torc-wf7')).toMatchObject({ status: 'needs-attention' });
    const history = (await deps.store.listHistory('torc-wf7')).map((h) => h.line);
    expect(history.some((l) => l.includes(JOB_PROBLEMS['no-row']))).toBe(true);
    expect(history.at(-1)).toMatch(/Rebound lacks what a retry needs/);
  });
});
