import type { Event, EventOf, EventType } from '../core/events.ts';
import { groupBy } from '../core/group-by.ts';
import { jobKey, torcWorkflowOf, torcWorkload } from '../core/ids.ts';
import { assertNever } from '../core/never.ts';
import { onScheduleResult, onTorcCensus } from './auto-schedule.ts';
import { onClusterDiscovered } from './cluster.ts';
import { resultArrived } from './command-watch.ts';
import type { ServiceDeps } from './deps.ts';
import { type Handled, history, resultLine } from './effects.ts';
import { onLogsResult } from './job-logs.ts';
import { onPersonRequest, onSyncResult } from './person-requests.ts';
import { onJobEnded, onSacct, onTracked } from './slurm-recovery.ts';
import { onResubmitResult } from './slurm-results.ts';
import { onJobStuck } from './slurm-stalls.ts';
import { onTorcWorkflowCompleted } from './torc-completion.ts';
import { onAllocationEnded } from './torc-orphans.ts';
import { continueTorcRecovery, onTorcJobFinished } from './torc-recovery.ts';

// The worker's entry: every event to its handler, events of one record in order, command results to the
// path that sent the command. The shells (local worker loop, SQS function) import only this.

const PROCESSED_TTL_MS = 7 * 86_400_000;

/**
 * Whether an event is marked processed once handled, so that a redelivery (SQS delivers at least once; a
 * batch is redelivered whole when its function stops; the webhook keeps no record of accepted ids) changes
 * nothing. A job's end needs no mark (a write each in AWS): handled again it finds the job's record as it
 * left it — decided, or awaiting the reading its first handling asked for, which it asks for again under
 * the same id — and adds no history; so does a list of tracked jobs (a record is made only for a job that
 * has none). Every other handler writes history or acts, and is marked — unless it answers 'settled': its
 * last write was the record a redelivery finds (a reading's job written decided, a resubmission's failed
 * job linked to its retry; service/effects.ts `Handled`).
 */
const MARKED = {
  'slurm.jobcomp': false,
  'slurm.epilog': false,
  'slurm.tracked': false,
  'slurm.sacct': true,
  'slurm.job.stuck': true,
  'slurm.cluster.discovered': true,
  'relay.command.result': true,
  'torc.job.finished': true,
  'torc.workflow.completed': true,
  'torc.workflow.census': true,
  'slurm.allocation.ended': true,
  'person.request': true,
} as const satisfies Record<EventType, boolean>;

/**
 * The worker's one decision per event: update state, diagnose, plan, claim the attempt, emit commands.
 * Safe to run twice for the same event: every write is keyed (job, attempt, command id).
 */
export async function handleEvent(deps: ServiceDeps, event: Event): Promise<void> {
  const marked = MARKED[event.type];
  // Handled and recorded before a crash stopped the delete: nothing to redo.
  if (marked && (await deps.store.wasProcessed(event.id))) return;
  if ((await handle(deps, event)) !== 'settled' && marked)
    await deps.store.markProcessed(event.id, new Date(deps.now().getTime() + PROCESSED_TTL_MS));
}

/** The event to its handler; 'settled' where the handler's last write makes a mark needless. */
async function handle(deps: ServiceDeps, event: Event): Promise<Handled> {
  switch (event.type) {
    case 'slurm.sacct':
      return onSacct(deps, event);
    case 'relay.command.result':
      return onCommandResult(deps, event);
    case 'slurm.jobcomp':
    case 'slurm.epilog':
      await onJobEnded(deps, event);
      return;
    case 'slurm.tracked':
      await onTracked(deps, event);
      return;
    case 'slurm.job.stuck':
      await onJobStuck(deps, event);
      return;
    case 'slurm.cluster.discovered':
      await onClusterDiscovered(deps, event);
      return;
    case 'torc.job.finished':
      await onTorcJobFinished(deps, event);
      return;
    case 'torc.workflow.completed':
      await onTorcWorkflowCompleted(deps, event);
      return;
    case 'torc.workflow.census':
      await onTorcCensus(deps, event);
      return;
    case 'slurm.allocation.ended':
      await onAllocationEnded(deps, event);
      return;
    case 'person.request':
      await onPersonRequest(deps, event);
      return;
    default:
      return assertNever(event, 'event');
  }
}

/** A command's result goes back to the path that sent it (the result echoes the command's type). */
async function onCommandResult(deps: ServiceDeps, event: EventOf<'relay.command.result'>): Promise<Handled> {
  await resultArrived(deps, event.data);
  if (event.data.commandType === 'slurm.resubmit') return onResubmitResult(deps, event);
  await routeResult(deps, event);
}

async function routeResult(deps: ServiceDeps, event: EventOf<'relay.command.result'>): Promise<void> {
  const r = event.data;
  switch (r.commandType) {
    case 'slurm.resubmit':
      // onCommandResult's, above: its handling may settle the event.
      return;
    case 'slurm.enrich':
      // A successful enrichment answers with its sacct event, not a result: only failures come here.
      return history(deps, r.workload, [resultLine(r)]);
    case 'torc.update-resources':
    case 'hook.run':
    case 'torc.reset-jobs':
    case 'torc.submit-allocations': {
      const attempt = await deps.store.findAttemptByCommand(r.commandId);
      if (attempt) return continueTorcRecovery(deps, attempt, event);
      if (r.commandType === 'torc.submit-allocations') return onScheduleResult(deps, event);
      return history(deps, r.workload, [resultLine(r)]);
    }
    case 'torc.cleanup-allocation':
      return history(deps, r.workload, [resultLine(r)]);
    case 'torc.sync':
      return onSyncResult(deps, event);
    case 'job.logs':
      return onLogsResult(deps, event);
    default:
      return assertNever(r.commandType, 'command type');
  }
}

/** The workload an event is about, where the event says (a job's end says only once enriched). */
export function eventWorkload(event: Event): string | undefined {
  switch (event.type) {
    case 'relay.command.result':
    case 'person.request':
      return event.data.workload;
    case 'torc.job.finished':
    case 'torc.workflow.completed':
    case 'torc.workflow.census':
    case 'slurm.allocation.ended':
      return torcWorkload(event.data.workflowId);
    case 'slurm.jobcomp':
    case 'slurm.epilog':
    case 'slurm.sacct':
    case 'slurm.job.stuck':
    case 'slurm.tracked':
    case 'slurm.cluster.discovered':
      return undefined;
    default:
      return assertNever(event, 'event');
  }
}

/** Events that touch the same record, handled in order; everything else may run at once. */
function orderKey(event: Event): string {
  switch (event.type) {
    case 'slurm.jobcomp':
    case 'slurm.epilog':
    case 'slurm.sacct':
    case 'slurm.job.stuck':
      return jobKey(event.cluster, event.data.jobId);
    case 'slurm.cluster.discovered':
      return `cluster:${event.cluster}`;
    case 'slurm.tracked':
      // Before the ends of the same jobs, posted after it by the same relay.
      return `tracked:${event.cluster}`;
    case 'relay.command.result':
      return `command:${event.data.commandId}`;
    case 'torc.job.finished':
    case 'torc.workflow.completed':
    case 'torc.workflow.census':
    case 'slurm.allocation.ended':
      // A completion must follow the job events posted before it.
      return `${event.cluster}:${torcWorkload(event.data.workflowId)}`;
    case 'person.request':
      // With the workload's own events: a Torc workflow's are keyed by its cluster (the API uses it).
      return torcWorkflowOf(event.data.workload) === undefined
        ? `workload:${event.data.workload}`
        : `${event.cluster}:${event.data.workload}`;
    default:
      return assertNever(event, 'event');
  }
}

/**
 * A batch, as the local loop and an SQS-triggered function receive it: events of one job in order,
 * different jobs concurrently (their writes then share commits). Returns each event's error, if any, so
 * the caller deletes (or reports to SQS) per event and one bad event never re-runs the whole batch.
 */
export async function handleEvents(deps: ServiceDeps, events: Event[]): Promise<(Error | undefined)[]> {
  const outcomes: (Error | undefined)[] = new Array(events.length);
  const chains = groupBy(events.keys(), (i) => orderKey(events[i]!));
  await Promise.all(
    [...chains.values()].map(async (indexes) => {
      for (const i of indexes) {
        try {
          await handleEvent(deps, events[i]!);
        } catch (error) {
          outcomes[i] = error as Error;
        }
      }
    }),
  );
  return outcomes;
}
