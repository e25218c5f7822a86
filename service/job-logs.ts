import type { EventOf } from '../core/events.ts';
import { commandIds, torcWorkflowOf } from '../core/ids.ts';
import type { LogsRequest, ManualMark } from '../core/manual.ts';
import type { WorkloadRecord } from '../core/ports.ts';
import type { ServiceDeps } from './deps.ts';
import { command, send } from './effects.ts';
import {
  type JobRequestAnswer,
  jobOfRequest,
  queueAboutJob,
  type RequestDeps,
} from './person-request-event.ts';

// `rebound logs` (and the MCP tool get_job_logs): the relay reads the tail of a job's output, where its own
// records say it is, and the answer is kept a day for the API to hand over (StateStore `putAnswer`).

const ANSWER_TTL_MS = 86_400_000;

/** A person asks for a job's log: the job must be one of the workload's, as its records say. */
export async function requestLogs(
  deps: RequestDeps,
  w: WorkloadRecord,
  request: LogsRequest,
  who: Omit<ManualMark, 'requestId'>,
): Promise<JobRequestAnswer> {
  const job = (await deps.store.listJobs(w.key)).find((j) => j.jobId === request.job);
  return queueAboutJob(deps, w, who, job, `no job ${request.job} in ${w.key}`, (mark, jobKey) => ({
    action: 'logs',
    workload: w.key,
    mark,
    jobKey,
    request,
  }));
}

/** The worker sends the relay what to read: the job, its stream, how many lines (never a path). */
export async function askRelayForLogs(
  deps: ServiceDeps,
  w: WorkloadRecord,
  request: LogsRequest,
  mark: ManualMark,
  jobKey: string,
) {
  const job = await jobOfRequest(deps, w, jobKey);
  if (!job) return;
  const workflowId = torcWorkflowOf(w.key);
  await send(deps, [
    command({
      type: 'job.logs',
      id: commandIds.logs(mark.requestId),
      workload: w.key,
      createdAt: deps.now().toISOString(),
      jobId: job.jobId,
      stream: request.stderr ? 'stderr' : 'stdout',
      lines: request.tail,
      ...(workflowId !== undefined && job.torc
        ? { torc: { workflowId, runId: job.torc.runId, attempt: Math.max(1, job.attempt) } }
        : {}),
    }),
  ]);
}

/** The relay's answer: kept for the person's CLI (or assistant) to read with their token. */
export async function onLogsResult(deps: ServiceDeps, event: EventOf<'relay.command.result'>) {
  const r = event.data;
  if (!r.commandId.startsWith('logs:')) return;
  await deps.store.putAnswer(
    {
      requestId: r.commandId.slice('logs:'.length),
      workload: r.workload,
      at: deps.now().toISOString(),
      ok: r.ok && r.log !== undefined,
      text: r.log?.text ?? r.error ?? r.output,
      ...(r.log ? { path: r.log.path, truncated: r.log.truncated } : {}),
    },
    new Date(deps.now().getTime() + ANSWER_TTL_MS),
  );
}
