import * as z from 'zod';
import { parseJobKey } from '../core/ids.ts';
import type { Plan } from '../core/plan.ts';
import { countersOf, planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import type { JobRecord } from '../core/ports.ts';
import { arrayTaskOf } from '../core/sacct.ts';
import { profileFor } from './cluster.ts';
import type { ReadDeps } from './deps.ts';
import { toFailedJob } from './slurm-decision.ts';
import { lastCompletion, planTorc } from './torc-recovery.ts';

/** A workload as the status API serves it and `rebound status` reads it (and checks it: they may differ in release). */
export const WorkloadViewSchema = z.looseObject({
  key: z.string(),
  kind: z.enum(['slurm', 'torc']),
  status: z.string(),
  updatedAt: z.string(),
  counts: z.record(z.string(), z.number()),
  attempts: z.array(
    z.object({
      lineage: z.string(),
      attempt: z.number(),
      createdAt: z.string(),
      changes: z.array(z.string()),
      commands: z.array(z.string()),
    }),
  ),
  jobs: z.array(
    z.object({
      jobId: z.string(),
      /** An array task's array (`123` of `123_4`): tasks are listed together, in index order. */
      array: z.string().optional(),
      name: z.string(),
      attempt: z.number(),
      lineage: z.string(),
      cause: z.string().optional(),
      summary: z.string().optional(),
      evidence: z.array(z.object({ signal: z.string(), value: z.string(), pointsTo: z.string() })),
    }),
  ),
  history: z.array(z.object({ workload: z.string(), at: z.string(), line: z.string() })),
  /** Arrays whose failed tasks wait for one another or for their resubmission's result (service/slurm-arrays.ts). */
  arrays: z
    .record(
      z.string(),
      z.object({
        jobId: z.string(),
        since: z.string(),
        live: z.boolean(),
        failed: z.array(z.number()),
        decided: z.array(z.number()),
        groups: z.array(z.object({ commandId: z.string(), tasks: z.array(z.number()) })).optional(),
      }),
    )
    .optional(),
  /** Notices not yet delivered to every channel (core/notice.ts). */
  notices: z
    .array(
      z.object({
        id: z.string(),
        status: z.string(),
        at: z.string(),
        attempts: z.number(),
        sent: z.array(z.string()),
        lastError: z.string().optional(),
        gaveUpAt: z.string().optional(),
      }),
    )
    .optional(),
});
export type WorkloadView = z.infer<typeof WorkloadViewSchema>;

export async function workloadView(
  deps: Pick<ReadDeps, 'store'>,
  key: string,
): Promise<WorkloadView | undefined> {
  const workload = await deps.store.getWorkload(key);
  if (!workload) return undefined;
  const [jobs, attempts, history] = await Promise.all([
    deps.store.listJobs(key),
    deps.store.listAttempts(key),
    deps.store.listHistory(key),
  ]);
  return {
    ...workload,
    counts: countBy(jobs.map((j) => j.diagnosis?.cause ?? 'pending')),
    attempts: attempts.map((a) => ({
      lineage: a.lineage,
      attempt: a.attempt,
      createdAt: a.createdAt,
      changes: a.plan.decisions.flatMap((d) => d.changes.map((c) => `${c.what} ${c.from} -> ${c.to}`)),
      commands: a.commandIds,
    })),
    jobs: inDisplayOrder(jobs).map((j) => ({
      jobId: j.jobId,
      ...(arrayTaskOf(j.jobId) ? { array: arrayTaskOf(j.jobId)!.jobId } : {}),
      name: j.name,
      attempt: j.attempt,
      lineage: j.lineage,
      cause: j.diagnosis?.cause,
      summary: j.diagnosis?.summary,
      evidence: j.diagnosis?.evidence ?? [],
    })),
    history,
  };
}

/** Dry-run: what recovery would do now for each chain's latest failed job. Changes nothing. */
export async function planWorkload(deps: ReadDeps, key: string): Promise<Plan[]> {
  const workload = await deps.store.getWorkload(key);
  if (workload?.kind === 'torc') {
    // The plan for the last completion the worker saw, as it would run it now (its attempt number next).
    const completion =
      workload.lastRun !== undefined ? await lastCompletion(deps, key, workload.lastRun) : undefined;
    return completion && workload.cluster ? [await planTorc(deps, completion, workload.cluster)] : [];
  }
  const plans: Plan[] = [];
  for (const job of latestOfEachChain(await deps.store.listJobs(key))) {
    if (!job.diagnosis || job.diagnosis.cause === 'success') continue;
    const counters = countersOf(await deps.store.countAttempts(job.lineage));
    plans.push(
      planRecovery(
        {
          kind: 'slurm',
          workload: key,
          profile: await profileFor(deps, parseJobKey(job.key).cluster),
          jobs: [toFailedJob(job)],
        },
        policyFor(deps.config.policy, key),
        counters,
        deps.now(),
      ),
    );
  }
  return plans;
}

/** Each resubmission chain's latest job: the one whose failure a retry would answer. */
export function latestOfEachChain(jobs: JobRecord[]): JobRecord[] {
  const latest = new Map<string, JobRecord>();
  for (const j of jobs) if ((latest.get(j.lineage)?.attempt ?? -1) < j.attempt) latest.set(j.lineage, j);
  return [...latest.values()];
}

/** Jobs in key order, except that an array's tasks follow one another by index (`9_2` before `9_10`). */
export function inDisplayOrder(jobs: JobRecord[]): JobRecord[] {
  const order = (j: JobRecord) => {
    const task = arrayTaskOf(j.jobId);
    return task ? [task.jobId, task.taskId] : [j.jobId, -1];
  };
  return [...jobs].sort((a, b) => {
    const [x, i] = order(a);
    const [y, k] = order(b);
    return Number(x) - Number(y) || Number(i) - Number(k);
  });
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
