import type { JobRecord } from '../core/ports.ts';
import { type UsageInput, type UtilizationReport, utilizationReport } from '../core/utilization.ts';
import type { ReadDeps } from './deps.ts';
import { inDisplayOrder } from './status.ts';

// `rebound report`, the report page and the MCP tool check_resource_utilization: a workload's jobs as
// the utilization report reads them (core/utilization.ts). A job still running has nothing to report yet.

function usageOf(job: JobRecord): UsageInput | undefined {
  const e = job.evidence;
  if (!job.diagnosis && e.elapsedSeconds === undefined) return undefined;
  return {
    jobId: job.jobId,
    name: job.name || `job ${job.jobId}`,
    attempt: job.attempt,
    ...(job.diagnosis ? { cause: job.diagnosis.cause } : {}),
    cpus: job.cpus ?? Math.max(1, job.torc?.rr?.numCpus ?? 1),
    ...(e.memoryLimitBytes !== undefined ? { memoryRequestedBytes: e.memoryLimitBytes } : {}),
    ...(e.peakMemoryBytes !== undefined ? { peakMemoryBytes: e.peakMemoryBytes } : {}),
    ...(e.elapsedSeconds !== undefined ? { elapsedSeconds: e.elapsedSeconds } : {}),
    ...(e.timeLimitSeconds !== undefined ? { timeLimitSeconds: e.timeLimitSeconds } : {}),
    ...(e.cpuSeconds !== undefined ? { cpuSeconds: e.cpuSeconds } : {}),
  };
}

export async function workloadReport(deps: Pick<ReadDeps, 'store'>, key: string): Promise<UtilizationReport> {
  const jobs = inDisplayOrder(await deps.store.listJobs(key));
  return utilizationReport(
    key,
    jobs.flatMap((j) => usageOf(j) ?? []),
  );
}
