import type { ResourceGroup } from './allocation.ts';
import type { Diagnosis } from './diagnose.ts';
import type { TorcCompletionPage, TorcRr } from './events.ts';
import type { JobEvidence } from './evidence.ts';
import { torcWorkload } from './ids.ts';
import type { Profile } from './profiles.ts';
import type { FailedJob, RecoveryState } from './recovery-state.ts';
import { parseIsoDuration, parseTorcMemory } from './units.ts';

/** A run's whole completion: its pages put together (assembleCompletion). */
export type TorcCompletion = Omit<TorcCompletionPage, 'page'>;

export interface RecordedTorcJob {
  id: number;
  name: string;
  evidence: JobEvidence;
  diagnosis?: Diagnosis;
  /** Absent when Torc gave the job no resource-requirements row. */
  rr?: TorcRr;
  /** The limits a person set for its next retry (core/recovery-state.ts). */
  nextLimits?: FailedJob['nextLimits'];
}

/**
 * A run's completion from its pages, once every one of them is there (a redelivered page counts once);
 * undefined while some are missing. Pages of another run, or that disagree on their count, are an error.
 */
export function assembleCompletion(pages: TorcCompletionPage[]): TorcCompletion | undefined {
  const first = pages[0];
  if (!first) return undefined;
  const byIndex = new Map<number, TorcCompletionPage>();
  for (const p of pages) {
    if (p.runId !== first.runId || p.page.count !== first.page.count || p.workflowId !== first.workflowId)
      throw new Error(
        `completion pages disagree: workflow ${p.workflowId} run ${p.runId} page ${p.page.index}/${p.page.count}`,
      );
    byIndex.set(p.page.index, p);
  }
  if (byIndex.size < first.page.count) return undefined;
  const ordered = [...byIndex.values()].sort((a, b) => a.page.index - b.page.index);
  const rows = new Map(ordered.flatMap((p) => p.resourceRequirements.map((r) => [r.id, r] as const)));
  return {
    workflowId: first.workflowId,
    runId: first.runId,
    isCanceled: ordered.some((p) => p.isCanceled),
    failedJobIds: ordered.flatMap((p) => p.failedJobIds),
    canceled: ordered.flatMap((p) => p.canceled),
    rrSizes: first.rrSizes,
    resourceRequirements: [...rows.values()],
    liveAllocations: first.liveAllocations,
  };
}

/** Why a failed job is not retried whatever its cause: Rebound lacks what a retry needs. */
export const JOB_PROBLEMS = {
  'no-result': 'its result never reached Rebound (check the job in Torc; reset it by hand once it has one)',
  'no-row':
    'Torc gives it no resource-requirements row, so no allocation can be sized for it (give it one, then reset it)',
} as const;

/**
 * A Torc resource-requirements row in bytes and seconds, as allocation planning takes it. A job takes at
 * least one CPU on at least one node, whatever a row says (Torc's server accepts 0).
 */
export const resourceGroup = (rr: TorcRr): ResourceGroup => ({
  name: rr.name,
  cpus: Math.max(1, rr.numCpus),
  gpus: rr.numGpus,
  nodes: Math.max(1, rr.numNodes),
  memoryBytes: parseTorcMemory(rr.memory),
  runtimeSeconds: parseIsoDuration(rr.runtime),
});

/**
 * The planner's view of a completed Torc run: the failed jobs with what they ran with, the rows they share,
 * and the jobs cancelled behind them, which a reset brings back (blocked until their upstream completes,
 * so their allocations are deferred).
 */
export function torcRecoveryState(
  completion: TorcCompletion,
  failed: RecordedTorcJob[],
  profile: Profile,
  runnerBufferSeconds: number,
): RecoveryState {
  const rrs = new Map(completion.resourceRequirements.map((r) => [r.id, r]));
  const recorded = new Set(failed.map((j) => j.id));
  // One job without a result or a row costs that job, never the workflow: it is planned as "not retried"
  // with the reason, and every other job is recovered.
  const unrecorded: FailedJob[] = completion.failedJobIds
    .filter((id) => !recorded.has(id))
    .map((id) => ({
      id: String(id),
      name: `job ${id}`,
      evidence: {},
      // Failed, as Torc lists it; why is unknown without its result.
      diagnosis: {
        cause: 'unknown' as const,
        confidence: 'low' as const,
        evidence: [],
        incomplete: false,
        summary: 'no result received',
      },
      limits: {},
      cpus: 1,
      gpus: 0,
      problem: JOB_PROBLEMS['no-result'],
    }));
  // Thousands of failed jobs share a few rows: each row's sizes are parsed once.
  const groups = new Map<string, ResourceGroup>();
  const groupOf = (rr: TorcRr) => {
    const key = `${rr.id}\0${rr.memory}\0${rr.runtime}\0${rr.numCpus}\0${rr.numGpus}\0${rr.numNodes}`;
    const known = groups.get(key);
    if (known) return known;
    const g = resourceGroup(rr);
    groups.set(key, g);
    return g;
  };
  const jobs: FailedJob[] = failed.map((j) => {
    if (!j.rr)
      return {
        id: String(j.id),
        name: j.name,
        evidence: j.evidence,
        ...(j.diagnosis ? { diagnosis: j.diagnosis } : {}),
        limits: {},
        cpus: 1,
        gpus: 0,
        problem: JOB_PROBLEMS['no-row'],
      };
    const g = groupOf(j.rr);
    // A literal and two assignments, not conditional spreads: lighter, at 10,000 failed jobs.
    const job: FailedJob = {
      id: String(j.id),
      name: j.name,
      evidence: j.evidence,
      limits: { memoryBytes: g.memoryBytes, runtimeSeconds: g.runtimeSeconds },
      cpus: g.cpus,
      gpus: g.gpus,
      rr: { id: j.rr.id, name: j.rr.name },
    };
    if (j.diagnosis) job.diagnosis = j.diagnosis;
    if (j.nextLimits) job.nextLimits = j.nextLimits;
    return job;
  });
  const canceled = completion.canceled.filter((c) => rrs.has(c.rrId));
  return {
    kind: 'torc',
    workload: torcWorkload(completion.workflowId),
    profile,
    runnerBufferSeconds,
    jobs: [...jobs, ...unrecorded],
    rrSizes: Object.fromEntries(Object.entries(completion.rrSizes).map(([k, v]) => [Number(k), v])),
    pending: {
      jobs: canceled.map((c) => ({ id: c.id, rr: rrs.get(c.rrId)!.name, waits: true })),
      groups: [...new Set(canceled.map((c) => c.rrId))].map((id) => resourceGroup(rrs.get(id)!)),
    },
  };
}
