import type { Command, CommandType } from '../core/commands.ts';
import { diagnose } from '../core/diagnose.ts';
import type { EventOf } from '../core/events.ts';
import { evidenceFromTorcEvent } from '../core/evidence.ts';
import { commandIds, eventIds, torcJobKey, torcWorkflowOf, torcWorkload } from '../core/ids.ts';
import { type ManualMark, type ManualRecovery, manualMarkOf, manualPolicy } from '../core/manual.ts';
import { assertNever } from '../core/never.ts';
import type { Plan } from '../core/plan.ts';
import { countersOf, planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import { AttemptAlreadyClaimedError, type AttemptRecord } from '../core/ports.ts';
import {
  assembleCompletion,
  type RecordedTorcJob,
  type TorcCompletion,
  torcRecoveryState,
} from '../core/torc-state.ts';
import { profileFor } from './cluster.ts';
import type { ReadDeps, ServiceDeps } from './deps.ts';
import {
  command,
  countRecoveries,
  ensureWorkload,
  history,
  send,
  statusAfterStop,
  updateWorkload,
} from './effects.ts';

// The Torc path of the worker: like `torc recover`, but on the completion event, with each step a command
// the relay executes and reports. Steps run strictly in order: the next command is sent only when the
// previous one succeeded, so a failing hook (or any failing step) stops the recovery where it failed.

export async function onTorcJobFinished(deps: ServiceDeps, event: EventOf<'torc.job.finished'>) {
  const d = event.data;
  const evidence = evidenceFromTorcEvent(event);
  const workload = torcWorkload(d.workflowId);
  await deps.store.putJob({
    key: torcJobKey(event.cluster, d.workflowId, d.jobId),
    workload,
    jobId: String(d.jobId),
    name: d.jobName,
    evidence,
    diagnosis: diagnose(evidence),
    lineage: workload,
    attempt: d.attemptId,
    decided: false,
    updatedAt: deps.now().toISOString(),
    torc: { runId: d.runId, ...(d.resourceRequirements ? { rr: d.resourceRequirements } : {}) },
  });
  if (!(await deps.store.getWorkload(workload))) await ensureWorkload(deps, workload, 'torc', 'watching');
}

/**
 * The failed jobs of the completed run, as recorded from their job events. A job's record is its latest
 * result: one from an earlier run is a job that was not run again (not retried then), still failed.
 */
async function failedJobs(
  deps: Pick<ReadDeps, 'store'>,
  c: TorcCompletion,
): Promise<{ recorded: RecordedTorcJob[]; missing: number[]; lastAt: number }> {
  const failed = new Set(c.failedJobIds);
  const records = (await deps.store.listJobs(torcWorkload(c.workflowId))).filter(
    (r) => r.torc && failed.has(Number(r.jobId)),
  );
  const recorded = records.map((r) => ({
    id: Number(r.jobId),
    name: r.name,
    evidence: r.evidence,
    ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}),
    ...(r.torc?.rr ? { rr: r.torc.rr } : {}),
    ...(r.nextLimits ? { nextLimits: r.nextLimits } : {}),
  }));
  const have = new Set(recorded.map((r) => r.id));
  // A loop, not Math.max(...records): past ~120,000 arguments a call overflows the stack.
  const lastAt = records.reduce((latest, r) => Math.max(latest, Date.parse(r.updatedAt)), 0);
  return { recorded, missing: c.failedJobIds.filter((id) => !have.has(id)), lastAt };
}

/** A person's attempt by hand (core/manual.ts): their overrides, and who asked. */
export interface ByHand {
  request: ManualRecovery;
  mark: ManualMark;
}

/**
 * Dry-run, the worker and a person's recovery share this: the plan for a workflow's completion (by hand:
 * with the person's overrides, for the one job they name if they do).
 */
export async function planTorc(
  deps: ReadDeps,
  completion: TorcCompletion,
  cluster: string,
  byHand?: ByHand,
): Promise<Plan> {
  const only = byHand?.request.job;
  const { recorded } = await failedJobs(deps, completion);
  if (!only) return planFrom(deps, completion, recorded, cluster, byHand);
  const one = { ...completion, failedJobIds: completion.failedJobIds.filter((id) => String(id) === only) };
  return planFrom(
    deps,
    one,
    recorded.filter((j) => String(j.id) === only),
    cluster,
    byHand,
  );
}

async function planFrom(
  deps: ReadDeps,
  completion: TorcCompletion,
  recorded: RecordedTorcJob[],
  cluster: string,
  byHand?: ByHand,
) {
  const workload = torcWorkload(completion.workflowId);
  const state = torcRecoveryState(
    completion,
    recorded,
    await profileFor(deps, cluster),
    deps.config.torc.runnerBufferSeconds,
  );
  const counters = countersOf(await deps.store.countAttempts(workload), byHand?.mark);
  const policy = policyFor(deps.config.policy, workload);
  return planRecovery(state, byHand ? manualPolicy(policy, byHand.request) : policy, counters, deps.now());
}

/** The completion of the run the worker last planned from, when all its pages are kept. */
export async function lastCompletion(deps: Pick<ReadDeps, 'store'>, workload: string, runId: number) {
  return assembleCompletion(await deps.store.listCompletionPages(workload, runId));
}

/**
 * A completed run that cannot be recovered yet — allocations still live, or failed jobs' results still on
 * their way — waits on its workflow's record: said once in history, re-checked by the tick
 * (service/torc-completion.ts).
 */
export async function waitFor(
  deps: ServiceDeps,
  c: TorcCompletion,
  cluster: string,
  occurredAt: string,
  why: { live: number } | { missing: number },
) {
  const key = torcWorkload(c.workflowId);
  let fresh = false;
  await updateWorkload(deps, key, (w) => {
    fresh = w?.waiting?.runId !== c.runId || 'live' in why !== w.waiting.live > 0;
    if (!fresh) return undefined;
    return {
      ...w,
      key,
      kind: 'torc',
      status: w?.status ?? 'watching',
      updatedAt: deps.now().toISOString(),
      cluster,
      lastRun: c.runId,
      waiting: {
        runId: c.runId,
        since: deps.now().toISOString(),
        occurredAt,
        live: 'live' in why ? why.live : 0,
      },
    };
  });
  if (!fresh) return;
  const head = `Workflow ${c.workflowId} run ${c.runId} complete, but`;
  await history(deps, key, [
    'live' in why
      ? `${head} ${why.live} allocation(s) are still pending or running: recovery waits until they end (at most ${deps.config.torc.allocationWaitSeconds} s before a person is asked)`
      : `${head} the results of ${why.missing} failed job(s) have not arrived yet: recovery waits for them (until none has come for ${deps.config.torc.resultWaitSeconds} s)`,
  ]);
}

/** Recovery of a completed run: the plan, its attempt claimed once, its first step sent. */
export async function recoverRun(deps: ServiceDeps, c: TorcCompletion, cluster: string, occurredAt: string) {
  const workload = torcWorkload(c.workflowId);
  // Redelivered after its attempt was claimed (a crash before the event was marked handled): the same
  // attempt's first step again — never a second attempt for one completion. Its id is deduplicated.
  const source = eventIds.torcCompleted(c.workflowId, c.runId);
  const prior = await deps.store.findAttemptBySource(workload, source);
  if (prior) {
    await updateWorkload(deps, workload, (w) => (w?.waiting ? { ...w, waiting: undefined } : undefined));
    return send(deps, torcCommands(prior.plan, c.workflowId).slice(0, 1));
  }
  const { recorded, missing, lastAt } = await failedJobs(deps, c);
  // The forwarder posts results before the completion, but a queue may hand them over later: wait while
  // they keep coming (the tick re-checks), then plan without the missing ones — those jobs alone need
  // attention.
  const quiet = (deps.now().getTime() - Math.max(lastAt, Date.parse(occurredAt))) / 1000;
  if (missing.length && quiet < deps.config.torc.resultWaitSeconds)
    return waitFor(deps, c, cluster, occurredAt, { missing: missing.length });
  const plan = await planFrom(deps, c, recorded, cluster);
  const head = `Workflow ${c.workflowId} run ${c.runId} complete${c.isCanceled ? ' (canceled)' : ''}`;
  const keep = { lastRun: c.runId, cluster, waiting: undefined };
  if (plan.outcome === 'stop') {
    await ensureWorkload(deps, workload, 'torc', statusAfterStop(plan), keep);
    await history(deps, workload, [head, ...plan.report]);
    return;
  }
  await startAttempt(deps, plan, c.workflowId, source, { ...keep, head });
}

/**
 * Claims a plan's attempt and sends its first step; false when another worker claimed that attempt
 * number first (for this completion or another): that one recovers.
 */
export async function startAttempt(
  deps: ServiceDeps,
  plan: Plan,
  workflowId: number,
  source: string,
  opts: { head: string; lastRun?: number; cluster?: string; waiting?: undefined },
): Promise<boolean> {
  const { head, ...keep } = opts;
  const commands = torcCommands(plan, workflowId);
  try {
    await deps.store.claimAttempt({
      lineage: plan.workload,
      attempt: plan.attempt,
      workload: plan.workload,
      source,
      plan,
      commandIds: commands.map((x) => x.id),
      createdAt: deps.now().toISOString(),
      ...(plan.manual ? { manual: manualMarkOf(plan.manual) } : {}),
    });
  } catch (error) {
    if (error instanceof AttemptAlreadyClaimedError) return false;
    throw error;
  }
  countRecoveries(deps, plan);
  await ensureWorkload(deps, plan.workload, 'torc', 'recovering', keep);
  await history(deps, plan.workload, [head, ...plan.report]);
  await send(deps, commands.slice(0, 1));
  return true;
}

/** The plan's actions as relay commands, in execution order, with ids fixed by workflow and attempt. */
export function torcCommands(plan: Plan, workflowId: number): Command[] {
  const base = (step: number, kind: string) => ({
    id: commandIds.torcStep(plan.workload, plan.attempt, step, kind),
    workload: plan.workload,
    createdAt: plan.createdAt,
    workflowId,
  });
  return plan.actions.flatMap((a, step): Command[] => {
    switch (a.type) {
      case 'update-resources':
        return [
          command({
            ...base(step, 'resources'),
            type: 'torc.update-resources',
            resourceRequirementsId: a.rrId,
            ...(a.cloneAs ? { cloneAs: a.cloneAs } : {}),
            jobIds: a.jobIds,
            memory: a.memory,
            runtime: a.runtime,
          }),
        ];
      case 'run-hook':
        return [command({ ...base(step, 'hook'), type: 'hook.run', hook: a.hook })];
      case 'reset-jobs':
        return [
          command({ ...base(step, 'reset'), type: 'torc.reset-jobs', jobIds: a.jobIds, reinitialize: true }),
        ];
      case 'submit-allocations': {
        // Deferred groups wait until their jobs are ready; auto-schedule submits them then.
        const now = a.allocations.filter((x) => !x.deferred);
        return now.length
          ? [command({ ...base(step, 'allocations'), type: 'torc.submit-allocations', allocations: now })]
          : [];
      }
      case 'resubmit-job':
        // A plain Slurm action: never in a Torc plan.
        return [];
      default:
        return assertNever(a, 'plan action');
    }
  });
}

type TorcStep = Extract<
  CommandType,
  'torc.update-resources' | 'hook.run' | 'torc.reset-jobs' | 'torc.submit-allocations'
>;

const STEP = {
  'torc.update-resources': 'updating resource requirements',
  'hook.run': 'the recovery hook',
  'torc.reset-jobs': 'resetting and reinitializing jobs',
  'torc.submit-allocations': 'submitting allocations',
} as const satisfies Record<TorcStep, string>;

const isStep = (type: CommandType): type is TorcStep => type in STEP;

/** A step's result: the next step, or the end of the attempt, or a stop with what went wrong. */
export async function continueTorcRecovery(
  deps: ServiceDeps,
  attempt: AttemptRecord,
  event: EventOf<'relay.command.result'>,
) {
  const r = event.data;
  const workflowId = torcWorkflowOf(attempt.workload);
  if (workflowId === undefined) return;
  const commands = torcCommands(attempt.plan, workflowId);
  const index = commands.findIndex((c) => c.id === r.commandId);
  const step = commands[index];
  if (!step || !isStep(step.type)) return;
  const what = STEP[step.type];
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
  if (step.type === 'hook.run' && output) lines.push(`  output: ${output}`);
  if (step.type === 'torc.submit-allocations')
    lines.push(`  ${r.slurmJobIds.length} allocation(s) submitted: ${r.slurmJobIds.join(', ')}`);
  await history(deps, attempt.workload, lines);
  await send(deps, commands.slice(index + 1, index + 2));
}
