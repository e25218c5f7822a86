import { batches } from '../core/batches.ts';
import type { Event, EventOf } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import type {
  TorcJob,
  TorcResourceRequirements,
  TorcResult,
  TorcScheduledComputeNode,
} from '../core/torc-model.ts';

// The events the Torc forwarder posts, built from Torc's own records (relay/torc-forwarder.ts decides
// when). Pure: the same records give the same events and ids.

export function jobFinishedEvent(
  cluster: string,
  r: TorcResult,
  job: TorcJob,
  rr: TorcResourceRequirements | undefined,
  now: string,
): Event {
  return {
    id: eventIds.torcJob(r.workflow_id, resultKey(r)),
    version: 1,
    source: 'relay:torc',
    occurredAt: now,
    cluster: cluster,
    type: 'torc.job.finished',
    data: {
      workflowId: r.workflow_id,
      jobId: r.job_id,
      jobName: job.name,
      status: r.status as 'completed',
      runId: r.run_id,
      returnCode: r.return_code,
      execTimeMinutes: Math.max(0, r.exec_time_minutes),
      ...(r.peak_memory_bytes !== undefined ? { peakMemoryBytes: r.peak_memory_bytes } : {}),
      attemptId: r.attempt_id ?? 1,
      ...(rr ? { resourceRequirements: rrEvent(rr) } : {}),
    },
  };
}

/**
 * The most a completion page's data may hold, in bytes of JSON: with its envelope it stays well inside a
 * 256 KB queue message and the webhook's 256 KB body, whatever the workflow's size.
 */
const COMPLETION_PAGE_BYTES = 200_000;

/**
 * A run's completion as events: one for most workflows, several pages for a large one. Every page carries
 * the rows' sizes; the failed and cancelled jobs are dealt out in order, each page with the rows its
 * cancelled jobs use (a failed job's row comes with its own result).
 */
export function completionPages(
  cluster: string,
  workflowId: number,
  runId: number,
  isCanceled: boolean,
  jobs: TorcJob[],
  rrs: TorcResourceRequirements[],
  liveAllocations: number,
  now: string,
  pageBytes = COMPLETION_PAGE_BYTES,
): Event[] {
  const rrSizes: Record<string, number> = {};
  for (const j of jobs)
    if (j.resource_requirements_id !== undefined) {
      const key = String(j.resource_requirements_id);
      rrSizes[key] = (rrSizes[key] ?? 0) + 1;
    }
  const rows = new Map(rrs.filter((r) => r.id !== undefined).map((r) => [r.id!, rrEvent(r)]));
  type Page = { failedJobIds: number[]; canceled: { id: number; rrId: number }[]; rows: Set<number> };
  const fresh = (): Page => ({ failedJobIds: [], canceled: [], rows: new Set() });
  const pages: Page[] = [fresh()];
  const overhead = JSON.stringify(rrSizes).length + 400;
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value)) + 1;
  let used = overhead;
  const add = (bytes: number, put: (p: Page) => void) => {
    if (used + bytes > pageBytes && used > overhead) {
      pages.push(fresh());
      used = overhead;
    }
    used += bytes;
    put(pages.at(-1)!);
  };
  for (const j of jobs)
    if (j.status === 'failed' || j.status === 'terminated')
      add(String(j.id).length + 1, (p) => p.failedJobIds.push(j.id));
  for (const j of jobs) {
    const rrId = j.resource_requirements_id;
    if (j.status !== 'canceled' || rrId === undefined || !rows.has(rrId)) continue;
    const item = { id: j.id, rrId };
    const rowBytes = pages.at(-1)!.rows.has(rrId) ? 0 : bytes(rows.get(rrId));
    add(bytes(item) + rowBytes, (p) => {
      p.canceled.push(item);
      p.rows.add(rrId);
    });
  }
  return pages.map((p, i) => ({
    id: eventIds.torcCompletedPage(workflowId, runId, i + 1, pages.length),
    version: 1 as const,
    source: 'relay:torc',
    occurredAt: now,
    cluster,
    type: 'torc.workflow.completed' as const,
    data: {
      workflowId,
      runId,
      isCanceled,
      page: { index: i + 1, count: pages.length },
      failedJobIds: p.failedJobIds,
      canceled: p.canceled,
      rrSizes,
      resourceRequirements: [...p.rows].map((id) => rows.get(id)!),
      liveAllocations,
    },
  }));
}

/**
 * The ready jobs a census names: the workflow record keeps the census and a first-seen time per named job,
 * and must fit a DynamoDB item (400 KB) whatever the workflow's size. Auto-schedule plans for these; the
 * rest are counted (readyTotal) and named in a later census.
 */
const CENSUS_READY = 2000;

export type CensusEvent = EventOf<'torc.workflow.census'>;

export function censusEvent(
  cluster: string,
  workflowId: number,
  jobs: TorcJob[],
  rrs: TorcResourceRequirements[],
  live: number,
  now: string,
  owner?: string,
): CensusEvent {
  const allReady = jobs.filter((j) => j.status === 'ready' && j.resource_requirements_id !== undefined);
  const ready = allReady.sort((a, b) => a.id - b.id).slice(0, CENSUS_READY);
  const used = new Set(ready.map((j) => j.resource_requirements_id));
  return {
    id: eventIds.torcCensus(workflowId, Date.parse(now)),
    version: 1,
    source: 'relay:torc',
    occurredAt: now,
    cluster: cluster,
    type: 'torc.workflow.census',
    data: {
      workflowId,
      ...(owner ? { owner } : {}),
      observedAt: now,
      liveAllocations: live,
      readyTotal: allReady.length,
      pendingFailed: jobs.filter((j) => j.status === 'pending_failed').length,
      active: jobs.filter((j) => j.status === 'pending' || j.status === 'running').length,
      ready: ready.map((j) => ({
        id: j.id,
        rrId: j.resource_requirements_id!,
        attemptId: j.attempt_id ?? 1,
      })),
      resourceRequirements: rrs.filter((r) => used.has(r.id)).map(rrEvent),
    },
  };
}

/** An allocation Torc counts as live that squeue no longer has: ended (the backstop for orphan clean-up). */
export const allocationEndedEvent = (
  cluster: string,
  workflowId: number,
  scn: TorcScheduledComputeNode,
  now: string,
): Event => ({
  id: eventIds.allocationEnded(workflowId, String(scn.scheduler_id)),
  version: 1,
  source: 'relay:torc',
  occurredAt: now,
  cluster,
  type: 'slurm.allocation.ended',
  data: {
    workflowId,
    slurmJobId: String(scn.scheduler_id),
    scheduledComputeNodeId: scn.id!,
    state: 'not in squeue',
  },
});

/** The same census, observed again at `now` (the forwarder knows nothing changed since). */
export const recensus = (census: CensusEvent, now: string): CensusEvent => ({
  ...census,
  id: eventIds.torcCensus(census.data.workflowId, Date.parse(now)),
  occurredAt: now,
  data: { ...census.data, observedAt: now },
});

/** A result's identity: a job's run and attempt (Torc keeps one current result per job). */
export const resultKey = (r: TorcResult) => `${r.job_id}:${r.run_id}:${r.attempt_id ?? 1}`;

function rrEvent(rr: TorcResourceRequirements) {
  return {
    id: rr.id!,
    name: rr.name,
    memory: rr.memory,
    runtime: rr.runtime,
    numCpus: rr.num_cpus,
    numGpus: rr.num_gpus,
    numNodes: rr.num_nodes,
  };
}

/** What one POST may carry: the webhook takes 100 events and 256 KB of body. */
const REQUEST_EVENTS = 100;
const REQUEST_BYTES = 240_000;

/** Events in order, cut into requests the webhook accepts. */
export const requestBatches = (events: Event[]) =>
  batches(events, (e) => Buffer.byteLength(JSON.stringify(e)) + 1, REQUEST_EVENTS, REQUEST_BYTES);
