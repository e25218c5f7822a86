import { type AutoScheduleDecision, decideAutoSchedule, trackReady } from '../core/auto-schedule.ts';
import type { Command } from '../core/commands.ts';
import { diagnose } from '../core/diagnose.ts';
import type { EventOf } from '../core/events.ts';
import { evidenceFromTorcEvent } from '../core/evidence.ts';
import type { Plan } from '../core/plan.ts';
import { planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import { AttemptAlreadyClaimedError, type AttemptRecord, type WorkloadStatus } from '../core/ports.ts';
import {
  type RecordedTorcJob,
  type TorcCompletion,
  torcRecoveryState,
  torcWorkflowOf,
  torcWorkload,
} from '../core/torc-state.ts';
import { ensureWorkload, history, send, updateWorkload } from './effects.ts';
import type { ServiceDeps } from './worker.ts';

// The Torc path of the worker: like `torc recover`, but on the completion event, with each step a command
// the relay executes and reports. Steps run strictly in order: the next command is sent only when the
// previous one succeeded, so a failing hook (or any failing step) stops the recovery where it failed.

const jobKey = (cluster: string, workflowId: number, jobId: number) =>
  `torc:${cluster}:${workflowId}:${jobId}`;

export async function onTorcJobFinished(deps: ServiceDeps, event: EventOf<'torc.job.finished'>) {
  const d = event.data;
  const evidence = evidenceFromTorcEvent(event);
  const workload = torcWorkload(d.workflowId);
  await deps.store.putJob({
    key: jobKey(event.cluster, d.workflowId, d.jobId),
    workload,
    jobId: String(d.jobId),
    name: d.jobName,
    evidence,
    diagnosis: diagnose(evidence),
    lineage: workload,
    attempt: d.attemptId,
    decided: false,
    updatedAt: deps.now().toISOString(),
    torc: { runId: d.runId, rr: d.resourceRequirements },
  });
  if (!(await deps.store.getWorkload(workload))) await ensureWorkload(deps, workload, 'torc', 'watching');
}

/** The failed jobs of the completed run, as recorded from their job events (posted just before). */
async function failedJobs(
  deps: Pick<ServiceDeps, 'store'>,
  cluster: string,
  c: TorcCompletion,
): Promise<RecordedTorcJob[]> {
  const records = await Promise.all(
    c.failedJobIds.map((id) => deps.store.getJob(jobKey(cluster, c.workflowId, id))),
  );
  const missing = c.failedJobIds.filter((_, i) => records[i]?.torc?.runId !== c.runId);
  // The forwarder posts results before the completion; a gap is a delivery still in flight: retry later.
  if (missing.length)
    throw new Error(`results of job(s) ${missing.join(', ')} of run ${c.runId} not recorded yet`);
  return records.map((r) => ({
    id: Number(r!.jobId),
    name: r!.name,
    evidence: r!.evidence,
    ...(r!.diagnosis ? { diagnosis: r!.diagnosis } : {}),
    rr: r!.torc!.rr,
  }));
}

/** Dry-run and the worker share this: the plan for a workflow's last completion. */
export async function planTorc(
  deps: Pick<ServiceDeps, 'store' | 'config' | 'now'>,
  cluster: string,
  completion: TorcCompletion,
): Promise<Plan> {
  const workload = torcWorkload(completion.workflowId);
  const state = torcRecoveryState(
    completion,
    await failedJobs(deps, cluster, completion),
    deps.config.profile,
    deps.config.torc.runnerBufferSeconds,
  );
  const used = await deps.store.countAttempts(workload);
  return planRecovery(state, policyFor(deps.config.policy, workload), { attemptsUsed: used }, deps.now());
}

export async function onTorcWorkflowCompleted(deps: ServiceDeps, event: EventOf<'torc.workflow.completed'>) {
  const c = event.data;
  const workload = torcWorkload(c.workflowId);
  // Redelivered after its attempt was claimed (a crash before the event was marked handled): the same
  // attempt's first step again — never a second attempt for one completion. Its id is deduplicated.
  const prior = (await deps.store.listAttempts(workload)).find((a) => a.source === event.id);
  if (prior) return send(deps, torcCommands(prior.plan, c.workflowId).slice(0, 1));
  const plan = await planTorc(deps, event.cluster, c);
  const head = `Workflow ${c.workflowId} run ${c.runId} complete${c.isCanceled ? ' (canceled)' : ''}`;
  const keep = { lastCompletion: c, cluster: event.cluster };
  if (plan.outcome === 'stop') {
    const status: WorkloadStatus =
      plan.stopReason === 'nothing-failed'
        ? 'healthy'
        : plan.stopReason === 'max-retries'
          ? 'exhausted'
          : 'needs-attention';
    await ensureWorkload(deps, workload, 'torc', status, keep);
    await history(deps, workload, [head, ...plan.report]);
    return;
  }
  const commands = torcCommands(plan, c.workflowId);
  try {
    await deps.store.claimAttempt({
      lineage: workload,
      attempt: plan.attempt,
      workload,
      source: event.id,
      plan,
      commandIds: commands.map((x) => x.id),
      createdAt: deps.now().toISOString(),
    });
  } catch (error) {
    // Another worker claimed this attempt number for another event first: that one recovers.
    if (error instanceof AttemptAlreadyClaimedError) return;
    throw error;
  }
  await ensureWorkload(deps, workload, 'torc', 'recovering', keep);
  await history(deps, workload, [head, ...plan.report]);
  await send(deps, commands.slice(0, 1));
}

/** The plan's actions as relay commands, in execution order, with ids fixed by workflow and attempt. */
export function torcCommands(plan: Plan, workflowId: number): Command[] {
  const base = (step: number, kind: string) => ({
    id: `${plan.workload}:a${plan.attempt}:${step}-${kind}`,
    workload: plan.workload,
    createdAt: plan.createdAt,
    workflowId,
  });
  return plan.actions.flatMap((a, step): Command[] => {
    switch (a.type) {
      case 'update-resources':
        return [
          {
            ...base(step, 'resources'),
            type: 'torc.update-resources',
            resourceRequirementsId: a.rrId,
            ...(a.cloneAs ? { cloneAs: a.cloneAs } : {}),
            jobIds: a.jobIds,
            memory: a.memory,
            runtime: a.runtime,
          },
        ];
      case 'run-hook':
        return [{ ...base(step, 'hook'), type: 'hook.run', hook: a.hook }];
      case 'reset-jobs':
        return [{ ...base(step, 'reset'), type: 'torc.reset-jobs', jobIds: a.jobIds, reinitialize: true }];
      case 'submit-allocations': {
        // Deferred groups wait until their jobs are ready; auto-schedule submits them then.
        const now = a.allocations.filter((x) => !x.deferred);
        return now.length
          ? [{ ...base(step, 'allocations'), type: 'torc.submit-allocations', allocations: now }]
          : [];
      }
      default:
        return [];
    }
  });
}

const STEP: Record<string, string> = {
  'torc.update-resources': 'updating resource requirements',
  'hook.run': 'the recovery hook',
  'torc.reset-jobs': 'resetting and reinitializing jobs',
  'torc.submit-allocations': 'submitting allocations',
};

/** A step's result: the next step, or the end of the attempt, or a stop with what went wrong. */
export async function continueTorcRecovery(
  deps: ServiceDeps,
  attempt: AttemptRecord,
  event: EventOf<'relay.command.result'>,
) {
  const r = event.data;
  const workflowId = torcWorkflowOf(attempt.workload)!;
  const commands = torcCommands(attempt.plan, workflowId);
  const index = commands.findIndex((c) => c.id === r.commandId);
  const command = commands[index];
  if (!command) return;
  const what = STEP[command.type] ?? command.type;
  const output = r.output.trim();
  if (!r.ok) {
    await ensureWorkload(deps, attempt.workload, 'torc', 'needs-attention');
    await history(deps, attempt.workload, [
      `Attempt ${attempt.attempt}: recovery stopped at ${what}: ${r.error ?? 'failed'}`,
      ...(output ? [`  output: ${output}`] : []),
    ]);
    return;
  }
  const lines = [`Attempt ${attempt.attempt}: ${what} done${r.alreadyDone ? ' (already done before)' : ''}`];
  if (command.type === 'hook.run' && output) lines.push(`  output: ${output}`);
  if (command.type === 'torc.submit-allocations')
    lines.push(`  ${r.slurmJobIds.length} allocation(s) submitted: ${r.slurmJobIds.join(', ')}`);
  await history(deps, attempt.workload, lines);
  await send(deps, commands.slice(index + 1, index + 2));
}

/** Orphan cleanup for one allocation; the same id whichever source saw it end, so it runs once. */
export function cleanupCommand(workflowId: number, slurmJobId: string, createdAt: string): Command {
  const workload = torcWorkload(workflowId);
  return {
    type: 'torc.cleanup-allocation',
    id: `${workload}:cleanup:${slurmJobId}`,
    workload,
    createdAt,
    workflowId,
    slurmJobId,
  };
}

/** The forwarder saw a live allocation missing from squeue (its jobcomp event may never have come). */
export async function onAllocationEnded(deps: ServiceDeps, event: EventOf<'slurm.allocation.ended'>) {
  await send(deps, [cleanupCommand(event.data.workflowId, event.data.slurmJobId, deps.now().toISOString())]);
}

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
      autoSchedule: trackReady(existing?.autoSchedule ?? { count: 0, readySince: {} }, c),
      cluster: event.cluster,
    };
  });
}

/**
 * The scheduled function (a one-minute tick locally): auto-schedule for every Torc workflow with a census.
 * The decision and its record (count, schedule in flight) are one conditional write, so two ticks at once
 * schedule once: the loser re-reads, sees the schedule in flight and does nothing.
 */
export async function runAutoSchedule(deps: ServiceDeps): Promise<string[]> {
  const scheduled: string[] = [];
  for (const w of await deps.store.listWorkloads()) {
    const workflowId = torcWorkflowOf(w.key);
    if (w.kind !== 'torc' || workflowId === undefined || !w.census) continue;
    let made: { id: string; decision: Extract<AutoScheduleDecision, { schedule: true }> } | undefined;
    await updateWorkload(deps, w.key, (current) => {
      made = undefined;
      if (!current?.census) return undefined;
      const state = current.autoSchedule ?? { count: 0, readySince: {} };
      const policy = policyFor(deps.config.policy, w.key).autoSchedule;
      const decision = decideAutoSchedule(
        current.census,
        state,
        policy,
        deps.config.profile,
        deps.now(),
        deps.config.torc.runnerBufferSeconds,
      );
      if (!decision.schedule) return undefined;
      const id = `${w.key}:sched:s${state.count + 1}`;
      made = { id, decision };
      return { ...current, autoSchedule: { ...state, count: state.count + 1, inFlight: id } };
    });
    if (!made) continue;
    const { id, decision: d } = made;
    await history(deps, w.key, [
      `Auto-schedule: ${d.why}; submitting ${d.allocations.reduce((n, a) => n + a.count, 0)} allocation(s) for job(s) ${d.jobIds.join(', ')}`,
    ]);
    await send(deps, [
      {
        type: 'torc.submit-allocations',
        id,
        workload: w.key,
        createdAt: deps.now().toISOString(),
        workflowId,
        allocations: d.allocations,
      },
    ]);
    scheduled.push(id);
  }
  return scheduled;
}

/** Results of Torc commands outside a recovery attempt: orphan cleanup and auto-schedule. */
export async function onTorcSideResult(
  deps: ServiceDeps,
  event: EventOf<'relay.command.result'>,
): Promise<boolean> {
  const r = event.data;
  const workload = r.commandId.split(':')[0]!;
  const w = torcWorkflowOf(workload) !== undefined ? await deps.store.getWorkload(workload) : undefined;
  if (!w) return false;
  const line = r.ok ? `${r.commandId}: ${r.output}` : `Command ${r.commandId} failed: ${r.error ?? r.output}`;
  if (w.autoSchedule?.inFlight === r.commandId) {
    // Failed or not, the next tick may decide again (on a census taken after this moment).
    await updateWorkload(deps, workload, (current) =>
      current?.autoSchedule?.inFlight === r.commandId
        ? {
            ...current,
            autoSchedule: {
              ...current.autoSchedule,
              inFlight: undefined,
              lastScheduledAt: deps.now().toISOString(),
            },
          }
        : undefined,
    );
  }
  await history(deps, workload, [line]);
  return true;
}
