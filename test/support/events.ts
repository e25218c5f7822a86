import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EventOf, EventSchema, type EventType } from '../../core/events.ts';

const ROOT = join(import.meta.dirname, '..', 'events');

/** A stored real payload (test/events/<source>/<variant>.json), validated as the service would. */
export function loadEvent<T extends EventType>(path: string, type: T): EventOf<T> {
  const event = EventSchema.parse(JSON.parse(readFileSync(join(ROOT, `${path}.json`), 'utf8')));
  if (event.type !== type) throw new Error(`${path} is a ${event.type}, not a ${type}`);
  return event as EventOf<T>;
}
