import type { PlanAction } from './plan.ts';
import type { EffectivePolicy } from './policy.ts';
import type { Candidate, FailedJob } from './recovery-state.ts';
import { formatSlurmMemory, formatSlurmTime } from './units.ts';

// What a plain Slurm job's retry asks of sbatch beyond its escalated limits, and what the plan says about
// what it cannot keep: the nodes a node failure blames, the dependency of a dependent Slurm cancelled, the
// environment accounting did not keep. Used by core/planner.ts.

const NOT_STORED =
  "the environment it was submitted with could not be read from Slurm's accounting (AccountingStoreFlags=job_env)";

/** A job whose environment is lost may not be retried without it, where the policy says so. */
export function environmentProblem(job: FailedJob, policy: EffectivePolicy): string | undefined {
  return job.environment === 'not-stored' && policy.requireEnvironment
    ? `${NOT_STORED}, and the policy requires it (requireEnvironment)`
    : undefined;
}

export const environmentCaveat = (job: FailedJob) =>
  `${NOT_STORED}: the retry runs with a login environment of ${job.owner?.user ?? 'its owner'} instead (plus the variables its script's own #SBATCH --export line names)`;

/** Slurm states that blame the node: the retry keeps off the nodes the job ran on (a preemption does not). */
const NODE_STATES = new Set(['NODE_FAIL', 'BOOT_FAIL']);
export const failedNodes = (job: FailedJob) =>
  job.evidence.slurmState && NODE_STATES.has(job.evidence.slurmState) ? job.evidence.nodes : undefined;

/**
 * Cancelled by Slurm itself for a dependency that can never be met (kill_invalid_depend: no cancelling uid,
 * sacct's reason `Dependency` — scontrol's `DependencyNeverSatisfied`, checked on the lab), with what it
 * waited on known from its capture. A person's scancel carries their uid.
 */
export const cancelledForItsDependency = (job: FailedJob) =>
  job.evidence.cancelledByUid === undefined &&
  /^Dependency/.test(job.evidence.slurmReason ?? '') &&
  job.dependency !== undefined;

export function slurmActions(candidates: Candidate[]): PlanAction[] {
  return candidates.map(({ job, next, partition, dependency }) => ({
    type: 'resubmit-job' as const,
    jobId: job.id,
    resources: {
      // An unknown limit stays as the job asked for it (the captured script's own options).
      ...(next.memoryBytes ? { mem: formatSlurmMemory(next.memoryBytes) } : {}),
      ...(next.runtimeSeconds ? { time: formatSlurmTime(next.runtimeSeconds) } : {}),
      ...(partition ? { partition } : {}),
      // The relay leaves this out where it would leave the partition no node (relay/executor.ts).
      ...(failedNodes(job) ? { exclude: failedNodes(job) } : {}),
      ...(dependency ? { dependency } : {}),
    },
  }));
}
