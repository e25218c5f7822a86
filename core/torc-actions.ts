import { type PendingJob, planAllocations, type ResourceGroup } from './allocation.ts';
import type { Limits } from './heuristics.ts';
import type { PlanAction } from './plan.ts';
import { type Candidate, known, type RecoveryState } from './recovery-state.ts';
import { formatIsoDuration, formatTorcMemory } from './units.ts';

/**
 * A Torc plan's actions, as `torc recover` orders them: per resource-requirements row an update in place
 * (when every job of the row gets the same change) or a copy for the failing jobs, the hook, the exact
 * reset, and the allocations the reset jobs (and those cancelled behind them) need.
 */
export function torcActions(
  state: RecoveryState,
  candidates: Candidate[],
  attempt: number,
  runnerBufferSeconds: number,
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
    // In place only when the change covers every job of the row (the group's jobs are distinct members of
    // it, so equal counts mean all of them); otherwise the failing jobs get a copy, so completed and
    // not-yet-run jobs keep their resources (Torc edits shared rows).
    const inPlace = state.rrSizes?.[g.rr.id] === g.jobIds.length;
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
      runnerBufferSeconds,
    },
  );
  actions.push({ type: 'submit-allocations', allocations: allocations.allocations });
  return actions;
}
