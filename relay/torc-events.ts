import type { Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import type { TorcJob, TorcResourceRequirements, TorcResult } from '../core/torc-model.ts';

// The events the Torc forwarder posts, built from Torc's own records (relay/torc-forwarder.ts decides
// when). Pure: the same records give the same events and ids.

export function jobFinishedEvent(
  cluster: string,
  r: TorcResult,
  job: TorcJob,
  rr: TorcResourceRequirements,
  now: string,
): Event {
  return {
    id: eventIds.torcJob(r.workflow_id, resultKey(r)),
    version: 1,
    source: 'relay:torc',
    occurredAt: now,
    cluster: cluster,
    type: 'torc.job.finished',
    data: {
      workflowId: r.workflow_id,
      jobId: r.job_id,
      jobName: job.name,
      status: r.status as 'completed',
      runId: r.run_id,
      returnCode: r.return_code,
      execTimeMinutes: Math.max(0, r.exec_time_minutes),
      ...(r.peak_memory_bytes !== undefined ? { peakMemoryBytes: r.peak_memory_bytes } : {}),
      attemptId: r.attempt_id ?? 1,
      resourceRequirements: rrEvent(rr),
    },
  };
}

export function completedEvent(
  cluster: string,
  workflowId: number,
  runId: number,
  isCanceled: boolean,
  jobs: TorcJob[],
  rrs: TorcResourceRequirements[],
  now: string,
): Event {
  const rrMembers: Record<string, number[]> = {};
  for (const j of jobs) {
    if (j.resource_requirements_id === undefined) continue;
    const key = String(j.resource_requirements_id);
    const members = rrMembers[key] ?? [];
    members.push(j.id);
    rrMembers[key] = members;
  }
  return {
    id: eventIds.torcCompleted(workflowId, runId),
    version: 1,
    source: 'relay:torc',
    occurredAt: now,
    cluster: cluster,
    type: 'torc.workflow.completed',
    data: {
      workflowId,
      runId,
      isCanceled,
      failedJobIds: jobs.filter((j) => j.status === 'failed' || j.status === 'terminated').map((j) => j.id),
      canceled: jobs
        .filter((j) => j.status === 'canceled' && j.resource_requirements_id !== undefined)
        .map((j) => ({ id: j.id, rrId: j.resource_requirements_id! })),
      rrMembers,
      resourceRequirements: rrs.filter((r) => r.id !== undefined).map(rrEvent),
    },
  };
}

export function censusEvent(
  cluster: string,
  workflowId: number,
  jobs: TorcJob[],
  rrs: TorcResourceRequirements[],
  live: number,
  now: string,
  owner?: string,
): Event {
  const ready = jobs.filter((j) => j.status === 'ready' && j.resource_requirements_id !== undefined);
  const used = new Set(ready.map((j) => j.resource_requirements_id));
  return {
    id: eventIds.torcCensus(workflowId, Date.parse(now)),
    version: 1,
    source: 'relay:torc',
    occurredAt: now,
    cluster: cluster,
    type: 'torc.workflow.census',
    data: {
      workflowId,
      ...(owner ? { owner } : {}),
      observedAt: now,
      liveAllocations: live,
      ready: ready.map((j) => ({
        id: j.id,
        rrId: j.resource_requirements_id!,
        attemptId: j.attempt_id ?? 1,
      })),
      resourceRequirements: rrs.filter((r) => used.has(r.id)).map(rrEvent),
    },
  };
}

/** A result's identity: a job's run and attempt (Torc keeps one current result per job). */
export const resultKey = (r: TorcResult) => `${r.job_id}:${r.run_id}:${r.attempt_id ?? 1}`;

function rrEvent(rr: TorcResourceRequirements) {
  return {
    id: rr.id!,
    name: rr.name,
    memory: rr.memory,
    runtime: rr.runtime,
    numCpus: rr.num_cpus,
    numGpus: rr.num_gpus,
    numNodes: rr.num_nodes,
  };
}
