import * as z from 'zod';
import { type Event, EventSchema, SERVICE_ONLY_EVENTS } from '../core/events.ts';
import type { Sender } from '../core/ports.ts';
import { describeIssues } from '../core/zod-errors.ts';

const MAX_BATCH = 100;
const BatchSchema = z.union([EventSchema, z.array(EventSchema).min(1).max(MAX_BATCH)]);

export type IngestResult = { ok: true; accepted: number } | { ok: false; errors: string[] };

/** Validates one event or a batch and enqueues all of it durably, or nothing: no half-stored batch. */
export async function ingest(queue: Sender<Event>, body: string): Promise<IngestResult> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, errors: ['body: not valid JSON'] };
  }
  const parsed = BatchSchema.safeParse(json);
  if (!parsed.success) {
    if (Array.isArray(json)) {
      if (json.length === 0 || json.length > MAX_BATCH)
        return { ok: false, errors: [`events: a batch holds 1 to ${MAX_BATCH} events`] };
      const errors = json.flatMap((item, i) => {
        const r = EventSchema.safeParse(item);
        return r.success ? [] : describeIssues(r.error, `events[${i}]`);
      });
      return { ok: false, errors };
    }
    return { ok: false, errors: describeIssues(parsed.error, 'event') };
  }
  const events: Event[] = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  const refused = events.flatMap((e, i) =>
    SERVICE_ONLY_EVENTS.has(e.type)
      ? [
          `${Array.isArray(parsed.data) ? `events[${i}]` : 'event'}.type: "${e.type}" is made by the service from a person's token, never accepted here`,
        ]
      : [],
  );
  if (refused.length) return { ok: false, errors: refused };
  await queue.send(events.map((e) => ({ id: e.id, body: e })));
  return { ok: true, accepted: events.length };
}
