import type { EventOf } from '../core/events.ts';
import { jobKey, parseJobKey, tagNameOf } from '../core/ids.ts';
import { neverStarts } from '../core/pending.ts';
import { chainWords } from '../core/plan-report.ts';
import { policyFor } from '../core/policy.ts';
import type { ServiceDeps } from './deps.ts';
import { ensureWorkload, history } from './effects.ts';

/**
 * A resubmission that will never start (the relay saw it pending for a reason no waiting resolves): its
 * workload needs a person, with the reason in words, instead of "recovering" for ever. Only a job Rebound
 * submitted counts — its record exists because the relay reported submitting it; a comment proves nothing.
 */
export async function onJobStuck(deps: ServiceDeps, event: EventOf<'slurm.job.stuck'>) {
  const job = await deps.store.getJob(jobKey(event.cluster, event.data.jobId));
  if (!job?.workload || job.attempt === 0) return;
  const { reason } = event.data;
  const why = neverStarts(reason) ?? 'Slurm says it cannot start';
  const first = parseJobKey(job.lineage).jobId;
  const { maxRetries } = policyFor(deps.config.policy, tagNameOf(job.workload));
  await ensureWorkload(deps, job.workload, 'slurm', 'needs-attention');
  await history(deps, job.workload, [
    `Job ${job.jobId} (${chainWords(job.attempt, maxRetries, first)}) cannot start: ${why} (Slurm: ${reason}). ` +
      `Cancel it (scancel ${job.jobId}) and fix the cause — a profile that lists a partition too generously, or the job's own options.`,
  ]);
}
