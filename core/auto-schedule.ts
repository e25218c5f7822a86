import type { PlannedAllocation } from './allocation.ts';
import { type PendingJob, planAllocations } from './allocation.ts';
import type { EventOf } from './events.ts';
import type { EffectivePolicy } from './policy.ts';
import type { Profile } from './profiles.ts';
import { resourceGroup } from './torc-state.ts';

export type TorcCensus = EventOf<'torc.workflow.census'>['data'];

/** Durable between ticks (a restart keeps the cooldown; Torc keeps it in memory). */
export interface AutoScheduleState {
  /** Schedules made so far: names each schedule's command and allocations. */
  count: number;
  /** The first census: the cooldown runs from here until the first schedule (as Torc's watch start). */
  watchingSince?: string;
  lastScheduledAt?: string;
  /** A schedule whose result has not come back: nothing more until it does (no duplicate allocations). */
  inFlight?: string;
  /** When each ready job was first seen ready: the stranded clock (Torc measures time since its last schedule). */
  readySince: Record<string, string>;
  /** The stall last reported (so it is reported once), until a schedule goes out. */
  stalled?: string;
  /** Since when only `pending_failed` jobs are left unfinished, with nothing running or allocated. */
  heldSince?: string;
}

export type AutoScheduleDecision =
  /** `stall`: nothing will change by waiting — a person must act (the workflow needs attention). */
  | { schedule: false; why: string; stall?: boolean }
  | { schedule: true; why: string; jobIds: number[]; allocations: PlannedAllocation[] };

/**
 * Torc's auto-schedule, on a tick, with its bugs fixed: no live
 * allocation and jobs ready → schedule them now; otherwise at least `threshold` retry jobs (attempt > 1)
 * waiting, or any retry job waiting longer than the stranded timeout, schedule after the cooldown — and
 * only the retry jobs, not every pending job. A census older than the last schedule is not trusted (its
 * allocations may not show yet), and a schedule still in flight blocks the next.
 */
export function decideAutoSchedule(
  census: TorcCensus,
  state: AutoScheduleState,
  policy: EffectivePolicy['autoSchedule'],
  profile: Profile,
  now: Date,
  runnerBufferSeconds: number,
): AutoScheduleDecision {
  // Torc holds pending_failed jobs for a decision and nothing else is left to run: no event will come.
  if (state.heldSince && (now.getTime() - Date.parse(state.heldSince)) / 1000 >= policy.cooldownSeconds)
    return {
      schedule: false,
      why: `${census.pendingFailed} job(s) are pending_failed and nothing else is ready, running or allocated: Torc holds them for a decision (reset them to retry, or fail them); nothing happens until then`,
      stall: true,
    };
  if (!policy.enabled) {
    // Off, with jobs ready and nothing to run them for longer than a cooldown: nobody else will.
    const oldest = Math.min(
      ...census.ready.map((j) => Date.parse(state.readySince[j.id] ?? census.observedAt)),
    );
    const stuck =
      census.liveAllocations === 0 &&
      census.ready.length > 0 &&
      (now.getTime() - oldest) / 1000 >= policy.cooldownSeconds;
    return stuck
      ? {
          schedule: false,
          why: `${census.readyTotal ?? census.ready.length} job(s) ready and no live allocation, and auto-schedule is off: submit allocations, or turn auto-schedule on`,
          stall: true,
        }
      : { schedule: false, why: 'auto-schedule is off' };
  }
  if (state.inFlight) return { schedule: false, why: `waiting for ${state.inFlight}` };
  if (state.lastScheduledAt && Date.parse(census.observedAt) <= Date.parse(state.lastScheduledAt))
    return { schedule: false, why: 'no census since the last schedule' };
  if (census.ready.length === 0) return { schedule: false, why: 'no job is ready' };

  let chosen = census.ready;
  let why: string;
  if (census.liveAllocations === 0) {
    why = `no live allocation and ${census.readyTotal ?? census.ready.length} job(s) ready`;
  } else {
    const from = state.lastScheduledAt ?? state.watchingSince;
    const since = from ? (now.getTime() - Date.parse(from)) / 1000 : Infinity;
    if (since < policy.cooldownSeconds) return { schedule: false, why: 'cooldown' };
    const retries = census.ready.filter((j) => j.attemptId > 1);
    const waited = (id: number) =>
      (now.getTime() - Date.parse(state.readySince[id] ?? now.toISOString())) / 1000;
    const stranded =
      policy.strandedTimeoutSeconds > 0 && retries.some((j) => waited(j.id) >= policy.strandedTimeoutSeconds);
    if (retries.length >= policy.threshold)
      why = `${retries.length} retry job(s) waiting (threshold ${policy.threshold})`;
    else if (stranded)
      why = `${retries.length} retry job(s) stranded for ${policy.strandedTimeoutSeconds} s or more`;
    else
      return {
        schedule: false,
        why: `${retries.length} retry job(s) waiting, below threshold ${policy.threshold}`,
      };
    chosen = retries;
  }

  const rrs = new Map(census.resourceRequirements.map((r) => [r.id, r]));
  const groups = [...new Set(chosen.map((j) => j.rrId))].flatMap((id) => {
    const rr = rrs.get(id);
    return rr ? [resourceGroup(rr)] : [];
  });
  const jobs: PendingJob[] = chosen.flatMap((j) =>
    rrs.has(j.rrId) ? [{ id: j.id, rr: rrs.get(j.rrId)!.name, waits: false }] : [],
  );
  const plan = planAllocations(jobs, groups, profile, { suffix: `s${state.count + 1}`, runnerBufferSeconds });
  if (plan.allocations.length === 0)
    return {
      schedule: false,
      why: `nothing fits a partition: ${plan.unplaceable.map((u) => u.reason).join('; ')}`,
      stall: true,
    };
  return { schedule: true, why, jobIds: jobs.map((j) => j.id), allocations: plan.allocations };
}

/** The stranded clock: ready jobs keep their first-seen time, jobs no longer ready are forgotten. */
export function trackReady(state: AutoScheduleState, census: TorcCensus): AutoScheduleState {
  const readySince: Record<string, string> = {};
  for (const j of census.ready) readySince[j.id] = state.readySince[j.id] ?? census.observedAt;
  const held =
    census.pendingFailed > 0 &&
    census.ready.length === 0 &&
    census.active === 0 &&
    census.liveAllocations === 0;
  const { heldSince: _, ...rest } = state;
  return {
    ...rest,
    watchingSince: state.watchingSince ?? census.observedAt,
    readySince,
    ...(held ? { heldSince: state.heldSince ?? census.observedAt } : {}),
  };
}
