import { randomBytes } from 'node:crypto';
import type { Event, EventOf } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import type { Sender, WorkloadRecord } from '../core/ports.ts';
import type { ReadDeps } from './deps.ts';

/** What the API needs to queue a person's request: reading, and the events queue. */
export type RequestDeps = ReadDeps & { events: Sender<Event> };

/** A request's own random id: a retried POST is a new request; its history lines and answer carry it. */
export const newRequestId = () => randomBytes(9).toString('base64url');

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
