import type { Event, EventOf } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';

/** What the relay reports about a command, besides which command it was. */
export type ResultData = Omit<
  EventOf<'relay.command.result'>['data'],
  'commandId' | 'commandType' | 'workload'
>;

export const failure = (error: string): ResultData => ({
  ok: false,
  slurmJobIds: [],
  alreadyDone: false,
  output: '',
  error,
});

/**
 * The result event for a command. It echoes the command's type and workload so the service routes it
 * without taking the id apart; a command this relay could not parse echoes what its envelope said.
 */
export function resultEvent(
  cluster: string,
  command: { id: string; type: string; workload: string },
  data: ResultData,
  now: Date,
): Event {
  return {
    id: eventIds.result(command.id),
    version: 1,
    source: 'relay:executor',
    occurredAt: now.toISOString(),
    cluster,
    type: 'relay.command.result',
    data: {
      commandId: command.id,
      // A newer service's command type is one that service knows, whatever this relay's list says.
      commandType: command.type as EventOf<'relay.command.result'>['data']['commandType'],
      workload: command.workload,
      ...data,
    },
  };
}
