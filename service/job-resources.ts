import type { ManualMark, ResourcesRequest } from '../core/manual.ts';
import type { WorkloadRecord } from '../core/ports.ts';
import { parseSlurmMemory, parseSlurmTime } from '../core/units.ts';
import type { ServiceDeps } from './deps.ts';
import { history } from './effects.ts';
import { byWhom, type JobRequestAnswer, queueAboutJob, type RequestDeps } from './person-request-event.ts';
import { latestOfEachChain } from './status.ts';

// `update_job_resources` (MCP): a person sets the memory and time of a failed job's next retry. The worker
// keeps them on the job's record; the planner uses them instead of escalating (core/planner.ts), for the
// next attempt, automatic or by hand (`resubmit_workflow`, `rebound recover`).

/** The job a person names, if it is one whose next retry they may size: its chain's latest, failed. */
async function sizableJob(deps: Pick<RequestDeps, 'store'>, w: WorkloadRecord, job: string) {
  const jobs = await deps.store.listJobs(w.key);
  const latest = w.kind === 'torc' ? jobs : latestOfEachChain(jobs);
  return latest.find((j) => j.jobId === job && j.diagnosis && j.diagnosis.cause !== 'success');
}

export async function requestResources(
  deps: RequestDeps,
  w: WorkloadRecord,
  request: ResourcesRequest,
  who: Omit<ManualMark, 'requestId'>,
): Promise<JobRequestAnswer> {
  const found = await sizableJob(deps, w, request.job);
  const refusal = found
    ? undefined
    : `no failed job ${request.job} in ${w.key} whose next retry is still to come (name the latest job of its chain)`;
  return queueAboutJob(deps, w, who, refusal, (mark) => ({
    action: 'set-resources',
    workload: w.key,
    mark,
    request,
  }));
}

/** The worker keeps what the person set on the job's record, and says so in history. */
export async function onSetResources(
  deps: ServiceDeps,
  w: WorkloadRecord,
  request: ResourcesRequest,
  mark: ManualMark,
) {
  const job = await sizableJob(deps, w, request.job);
  if (!job) return;
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
