import { type PendingJob, planAllocations, type ResourceGroup } from './allocation.ts';
import { type Diagnosis, diagnose } from './diagnose.ts';
import type { JobEvidence } from './evidence.ts';
import { escalate, type Limits } from './heuristics.ts';
import { bestPartition, choosePartition, describeMisfit } from './partition.ts';
import type { Decision, Plan, PlanAction, StopReason } from './plan.ts';
import type { EffectivePolicy } from './policy.ts';
import type { Profile } from './profiles.ts';
import { formatIsoDuration, formatSlurmMemory, formatSlurmTime, formatTorcMemory } from './units.ts';

export interface FailedJob {
  id: string;
  name: string;
  evidence: JobEvidence;
  /** Given when already made (e.g. stored with the job); otherwise the planner diagnoses. */
  diagnosis?: Diagnosis;
  /** What it ran with; absent when the source did not say (then that limit cannot be scaled). */
  limits: Partial<Limits>;
  cpus: number;
  gpus: number;
  /** Plain Slurm: the partition it ran in. */
  partition?: string;
  /** Torc: its resource requirements row. */
  rr?: { id: number; name: string };
  /** Torc: it depends on a job that is not complete, so its allocation is deferred. */
  waits?: boolean;
}

export interface RecoveryState {
  kind: 'slurm' | 'torc';
  workload: string;
  profile: Profile;
  /** Jobs that ended since the last attempt, successes included (they are reported, never retried). */
  jobs: FailedJob[];
  /** Torc: every job id using each resource-requirements row, to know whether a change covers the row. */
  rrMembers?: Record<number, number[]>;
  /** Torc: jobs already pending and their rows, planned into allocations together with the reset jobs. */
  pending?: { jobs: PendingJob[]; groups: ResourceGroup[] };
  /** Torc: allocation time the runner cannot use for jobs (default 180 s). */
  runnerBufferSeconds?: number;
}

export interface Counters {
  attemptsUsed: number;
}

/** Torc's runner loses about three minutes of every allocation (allocation.ts); a runtime must fit with it. */
const RUNNER_BUFFER_SECONDS = 180;
const bufferOf = (state: RecoveryState) => state.runnerBufferSeconds ?? RUNNER_BUFFER_SECONDS;

interface Candidate {
  job: FailedJob;
  diagnosis: Diagnosis;
  next: Limits;
  partition?: string;
}

/**
 * Decides what one recovery attempt does for a workload: per job diagnose → escalate → fit a partition,
 * then group Torc changes per resource-requirements row, and stop with a reason when nothing may be done.
 * Pure: the same inputs give the same plan, which `rebound plan` prints and the worker executes.
 */
export function planRecovery(
  state: RecoveryState,
  policy: EffectivePolicy,
  counters: Counters,
  now: Date,
): Plan {
  const attempt = counters.attemptsUsed + 1;
  const includeUnknown = policy.retryUnknown || policy.unknownFailureHook !== undefined;
  const decisions: Decision[] = [];
  const candidates: Candidate[] = [];
  let unknown = 0;
  let exceeded = 0;
  let unscalable = 0;

  for (const job of state.jobs) {
    const diagnosis = job.diagnosis ?? diagnose(job.evidence);
    const base = {
      jobId: job.id,
      jobName: job.name,
      cause: diagnosis.cause,
      confidence: diagnosis.confidence,
      summary: diagnosis.summary,
    };
    const skip = (note: string) => decisions.push({ ...base, retry: false, changes: [], note });
    if (diagnosis.cause === 'success') continue;
    if (diagnosis.cause === 'cancelled') {
      skip('cancelled; never retried');
      continue;
    }
    if (diagnosis.cause === 'unknown') unknown++;
    if (diagnosis.cause === 'unknown' && !includeUnknown) {
      skip('unknown cause; not retried (retryUnknown is off and no hook is set)');
      continue;
    }
    if (diagnosis.cause === 'transient' && !policy.retryTransient) {
      skip('transient failure; retryTransient is off');
      continue;
    }
    const missing = missingLimit(diagnosis, job.limits);
    if (missing) {
      unscalable++;
      skip(`not retried: the ${missing} limit it ran with is unknown, so there is nothing to scale`);
      continue;
    }
    const next = escalate(diagnosis.cause, known(job.limits), observed(state.kind, job.evidence), policy);
    const fit = fitFor(state, job, next);
    const changes = describeChanges(state.kind, job, next, fit.ok ? fit.partition : undefined);
    if (!fit.ok) {
      exceeded++;
      decisions.push({ ...base, retry: false, changes, note: `not retried: the new request ${fit.reason}` });
      continue;
    }
    decisions.push({ ...base, retry: true, changes, note: retryNote(diagnosis) });
    candidates.push({ job, diagnosis, next, partition: fit.partition });
  }

  const plan = (outcome: Plan['outcome'], actions: PlanAction[], stopReason?: StopReason): Plan => ({
    workload: state.workload,
    kind: state.kind,
    attempt,
    createdAt: now.toISOString(),
    outcome,
    ...(stopReason ? { stopReason } : {}),
    decisions,
    actions,
    report: [],
  });

  let result: Plan;
  if (decisions.length === 0) result = plan('stop', [], 'nothing-failed');
  else if (candidates.length === 0)
    result = plan(
      'stop',
      [],
      exceeded > 0 ? 'exceeds-partitions' : unscalable > 0 ? 'limits-unknown' : 'nothing-recoverable',
    );
  else if (counters.attemptsUsed >= policy.maxRetries) result = plan('stop', [], 'max-retries');
  else {
    const hook = unknown > 0 ? policy.unknownFailureHook : undefined;
    result = plan(
      'recover',
      state.kind === 'slurm' ? slurmActions(candidates) : torcActions(state, candidates, attempt, hook),
    );
  }
  result.report = report(result, policy, unknown);
  return result;
}

/** The limit a cause must raise, when the job's record does not carry it. */
function missingLimit(d: Diagnosis, limits: Partial<Limits>): 'memory' | 'time' | undefined {
  if (d.cause === 'oom' && limits.memoryBytes === undefined) return 'memory';
  if (d.cause === 'timeout' && limits.runtimeSeconds === undefined) return 'time';
  return undefined;
}

/**
 * What the run showed. Slurm enforces --time, so a plain job's elapsed time past it is only the kill grace
 * (KillWait/OverTimeLimit: --time=1 ends at ~88 s) and must not inflate the next limit; a Torc runtime is an
 * estimate a job can overrun, so there the elapsed time counts.
 */
function observed(kind: RecoveryState['kind'], evidence: JobEvidence): JobEvidence {
  return kind === 'slurm' ? { ...evidence, elapsedSeconds: undefined } : evidence;
}

/** An unknown limit as 0: never escalated (its cause is another), never changed, never requested. */
const known = (limits: Partial<Limits>): Limits => ({
  memoryBytes: limits.memoryBytes ?? 0,
  runtimeSeconds: limits.runtimeSeconds ?? 0,
});

function fitFor(state: RecoveryState, job: FailedJob, next: Limits) {
  const request = {
    cpus: job.cpus,
    gpus: job.gpus,
    memoryBytes: next.memoryBytes,
    walltimeSeconds: next.runtimeSeconds,
  };
  if (state.kind === 'slurm') {
    const choice = choosePartition(state.profile, request, job.partition);
    return choice.ok ? { ok: true as const, partition: choice.partition.name } : choice;
  }
  const torcRequest = { ...request, walltimeSeconds: next.runtimeSeconds + bufferOf(state) };
  const best = bestPartition(state.profile, torcRequest);
  return best
    ? { ok: true as const, partition: best.name }
    : { ok: false as const, reason: describeMisfit(state.profile, torcRequest) };
}

function describeChanges(kind: RecoveryState['kind'], job: FailedJob, next: Limits, partition?: string) {
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

function retryNote(d: Diagnosis): string {
  if (d.cause === 'oom' || d.cause === 'timeout') return 'retried with more resources';
  if (d.cause === 'transient') return 'retried with the same resources';
  return 'retried as is (unknown causes are included)';
}

function slurmActions(candidates: Candidate[]): PlanAction[] {
  return candidates.map(({ job, next, partition }) => ({
    type: 'resubmit-job' as const,
    jobId: job.id,
    resources: {
      // An unknown limit stays as the job asked for it (the captured script's own options).
      ...(next.memoryBytes ? { mem: formatSlurmMemory(next.memoryBytes) } : {}),
      ...(next.runtimeSeconds ? { time: formatSlurmTime(next.runtimeSeconds) } : {}),
      ...(partition ? { partition } : {}),
    },
  }));
}

function torcActions(
  state: RecoveryState,
  candidates: Candidate[],
  attempt: number,
  hook?: string,
): PlanAction[] {
  const actions: PlanAction[] = [];
  const rrOf = new Map<number, string>();
  const groups = new Map<string, { rr: { id: number; name: string }; next: Limits; jobIds: number[] }>();
  for (const c of candidates) {
    const jobId = Number(c.job.id);
    if (!c.job.rr) continue;
    rrOf.set(jobId, c.job.rr.name);
    const was = known(c.job.limits);
    const changed = c.next.memoryBytes !== was.memoryBytes || c.next.runtimeSeconds !== was.runtimeSeconds;
    if (!changed) continue;
    const key = `${c.job.rr.id}\0${c.next.memoryBytes}\0${c.next.runtimeSeconds}`;
    const g = groups.get(key) ?? { rr: c.job.rr, next: c.next, jobIds: [] };
    g.jobIds.push(jobId);
    groups.set(key, g);
  }
  const newGroups: ResourceGroup[] = [];
  const sorted = [...groups.values()].sort((a, b) => a.rr.id - b.rr.id || a.jobIds[0]! - b.jobIds[0]!);
  const clonesPerRr = new Map<number, number>();
  for (const g of sorted) {
    g.jobIds.sort((a, b) => a - b);
    const members = state.rrMembers?.[g.rr.id];
    // In place only when the change covers every job of the row; otherwise the failing jobs get a copy,
    // so completed and not-yet-run jobs keep their resources (Torc edits shared rows, §10.12).
    const inPlace = members !== undefined && sameSet(members, g.jobIds);
    const n = (clonesPerRr.get(g.rr.id) ?? 0) + 1;
    if (!inPlace) clonesPerRr.set(g.rr.id, n);
    const cloneAs = inPlace ? undefined : `${g.rr.name}_a${attempt}${n > 1 ? `_${n}` : ''}`;
    for (const id of g.jobIds) rrOf.set(id, cloneAs ?? g.rr.name);
    actions.push({
      type: 'update-resources',
      rrId: g.rr.id,
      rrName: g.rr.name,
      ...(cloneAs ? { cloneAs } : {}),
      jobIds: g.jobIds,
      memory: formatTorcMemory(g.next.memoryBytes),
      runtime: formatIsoDuration(g.next.runtimeSeconds),
    });
    const original = candidates.find((c) => c.job.rr?.id === g.rr.id)!.job;
    newGroups.push({
      name: cloneAs ?? g.rr.name,
      cpus: original.cpus,
      gpus: original.gpus,
      nodes: 1,
      memoryBytes: g.next.memoryBytes,
      runtimeSeconds: g.next.runtimeSeconds,
    });
  }
  if (hook) actions.push({ type: 'run-hook', hook });
  const resetIds = candidates.map((c) => Number(c.job.id)).sort((a, b) => a - b);
  actions.push({ type: 'reset-jobs', jobIds: resetIds });

  const unchanged: ResourceGroup[] = candidates
    .filter((c) => c.job.rr && !newGroups.some((g) => g.name === rrOf.get(Number(c.job.id))))
    .map((c) => ({
      name: c.job.rr!.name,
      cpus: c.job.cpus,
      gpus: c.job.gpus,
      nodes: 1,
      ...known(c.job.limits),
    }));
  const pendingGroups = [...(state.pending?.groups ?? []), ...newGroups, ...unchanged];
  const uniqueGroups = [...new Map(pendingGroups.map((g) => [g.name, g])).values()];
  const resetJobs: PendingJob[] = candidates.map((c) => ({
    id: Number(c.job.id),
    rr: rrOf.get(Number(c.job.id)) ?? c.job.rr?.name ?? '',
    waits: c.job.waits ?? false,
  }));
  const allocations = planAllocations(
    [...(state.pending?.jobs ?? []), ...resetJobs],
    uniqueGroups,
    state.profile,
    {
      suffix: `a${attempt}`,
      runnerBufferSeconds: bufferOf(state),
    },
  );
  actions.push({ type: 'submit-allocations', allocations: allocations.allocations });
  return actions;
}

function sameSet(a: number[], b: number[]): boolean {
  const s = new Set(a);
  return a.length === b.length && b.every((x) => s.has(x));
}

function report(plan: Plan, policy: EffectivePolicy, unknown: number): string[] {
  const lines: string[] = [];
  for (const d of plan.decisions) lines.push(decisionLine(d));
  if (plan.outcome === 'stop') {
    if (plan.stopReason === 'max-retries')
      lines.push(`Max retries (${policy.maxRetries}) exceeded. Manual intervention required.`);
    if (plan.stopReason === 'nothing-recoverable') {
      lines.push(`No recoverable jobs found. ${unknown} job(s) failed with unknown causes.`);
    }
    if (plan.stopReason === 'limits-unknown')
      lines.push(
        'No recoverable jobs found: the limits to raise are unknown. Resubmit by hand with a larger request.',
      );
    if (plan.stopReason === 'exceeds-partitions')
      lines.push('No recoverable jobs found: every retry would exceed the largest partition.');
    if (plan.stopReason === 'nothing-failed') lines.push('Nothing to recover: no job failed.');
    return lines;
  }
  for (const a of plan.actions) {
    if (a.type === 'update-resources') {
      lines.push(
        a.cloneAs
          ? `Resource requirements "${a.rrName}" copied to "${a.cloneAs}" for job(s) ${a.jobIds.join(', ')}: memory ${a.memory}, runtime ${a.runtime}`
          : `Resource requirements "${a.rrName}" updated in place: memory ${a.memory}, runtime ${a.runtime}`,
      );
    }
    if (a.type === 'run-hook')
      lines.push(`Running recovery hook "${a.hook}" for ${unknown} unknown failure(s)`);
    if (a.type === 'reset-jobs') lines.push(`Resetting ${a.jobIds.length} job(s): ${a.jobIds.join(', ')}`);
    if (a.type === 'submit-allocations') {
      const total = a.allocations.reduce((n, x) => n + x.count, 0);
      lines.push(`Submitting ${total} allocation(s) in ${a.allocations.length} group(s)`);
      for (const x of a.allocations) {
        lines.push(
          `  ${x.name}: ${x.count} x ${x.nodes} node(s) on ${x.partition}, ${x.walltime}, --mem=${x.mem}, ${x.jobIds.length} job(s)${x.deferred ? ', deferred until ready' : ''}`,
        );
      }
    }
    if (a.type === 'resubmit-job') {
      const r = a.resources;
      lines.push(
        `Resubmitting job ${a.jobId} with --mem=${r.mem} --time=${r.time}${r.partition ? ` --partition=${r.partition}` : ''}`,
      );
    }
  }
  lines.unshift(`Recovery attempt ${plan.attempt}/${policy.maxRetries} for ${plan.workload}`);
  return lines;
}

const CAUSE_TEXT: Record<string, string> = {
  oom: 'OOM detected',
  timeout: 'Timeout detected',
  transient: 'Transient failure',
  unknown: 'Unknown failure',
  cancelled: 'Cancelled',
};

function decisionLine(d: Decision): string {
  const head = `Job ${d.jobId} (${d.jobName}): ${CAUSE_TEXT[d.cause]}`;
  const change = d.changes
    .map(
      (c) => `${c.what === 'partition' ? 'moving partition' : `increasing ${c.what}`} ${c.from} -> ${c.to}`,
    )
    .join(', ');
  if (d.retry) return change ? `${head}, ${change}` : `${head} (${d.summary}), ${d.note}`;
  return `${head} (${d.summary}); ${d.note}`;
}
