import type { Diagnosis } from './diagnose.ts';
import type { Limits } from './heuristics.ts';
import type { Decision } from './plan.ts';
import { type FailedJob, known, type RecoveryState } from './recovery-state.ts';
import { failedNodes } from './slurm-retry.ts';
import { formatIsoDuration, formatSlurmMemory, formatSlurmTime, formatTorcMemory } from './units.ts';

// What a plan says of each job (core/planner.ts decides): its decision, the changes it names in the
// workload's own units, and why it is retried.

/**
 * One job's decision, as a literal of one shape: built by spreading a base object, each of a large
 * completion's 10,000 decisions took ~300 bytes more (bench:completion).
 */
export function decisionOf(
  job: FailedJob,
  d: Diagnosis,
  retry: boolean,
  changes: Decision['changes'],
  note: string,
): Decision {
  return {
    jobId: job.id,
    jobName: job.name,
    cause: d.cause,
    confidence: d.confidence,
    summary: d.summary,
    retry,
    changes,
    note,
  };
}

export function describeChanges(
  kind: RecoveryState['kind'],
  job: FailedJob,
  next: Limits,
  partition?: string,
) {
  const mem = kind === 'slurm' ? formatSlurmMemory : formatTorcMemory;
  const time = kind === 'slurm' ? formatSlurmTime : formatIsoDuration;
  const changes: Decision['changes'] = [];
  const was = known(job.limits);
  if (next.memoryBytes !== was.memoryBytes) {
    changes.push({ what: 'memory', from: mem(was.memoryBytes), to: mem(next.memoryBytes) });
  }
  if (next.runtimeSeconds !== was.runtimeSeconds) {
    changes.push({ what: 'runtime', from: time(was.runtimeSeconds), to: time(next.runtimeSeconds) });
  }
  if (kind === 'slurm' && partition && job.partition && partition !== job.partition) {
    changes.push({ what: 'partition', from: job.partition, to: partition });
  }
  return changes;
}

export function retryNote(d: Diagnosis, job: FailedJob): string {
  if (d.cause === 'oom' || d.cause === 'timeout') return 'retried with more resources';
  const nodes = failedNodes(job);
  if (d.cause === 'transient')
    return `retried with the same resources${nodes ? `, away from ${nodes} (where the relay can)` : ''}`;
  return 'retried as is (unknown causes are included)';
}
