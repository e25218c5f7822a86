import type { EventOf } from '../core/events.ts';
import { torcWorkflowOf, torcWorkload } from '../core/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { ensureWorkload, history } from './effects.ts';
import { lastCompletion, recoverRun, waitFor } from './torc-recovery.ts';

// A completed Torc run, and what its recovery waits for: Torc's precondition (nothing of the run still
// pending or running) and the failed jobs' results. The tick (recheckWaitingRuns) recovers a waiting run
// once a census observed after it shows no live allocation, or its results are in or have stopped coming;
// after `torc.allocationWaitSeconds` of live allocations a person is asked.

export async function onTorcWorkflowCompleted(deps: ServiceDeps, event: EventOf<'torc.workflow.completed'>) {
  const page = event.data;
  const workload = torcWorkload(page.workflowId);
  // A large workflow's completion comes in pages: each is kept, and whichever page completes the set
  // plans (pages handled side by side both may; the attempt's claim lets one of them act).
  await deps.store.putCompletionPage(workload, page);
  const c = await lastCompletion(deps, workload, page.runId);
  if (!c) return;
  // No recovery while allocations of the run may still start or run jobs: a runner still alive would
  // claim the reset jobs with their old resources.
  if (c.liveAllocations > 0)
    return waitFor(deps, c, event.cluster, event.occurredAt, { live: c.liveAllocations });
  await recoverRun(deps, c, event.cluster, event.occurredAt);
}

/** The tick: each waiting run is recovered once its allocations are gone, or reported once it waited too long. */
export async function recheckWaitingRuns(deps: ServiceDeps): Promise<void> {
  for (const w of await deps.store.listWorkloads()) {
    const waiting = w.waiting;
    const workflowId = torcWorkflowOf(w.key);
    if (!waiting || workflowId === undefined || !w.cluster) continue;
    const census = w.census;
    // Waiting for results: recovery itself decides whether they are in or have stopped coming.
    const clear =
      waiting.live === 0 ||
      (census && Date.parse(census.observedAt) > Date.parse(waiting.since) && census.liveAllocations === 0);
    if (clear) {
      const c = await lastCompletion(deps, w.key, waiting.runId);
      if (!c) continue;
      if (waiting.live > 0) await history(deps, w.key, [`Run ${waiting.runId}: its allocations have ended`]);
      await recoverRun(deps, { ...c, liveAllocations: 0 }, w.cluster, waiting.occurredAt);
      continue;
    }
    const waited = (deps.now().getTime() - Date.parse(waiting.since)) / 1000;
    if (waiting.reported || waited < deps.config.torc.allocationWaitSeconds) continue;
    const live = census?.liveAllocations ?? waiting.live;
    await ensureWorkload(deps, w.key, 'torc', 'needs-attention', { waiting: { ...waiting, reported: true } });
    await history(deps, w.key, [
      `Run ${waiting.runId} has waited ${Math.round(waited)} s for ${live} allocation(s) that are still pending or running: recovery has not started. Cancel them (scancel) if they will not run, or let them end; recovery starts when none is left.`,
    ]);
  }
}
