import { EventSchema } from '../core/events.ts';
import { CLUSTER, jobKey, torcWorkflowOf, torcWorkload, UNTAGGED } from '../core/ids.ts';
import { assertNever } from '../core/never.ts';
import type { DeadLetter } from '../core/ports.ts';
import type { ServiceDeps } from './deps.ts';
import { ensureWorkload, history } from './effects.ts';

// A dead letter is work given up on: the workload it belongs to needs a person, with why and how to try it
// again — once per dead letter, however often the tick looks.

const REMINDER_MS = 30 * 86_400_000;

/** The workload a dead-lettered event or command belongs to, from what it carries. */
async function workloadOf(deps: ServiceDeps, queue: 'events' | 'commands', body: unknown): Promise<string> {
  if (queue === 'commands') {
    const workload = (body as { workload?: unknown } | null)?.workload;
    return typeof workload === 'string' && workload ? workload : UNTAGGED;
  }
  const parsed = EventSchema.safeParse(body);
  if (!parsed.success) return UNTAGGED;
  const e = parsed.data;
  switch (e.type) {
    case 'slurm.jobcomp':
    case 'slurm.epilog':
    case 'slurm.sacct':
    case 'slurm.job.stuck':
      return (await deps.store.getJob(jobKey(e.cluster, e.data.jobId)))?.workload ?? UNTAGGED;
    case 'relay.command.result':
    case 'person.request':
      return e.data.workload;
    case 'slurm.cluster.discovered':
    case 'slurm.tracked':
      return CLUSTER;
    case 'torc.job.finished':
    case 'torc.workflow.completed':
    case 'torc.workflow.census':
    case 'slurm.allocation.ended':
      return torcWorkload(e.data.workflowId);
    default:
      return assertNever(e, 'event');
  }
}

/** Each dead letter not reported yet: its workload needs attention. Returns how many were reported. */
export async function reportDeadLetters(
  deps: ServiceDeps,
  letters: Record<'events' | 'commands', DeadLetter[]>,
): Promise<number> {
  let reported = 0;
  for (const queue of ['events', 'commands'] as const) {
    for (const d of letters[queue]) {
      const mark = `dead:${queue}:${d.id}`;
      if (await deps.store.wasProcessed(mark)) continue;
      const workload = await workloadOf(deps, queue, d.body);
      const kind = torcWorkflowOf(workload) === undefined ? 'slurm' : 'torc';
      await ensureWorkload(deps, workload, kind, 'needs-attention');
      await history(deps, workload, [
        `${queue === 'events' ? 'Event' : 'Command'} ${d.id} was given up after ${d.receives} tries: ` +
          `${d.lastError ?? 'no error recorded'}. Fix the cause, then: rebound dead-letters --replay ${d.id}`,
      ]);
      // Marked after the report: a crash in between reports it again rather than never.
      await deps.store.markProcessed(mark, new Date(deps.now().getTime() + REMINDER_MS));
      deps.telemetry?.count('DeadLetters', 1, queue);
      reported++;
    }
  }
  return reported;
}
