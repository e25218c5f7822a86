import { RUNNER_BUFFER_SECONDS } from './allocation.ts';
import { rewiredDependency } from './dependency.ts';
import { type Diagnosis, diagnose } from './diagnose.ts';
import type { JobEvidence } from './evidence.ts';
import { groupBy } from './group-by.ts';
import { escalate, type Limits } from './heuristics.ts';
import type { ManualMark } from './manual.ts';
import { choosePartition, describeAdmission, describeMisfit, partitionChooser } from './partition.ts';
import type { Decision, Plan, PlanAction, StopReason } from './plan.ts';
import { decisionOf, describeChanges, retryNote } from './plan-decision.ts';
import { planReport } from './plan-report.ts';
import type { EffectivePolicy } from './policy.ts';
import type { AttemptCount } from './ports.ts';
import { type Candidate, type FailedJob, known, type RecoveryState } from './recovery-state.ts';
import {
  cancelledForItsDependency,
  environmentCaveat,
  environmentProblem,
  slurmActions,
} from './slurm-retry.ts';
import { torcActions } from './torc-actions.ts';

export interface Counters {
  /** Automatic attempts used (max retries counts these). */
  attemptsUsed: number;
  /** Attempts claimed, manual ones included (the next attempt's number follows them); attemptsUsed if absent. */
  claimed?: number;
  /** A person's attempt by hand: planned past max retries, and marked as theirs. */
  manual?: ManualMark;
}

/** A chain's claimed attempts as the planner counts them: max retries counts the automatic ones only. */
export const countersOf = (count: AttemptCount, manual?: ManualMark): Counters => ({
  attemptsUsed: count.claimed - count.manual,
  claimed: count.claimed,
  ...(manual ? { manual } : {}),
});

const bufferOf = (state: RecoveryState) => state.runnerBufferSeconds ?? RUNNER_BUFFER_SECONDS;

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
  const attempt = (counters.claimed ?? counters.attemptsUsed) + 1;
  const includeUnknown = policy.retryUnknown || policy.unknownFailureHook !== undefined;
  const decisions: Decision[] = [];
  const candidates: Candidate[] = [];
  let unknown = 0;
  let exceeded = 0;
  let unscalable = 0;
  let incomplete = 0;
  let cancelledByOwner = 0;
  let waiting = 0;

  const chooser = partitionChooser(state.profile);
  for (const job of state.jobs) {
    const diagnosis = job.diagnosis ?? diagnose(job.evidence);
    const skip = (note: string) => decisions.push(decisionOf(job, diagnosis, false, [], note));
    if (diagnosis.cause === 'success') continue;
    if (diagnosis.cause === 'cancelled' && cancelledForItsDependency(job)) {
      // Slurm cancelled it because a job it waited on failed (kill_invalid_depend): once that job is
      // resubmitted, so is this one, waiting on the new job; until then there is nothing to submit.
      const dependency = job.prerequisites?.length
        ? rewiredDependency(job.dependency!, job.prerequisites)
        : undefined;
      if (!dependency) {
        waiting++;
        skip(
          `cancelled by Slurm because a job it waited on (${job.dependency}) failed: resubmitted once that job is`,
        );
        continue;
      }
      decisions.push(
        decisionOf(
          job,
          diagnosis,
          true,
          [],
          `cancelled by Slurm because a job it waited on failed: resubmitted to wait on its resubmission (${dependency})`,
        ),
      );
      candidates.push({ job, diagnosis, next: known(job.limits), dependency });
      continue;
    }
    if (diagnosis.cause === 'cancelled') {
      // The owner's own scancel is their decision: recorded, never retried, nobody to tell. Anyone else's
      // (an administrator, the scheduler) leaves the owner something to look at.
      const by = job.evidence.cancelledByUid;
      if (by !== undefined && by === job.owner?.uid) {
        cancelledByOwner++;
        skip(`cancelled by its owner ${job.owner.user}, not retried`);
      } else
        skip(
          by === undefined
            ? 'cancelled, not retried'
            : `cancelled by uid ${by}, not by its owner${job.owner ? ` ${job.owner.user}` : ''}: not retried`,
        );
      continue;
    }
    const problem = job.problem ?? environmentProblem(job, policy);
    if (problem) {
      incomplete++;
      skip(`not retried: ${problem}; needs attention`);
      continue;
    }
    if (diagnosis.cause === 'unknown') unknown++;
    if (diagnosis.cause === 'unknown' && !includeUnknown && !job.nextLimits) {
      skip('unknown cause; not retried (retryUnknown is off and no hook is set)');
      continue;
    }
    if (diagnosis.cause === 'transient' && !policy.retryTransient) {
      skip('transient failure; retryTransient is off');
      continue;
    }
    const missing = missingLimit(diagnosis, { ...job.limits, ...job.nextLimits });
    if (missing) {
      unscalable++;
      skip(`not retried: the ${missing} limit it ran with is unknown, so there is nothing to scale`);
      continue;
    }
    // The other limit is raised too only where the job's record has it (an unknown one is never scaled).
    const otherKnown =
      diagnosis.also === 'memory'
        ? job.limits.memoryBytes !== undefined
        : job.limits.runtimeSeconds !== undefined;
    const also = otherKnown ? diagnosis.also : undefined;
    const { by, ...set } = job.nextLimits ?? { by: '' };
    const next = {
      ...escalate(diagnosis.cause, known(job.limits), observed(state.kind, job.evidence), policy, also),
      ...set,
    };
    const fit = fitFor(state, job, next, chooser);
    const changes = describeChanges(state.kind, job, next, fit.ok ? fit.partition : undefined);
    if (!fit.ok) {
      exceeded++;
      decisions.push(
        decisionOf(job, diagnosis, false, changes, `not retried: the new request ${fit.reason}`),
      );
      continue;
    }
    const decision = decisionOf(
      job,
      diagnosis,
      true,
      changes,
      by ? `retried with the resources ${by} set` : retryNote(diagnosis, job),
    );
    if (job.environment === 'not-stored') decision.caveats = [environmentCaveat(job)];
    decisions.push(decision);
    candidates.push({ job, diagnosis, next, partition: fit.partition });
  }
  if (state.kind === 'torc') shareRowChanges(candidates, decisions);

  const plan = (outcome: Plan['outcome'], actions: PlanAction[], stopReason?: StopReason): Plan => ({
    workload: state.workload,
    kind: state.kind,
    attempt,
    createdAt: now.toISOString(),
    outcome,
    ...(counters.manual ? { manual: { ...counters.manual, automaticUsed: counters.attemptsUsed } } : {}),
    ...(stopReason ? { stopReason } : {}),
    decisions,
    actions,
    report: [],
  });

  let result: Plan;
  if (decisions.length === 0) result = plan('stop', [], 'nothing-failed');
  else if (cancelledByOwner === decisions.length) result = plan('stop', [], 'cancelled-by-owner');
  else if (waiting > 0 && candidates.length === 0) result = plan('stop', [], 'waits-for-prerequisite');
  else if (candidates.length === 0)
    result = plan(
      'stop',
      [],
      exceeded > 0
        ? 'exceeds-partitions'
        : unscalable > 0
          ? 'limits-unknown'
          : incomplete > 0
            ? 'records-incomplete'
            : 'nothing-recoverable',
    );
  else if (!counters.manual && counters.attemptsUsed >= policy.maxRetries)
    result = plan('stop', [], 'max-retries');
  else {
    const hook = unknown > 0 ? policy.unknownFailureHook : undefined;
    result = plan(
      'recover',
      state.kind === 'slurm'
        ? slurmActions(candidates)
        : torcActions(state, candidates, attempt, bufferOf(state), hook),
    );
  }
  result.report = planReport(result, policy.maxRetries, unknown);
  return result;
}

/**
 * Torc: the failed jobs of one row that get the same kind of fix get one change, sized from the largest
 * need among them (as Torc sizes a row from its largest peak), so a row is copied once, not once per
 * peak. Each decision then says the change its job really gets.
 */
function shareRowChanges(candidates: Candidate[], decisions: Decision[]) {
  const kinds = (c: Candidate) => {
    const was = known(c.job.limits);
    return `${c.next.memoryBytes !== was.memoryBytes ? 'm' : ''}${c.next.runtimeSeconds !== was.runtimeSeconds ? 't' : ''}`;
  };
  const decisionOf = new Map(decisions.map((d) => [d.jobId, d]));
  const groups = groupBy(
    candidates.filter((c) => c.job.rr),
    (c) => `${c.job.rr!.id}\0${kinds(c)}`,
  );
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    // A loop, not Math.max(...group): past ~120,000 arguments a call overflows the stack.
    const next = { memoryBytes: 0, runtimeSeconds: 0 };
    for (const c of group) {
      next.memoryBytes = Math.max(next.memoryBytes, c.next.memoryBytes);
      next.runtimeSeconds = Math.max(next.runtimeSeconds, c.next.runtimeSeconds);
    }
    for (const c of group) {
      // Most of a row's jobs already need what the largest needs: their decision says so already.
      const same = c.next.memoryBytes === next.memoryBytes && c.next.runtimeSeconds === next.runtimeSeconds;
      c.next = next;
      const d = decisionOf.get(c.job.id);
      if (d && !same) d.changes = describeChanges('torc', c.job, next, c.partition);
    }
  }
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

function fitFor(
  state: RecoveryState,
  job: FailedJob,
  next: Limits,
  chooser: ReturnType<typeof partitionChooser>,
) {
  const request = {
    cpus: job.cpus,
    gpus: job.gpus,
    memoryBytes: next.memoryBytes,
    walltimeSeconds: next.runtimeSeconds,
  };
  // Only the partitions that admit the job's account and QOS (a Torc allocation's are not known here).
  const who = job.admission ?? {};
  const profile = chooser.admitting(who);
  if (!profile)
    return {
      ok: false as const,
      reason: `fits no partition of ${state.profile.name}: none admits ${describeAdmission(who)}`,
    };
  if (state.kind === 'slurm') {
    const choice = choosePartition(profile, request, job.partition);
    return choice.ok ? { ok: true as const, partition: choice.partition.name } : choice;
  }
  const torcRequest = { ...request, walltimeSeconds: next.runtimeSeconds + bufferOf(state) };
  const best = chooser.best(profile, torcRequest);
  return best
    ? { ok: true as const, partition: best.name }
    : { ok: false as const, reason: describeMisfit(profile, torcRequest) };
}
