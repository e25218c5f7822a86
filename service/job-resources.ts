import type { ManualMark, ResourcesRequest } from '../core/manual.ts';
import type { JobRecord, WorkloadRecord } from '../core/ports.ts';
import { parseSlurmMemory, parseSlurmTime } from '../core/units.ts';
import type { ServiceDeps } from './deps.ts';
import { history } from './effects.ts';
import {
  byWhom,
  type JobRequestAnswer,
  jobOfRequest,
  queueAboutJob,
  type RequestDeps,
} from './person-request-event.ts';

// `update_job_resources` (MCP): a person sets the memory and time of a failed job's next retry. The worker
// keeps them on the job's record; the planner uses them instead of escalating (core/planner.ts), for the
// next attempt, automatic or by hand (`resubmit_workflow`, `rebound recover`).

/** Whether a job's next retry is still to come: it failed, and (plain Slurm) no retry of it is claimed. */
async function sizable(deps: Pick<RequestDeps, 'store'>, job: JobRecord | undefined): Promise<boolean> {
  if (!job?.diagnosis || job.diagnosis.cause === 'success') return false;
  return job.torc !== undefined || (await deps.store.countAttempts(job.lineage)).claimed <= job.attempt;
}

export async function requestResources(
  deps: RequestDeps,
  w: WorkloadRecord,
  request: ResourcesRequest,
  who: Omit<ManualMark, 'requestId'>,
): Promise<JobRequestAnswer> {
  const named = (await deps.store.listJobs(w.key)).find((j) => j.jobId === request.job);
  const refusal = `no failed job ${request.job} in ${w.key} whose next retry is still to come (name the latest job of its chain)`;
  const job = (await sizable(deps, named)) ? named : undefined;
  return queueAboutJob(deps, w, who, job, refusal, (mark, jobKey) => ({
    action: 'set-resources',
    workload: w.key,
    mark,
    jobKey,
    request,
  }));
}

/** The worker keeps what the person set on the job's record, and says so in history. */
export async function onSetResources(
  deps: ServiceDeps,
  w: WorkloadRecord,
  request: ResourcesRequest,
  mark: ManualMark,
  jobKey: string,
) {
  const job = await jobOfRequest(deps, w, jobKey);
  if (!job || !(await sizable(deps, job))) return;
  job.nextLimits = {
    ...(request.memory ? { memoryBytes: parseSlurmMemory(request.memory) } : {}),
    ...(request.runtime ? { runtimeSeconds: parseSlurmTime(request.runtime) } : {}),
    by: mark.by,
  };
  await deps.store.putJob(job);
  const set = [request.memory && `memory ${request.memory}`, request.runtime && `runtime ${request.runtime}`]
    .filter(Boolean)
    .join(', ');
  await history(deps, w.key, [
    `Request ${mark.requestId}: job ${job.jobId} (${job.name})'s next retry set to ${set}, ${byWhom(mark)}`,
  ]);
}
