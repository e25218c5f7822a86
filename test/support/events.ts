import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandType } from '../../core/commands.ts';
import { type Event, type EventOf, EventSchema, type EventType } from '../../core/events.ts';

const ROOT = join(import.meta.dirname, '..', 'events');

/** A stored real payload (test/events/<source>/<variant>.json), validated as the service would. */
export function loadEvent<T extends EventType>(path: string, type: T): EventOf<T> {
  const event = EventSchema.parse(JSON.parse(readFileSync(join(ROOT, `${path}.json`), 'utf8')));
  if (event.type !== type) throw new Error(`${path} is a ${event.type}, not a ${type}`);
  return event as EventOf<T>;
}

const envelope = { version: 1 as const, occurredAt: '2026-11-25T12:00:00Z', cluster: 'lab' };

/** Any valid event with this id (a failed job's end): for tests about delivery, not about decisions. */
export const someEvent = (id: string): Event => ({
  ...envelope,
  id,
  source: 'test',
  type: 'slurm.jobcomp',
  data: { jobId: '1', state: 'FAILED', exitCode: '1:0' },
});

/** The relay's sacct event for a plain job on the `lab` cluster: an OOM of a tagged job unless told. */
export function sacctEvent(
  jobId: string,
  data: Partial<EventOf<'slurm.sacct'>['data']> = {},
): EventOf<'slurm.sacct'> {
  return {
    ...envelope,
    id: `sacct:lab:${jobId}`,
    source: 'relay:sacct',
    type: 'slurm.sacct',
    data: {
      jobId,
      jobName: 'hog',
      state: 'OUT_OF_MEMORY',
      exitCode: '0:125',
      maxRss: '250M',
      reqMem: '200M',
      elapsed: '00:00:03',
      timeLimit: '00:10:00',
      comment: 'rebound:nightly',
      partition: 'long',
      ...data,
    },
  };
}

/** The relay's result for a command (echoing its type and workload): a success unless told. */
export function resultEvent(
  c: { id: string; type: CommandType; workload: string },
  data: Partial<EventOf<'relay.command.result'>['data']> = {},
): EventOf<'relay.command.result'> {
  return {
    ...envelope,
    id: `result:${c.id}`,
    source: 'relay:executor',
    type: 'relay.command.result',
    data: {
      commandId: c.id,
      commandType: c.type,
      workload: c.workload,
      ok: true,
      slurmJobIds: [],
      alreadyDone: false,
      output: '',
      ...data,
    },
  };
}
