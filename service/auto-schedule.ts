import { type AutoScheduleDecision, decideAutoSchedule, trackReady } from '../core/auto-schedule.ts';
import type { EventOf } from '../core/events.ts';
import { commandIds, torcWorkflowOf, torcWorkload } from '../core/ids.ts';
import { policyFor } from '../core/policy.ts';
import { profileFor } from './cluster.ts';
import type { ServiceDeps } from './deps.ts';
import { command, history, resultLine, send, updateWorkload } from './effects.ts';

// Auto-schedule: Torc workflows get allocations when jobs are ready and nothing runs them, or when enough
// retry jobs wait (core/auto-schedule.ts decides). Censuses from the forwarder feed it; the scheduled
// function (a one-minute tick locally) runs it; the allocation command's result ends the schedule in flight.

export async function onTorcCensus(deps: ServiceDeps, event: EventOf<'torc.workflow.census'>) {
  const c = event.data;
  const key = torcWorkload(c.workflowId);
  await updateWorkload(deps, key, (existing) => {
    // Censuses can arrive out of order after a redelivery: only a newer one replaces the last.
    if (existing?.census && Date.parse(existing.census.observedAt) >= Date.parse(c.observedAt))
      return undefined;
    return {
      ...existing,
      key,
      kind: 'torc',
      status: existing?.status ?? 'watching',
      updatedAt: deps.now().toISOString(),
      census: c,
      ...(c.owner ? { owner: c.owner } : {}),
      autoSchedule: trackReady(existing?.autoSchedule ?? { count: 0, readySince: {} }, c),
      cluster: event.cluster,
    };
  });
}

/**
 * The scheduled function: auto-schedule for every Torc workflow with a census. The decision and its
 * record (count, schedule in flight) are one conditional write, so two ticks at once schedule once: the
 * loser re-reads, sees the schedule in flight and does nothing.
 */
export async function runAutoSchedule(deps: ServiceDeps): Promise<string[]> {
  const scheduled: string[] = [];
  for (const w of await deps.store.listWorkloads()) {
    const workflowId = torcWorkflowOf(w.key);
    if (w.kind !== 'torc' || workflowId === undefined || !w.census) continue;
    let made: { id: string; decision: Extract<AutoScheduleDecision, { schedule: true }> } | undefined;
    let stalled: string | undefined;
    // A workflow whose cluster's partitions are not known yet waits for the next tick.
    const profile = w.cluster
      ? await profileFor(deps, w.cluster).catch(() => undefined)
      : deps.config.profile;
    if (!profile) continue;
    await updateWorkload(deps, w.key, (current) => {
      made = undefined;
      stalled = undefined;
      if (!current?.census) return undefined;
      const state = current.autoSchedule ?? { count: 0, readySince: {} };
      const decision = decideAutoSchedule(
        current.census,
        state,
        policyFor(deps.config.policy, w.key).autoSchedule,
        profile,
        deps.now(),
        deps.config.torc.runnerBufferSeconds,
      );
      if (!decision.schedule) {
        // A stall is reported once (a person must act), not on every tick.
        if (!decision.stall || state.stalled === decision.why) return undefined;
        stalled = decision.why;
        return { ...current, status: 'needs-attention', autoSchedule: { ...state, stalled: decision.why } };
      }
      const id = commandIds.schedule(w.key, state.count + 1);
      made = { id, decision };
      const { stalled: _, ...rest } = state;
      return { ...current, autoSchedule: { ...rest, count: state.count + 1, inFlight: id } };
    });
    if (stalled) await history(deps, w.key, [`Auto-schedule cannot go on: ${stalled}`]);
    if (!made) continue;
    const { id, decision: d } = made;
    await history(deps, w.key, [
      `Auto-schedule: ${d.why}; submitting ${d.allocations.reduce((n, a) => n + a.count, 0)} allocation(s) for job(s) ${d.jobIds.join(', ')}`,
    ]);
    await send(deps, [
      command({
        type: 'torc.submit-allocations',
        id,
        workload: w.key,
        createdAt: deps.now().toISOString(),
        workflowId,
        allocations: d.allocations,
      }),
    ]);
    scheduled.push(id);
  }
  return scheduled;
}

/** An auto-schedule's allocations were submitted, or not: either way the next tick may decide again. */
export async function onScheduleResult(deps: ServiceDeps, event: EventOf<'relay.command.result'>) {
  const r = event.data;
  await updateWorkload(deps, r.workload, (current) =>
    current?.autoSchedule?.inFlight === r.commandId
      ? {
          ...current,
          // A refused or failed submission will not mend itself by being tried again: a person decides.
          ...(r.ok ? {} : { status: 'needs-attention' as const }),
          autoSchedule: {
            ...current.autoSchedule,
            inFlight: undefined,
            lastScheduledAt: deps.now().toISOString(),
          },
        }
      : undefined,
  );
  await history(deps, r.workload, [resultLine(r)]);
}
