import { dependentLines } from '../core/dependency.ts';
import type { EventOf } from '../core/events.ts';
import { jobKey } from '../core/ids.ts';
import type { AttemptRecord, JobRecord } from '../core/ports.ts';
import { arrayTaskOf } from '../core/sacct.ts';
import type { ServiceDeps } from './deps.ts';
import { ensureWorkload, type Handled, history } from './effects.ts';
import { onArrayResubmitResult } from './slurm-arrays.ts';
import { redecide } from './slurm-decision.ts';
import { takeWaitingDependents } from './slurm-dependents.ts';

// The relay's answer to a plain job's resubmission (service/slurm-recovery.ts sent it): this is the only
// way a job joins a chain — Rebound submitted it, and the relay said which job it became.

/**
 * A resubmission's result: the new job joins the chain, or the workload needs a person. 'settled' once the
 * failed job is linked to its retry, the last write of its recording: a redelivery finds the link and only
 * looks again for dependents waiting on the failed job.
 */
export async function onResubmitResult(
  deps: ServiceDeps,
  event: EventOf<'relay.command.result'>,
): Promise<Handled> {
  const r = event.data;
  const attempt = await deps.store.findAttemptByCommand(r.commandId);
  if (!attempt && (await onArrayResubmitResult(deps, event, await deps.store.getWorkload(r.workload))))
    return;
  if (!attempt) {
    await history(deps, r.workload, [`Resubmission ${r.commandId} is not one of this service's attempts`]);
    return;
  }
  const from = attempt.plan.actions.find((a) => a.type === 'resubmit-job')?.jobId;
  const [submitted] = r.slurmJobIds;
  // An array task retried by hand went as an array of its one index: its job is that task of the new array.
  const task = from ? arrayTaskOf(from) : undefined;
  const newId = submitted && task ? `${submitted}_${task.taskId}` : submitted;
  if (r.ok && newId) {
    const source = attempt.source ? await deps.store.getJob(attempt.source) : undefined;
    if (source?.retriedAs !== newId) await recordRetry(deps, event, attempt, source, { from, newId });
    if (!source) return;
    // Its dependents that Slurm cancelled wait on the new job now (service/slurm-dependents.ts).
    for (const key of await takeWaitingDependents(deps, attempt.workload, (w) => w.on.includes(source.jobId)))
      await redecide(deps, key);
    return 'settled';
  }
  await ensureWorkload(deps, attempt.workload, 'slurm', 'needs-attention');
  await history(deps, attempt.workload, [
    `Attempt ${attempt.attempt} failed to submit job ${from} again: ${r.error ?? r.output}`,
  ]);
}

/** The retry joins the chain: its record, the history line, and last the failed job's link to it. */
async function recordRetry(
  deps: ServiceDeps,
  event: EventOf<'relay.command.result'>,
  attempt: AttemptRecord,
  source: JobRecord | undefined,
  { from, newId }: { from: string | undefined; newId: string },
) {
  const r = event.data;
  const key = jobKey(event.cluster, newId);
  if (!(await deps.store.getJob(key)))
    await deps.store.putJob({
      key,
      workload: attempt.workload,
      jobId: newId,
      name: '',
      evidence: {},
      lineage: attempt.lineage,
      attempt: attempt.attempt,
      decided: false,
      updatedAt: deps.now().toISOString(),
      // The chain's nonce, from the job whose failure made this attempt.
      ...(source?.nonce ? { nonce: source.nonce } : {}),
    });
  const verb = r.alreadyDone ? 'was already resubmitted as' : 'resubmitted as';
  await history(deps, attempt.workload, [
    `Attempt ${attempt.attempt}: job ${from} ${verb} job ${newId}`,
    ...(r.output ? [`Relay: ${r.output}`] : []),
    ...dependentLines(r.dependents, `job ${from}`, `job ${newId}`),
  ]);
  if (r.dependents?.error) await ensureWorkload(deps, attempt.workload, 'slurm', 'needs-attention');
  // Last: what a redelivery finds (onResubmitResult), and how the failed job's dependents find its retry.
  if (source) await deps.store.putJob({ ...source, retriedAs: newId });
}
