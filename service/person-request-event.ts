import { randomBytes } from 'node:crypto';
import type { Event, EventOf } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import type { ManualMark } from '../core/manual.ts';
import type { JobRecord, Sender, WorkloadRecord } from '../core/ports.ts';
import type { ReadDeps } from './deps.ts';

/** What the API needs to queue a person's request: reading, and the events queue. */
export type RequestDeps = ReadDeps & { events: Sender<Event> };

/** A request's own random id: a retried POST is a new request; its history lines and answer carry it. */
export const newRequestId = () => randomBytes(9).toString('base64url');

/** Who asked and how, as history says it ("by alice via MCP"). */
export const byWhom = (m: ManualMark) => `by ${m.by} via ${m.via === 'mcp' ? 'MCP' : 'the CLI'}`;

/** Puts a person's request on the events queue, for the worker (service/person-requests.ts). */
export async function queueRequest(
  deps: RequestDeps,
  w: WorkloadRecord,
  data: EventOf<'person.request'>['data'],
): Promise<void> {
  const event: EventOf<'person.request'> = {
    id: eventIds.personRequest(data.mark.requestId),
    version: 1,
    source: 'service:api',
    occurredAt: deps.now().toISOString(),
    // A Torc workflow's events are ordered by its cluster (service/dispatch.ts): this one goes with them.
    cluster: w.cluster ?? 'service',
    type: 'person.request',
    data,
  };
  await deps.events.send([{ id: event.id, body: event }]);
}

/** A request about one job: queued, with its id, or refused because the workload has no such job. */
export type JobRequestAnswer =
  | { outcome: 'sent'; requestId: string }
  | { outcome: 'unknown-job'; error: string };

/**
 * Queues a request about one of the workload's jobs — the record found, whose key the event carries so the
 * worker reads that one record — or says why not (`refusal`) when none was found.
 */
export async function queueAboutJob(
  deps: RequestDeps,
  w: WorkloadRecord,
  who: Omit<ManualMark, 'requestId'>,
  job: JobRecord | undefined,
  refusal: string,
  data: (mark: ManualMark, jobKey: string) => EventOf<'person.request'>['data'],
): Promise<JobRequestAnswer> {
  if (!job) return { outcome: 'unknown-job', error: refusal };
  const mark = { ...who, requestId: newRequestId() };
  await queueRequest(deps, w, data(mark, job.key));
  return { outcome: 'sent', requestId: mark.requestId };
}

/** The job a request names, read by its key, only if its record says it is the workload's. */
export async function jobOfRequest(deps: Pick<ReadDeps, 'store'>, w: WorkloadRecord, jobKey: string) {
  const job = await deps.store.getJob(jobKey);
  return job?.workload === w.key ? job : undefined;
}
