import type { EventOf } from '../core/events.ts';
import { torcWorkflowOf, torcWorkload } from '../core/ids.ts';
import type { TorcCompletion } from '../core/torc-state.ts';
import type { ServiceDeps } from './deps.ts';
import { ensureWorkload, history, updateWorkload } from './effects.ts';
import { lastCompletion, recoverRun } from './torc-recovery.ts';

// A completed Torc run, and Torc's precondition for its recovery: nothing of the run may still be pending or running. A completion that
// arrives while allocations are live waits; the tick (service: recheckWaitingRuns) recovers it once a
// census observed after it shows none, or says after `torc.allocationWaitSeconds` that a person must act.

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
  if (c.liveAllocations > 0) return waitForAllocations(deps, c, event.cluster, event.occurredAt);
  await recoverRun(deps, c, event.cluster, event.occurredAt);
}

/** The completed run waits: said once in history, re-checked by the tick. */
async function waitForAllocations(deps: ServiceDeps, c: TorcCompletion, cluster: string, occurredAt: string) {
  const key = torcWorkload(c.workflowId);
  let fresh = false;
  await updateWorkload(deps, key, (w) => {
    fresh = w?.waiting?.runId !== c.runId;
    if (!fresh) return undefined;
    return {
      ...w,
      key,
      kind: 'torc',
      status: w?.status ?? 'watching',
      updatedAt: deps.now().toISOString(),
      cluster,
      lastRun: c.runId,
      waiting: { runId: c.runId, since: deps.now().toISOString(), occurredAt, live: c.liveAllocations },
    };
  });
  if (fresh)
    await history(deps, key, [
      `Workflow ${c.workflowId} run ${c.runId} complete, but ${c.liveAllocations} allocation(s) are still pending or running: recovery waits until they end (at most ${deps.config.torc.allocationWaitSeconds} s before a person is asked)`,
    ]);
}

/** The tick: each waiting run is recovered once its allocations are gone, or reported once it waited too long. */
export async function recheckWaitingRuns(deps: ServiceDeps): Promise<void> {
  for (const w of await deps.store.listWorkloads()) {
    const waiting = w.waiting;
    const workflowId = torcWorkflowOf(w.key);
    if (!waiting || workflowId === undefined || !w.cluster) continue;
    const census = w.census;
    const clear =
      census && Date.parse(census.observedAt) > Date.parse(waiting.since) && census.liveAllocations === 0;
    if (clear) {
      const c = await lastCompletion(deps, w.key, waiting.runId);
      if (!c) continue;
      await history(deps, w.key, [`Run ${waiting.runId}: its allocations have ended; recovering`]);
      await recoverRun(deps, { ...c, liveAllocations: 0 }, w.cluster, waiting.occurredAt);
      // Whatever recovery did (an attempt, a stop, or finding the attempt already made), the run waits no more.
      await updateWorkload(deps, w.key, (now) =>
        now?.waiting?.runId === waiting.runId ? { ...now, waiting: undefined } : undefined,
      );
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
