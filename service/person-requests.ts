import { randomBytes } from 'node:crypto';
import type { EventOf } from '../core/events.ts';
import { commandIds, eventIds, parseJobKey, tagNameOf, torcWorkflowOf } from '../core/ids.ts';
import { describeOverrides, type ManualMark, type ManualRecovery, manualPolicy } from '../core/manual.ts';
import { assertNever } from '../core/never.ts';
import type { Plan, StopReason } from '../core/plan.ts';
import { countersOf, planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import { AttemptAlreadyClaimedError, type JobRecord, type WorkloadRecord } from '../core/ports.ts';
import { profileFor } from './cluster.ts';
import type { ReadDeps, ServiceDeps } from './deps.ts';
import { command, countRecoveries, ensureWorkload, history, resultLine, send } from './effects.ts';
import { askRelayForLogs } from './job-logs.ts';
import { onSetResources } from './job-resources.ts';
import { byWhom, newRequestId, queueRequest, type RequestDeps } from './person-request-event.ts';
import { resubmitCommands, toFailedJob } from './slurm-decision.ts';
import { latestOfEachChain } from './status.ts';
import { lastCompletion, planTorc, startAttempt, torcCommands } from './torc-recovery.ts';

// A person's requests: one recovery by hand (`rebound recover`, like `torc recover`) and orphan clean-up
// (`rebound sync`). The API answers at once from a read-only preview made by the same functions the worker
// then runs, and puts the request on the events queue: the worker acts on it through the same planner,
// claims and commands as on any failure, so a redelivered request never makes a second attempt.

/** What a manual recovery would do (or did): the answer's outcome decides `rebound recover`'s exit code. */
export type RecoverOutcome =
  | 'started'
  | 'nothing-to-do'
  | 'nothing-recoverable'
  | 'not-allowed'
  | 'unknown-job';

export interface RecoverAnswer {
  outcome: RecoverOutcome;
  /** Set when the request was queued (not a dry run, something to do). */
  requestId?: string;
  /** What it does, or why nothing, in words. */
  lines: string[];
  plans: Plan[];
}

type Preview = RecoverAnswer & {
  /** Plain Slurm: each retried job with its plan. Torc: the plan of the run's completion. */
  slurm: { job: JobRecord; plan: Plan }[];
};

/** Stops that leave nothing to do (not a failure a person must handle). */
const NOTHING_TO_DO = new Set<StopReason>(['nothing-failed', 'cancelled-by-owner', 'waits-for-prerequisite']);

const outcomeOf = (plans: Plan[]): RecoverOutcome =>
  plans.some((p) => p.outcome === 'recover')
    ? 'started'
    : plans.some((p) => !NOTHING_TO_DO.has(p.stopReason ?? 'nothing-recoverable'))
      ? 'nothing-recoverable'
      : 'nothing-to-do';

/**
 * Plain Slurm: each chain's latest job that failed and has no retry under way, planned with the person's
 * overrides (past max retries: a manual attempt is theirs to decide).
 */
async function previewSlurm(
  deps: ReadDeps,
  w: WorkloadRecord,
  request: ManualRecovery,
  mark: ManualMark,
): Promise<Preview> {
  const jobs = await deps.store.listJobs(w.key);
  let failed = latestOfEachChain(jobs).filter((j) => j.diagnosis && j.diagnosis.cause !== 'success');
  if (request.job) {
    failed = failed.filter((j) => j.jobId === request.job);
    if (!failed.length) {
      const known = jobs.find((j) => j.jobId === request.job);
      const line = known
        ? `job ${request.job} is not the latest of its chain or did not fail: name the job its chain ended with`
        : `no job ${request.job} in ${w.key}`;
      return { outcome: 'unknown-job', lines: [line], plans: [], slurm: [] };
    }
  }
  const lines: string[] = [];
  const slurm: Preview['slurm'] = [];
  const policy = manualPolicy(policyFor(deps.config.policy, tagNameOf(w.key)), request);
  for (const job of failed) {
    const count = await deps.store.countAttempts(job.lineage);
    if (count.claimed > job.attempt || !job.decided) {
      lines.push(
        `Job ${job.jobId} (${job.name}): ${job.decided ? `its retry (attempt ${count.claimed}) is under way` : 'automatic recovery is still deciding it'}; nothing to do for it`,
      );
      continue;
    }
    const plan = planRecovery(
      {
        kind: 'slurm',
        workload: w.key,
        profile: await profileFor(deps, parseJobKey(job.key).cluster),
        jobs: [toFailedJob(job)],
      },
      policy,
      countersOf(count, mark),
      deps.now(),
    );
    slurm.push({ job, plan });
    lines.push(...plan.report);
  }
  const plans = slurm.map((s) => s.plan);
  if (!lines.length) lines.push(`Nothing to recover in ${w.key}: no failed job waits for a retry`);
  return { outcome: outcomeOf(plans), lines, plans, slurm };
}

/** Torc: the last completed run, replanned with the person's overrides, when no recovery is under way. */
async function previewTorc(
  deps: ReadDeps,
  w: WorkloadRecord,
  request: ManualRecovery,
  mark: ManualMark,
): Promise<Preview> {
  const none = (outcome: RecoverOutcome, line: string): Preview => ({
    outcome,
    lines: [line],
    plans: [],
    slurm: [],
  });
  if (w.waiting)
    return none(
      'not-allowed',
      `Cannot recover: run ${w.waiting.runId} ${w.waiting.live > 0 ? `has ${w.waiting.live} allocation(s) still pending or running: wait for them to end, or cancel them (\`rebound sync ${w.key}\` cleans up those Slurm no longer knows)` : "waits for its failed jobs' results"}`,
    );
  if (w.status === 'recovering')
    return none(
      'not-allowed',
      'Cannot recover: a recovery is under way (its jobs run again); wait for the run to complete',
    );
  const completion =
    w.lastRun !== undefined && w.cluster ? await lastCompletion(deps, w.key, w.lastRun) : undefined;
  if (!completion || !w.cluster)
    return none(
      'nothing-to-do',
      `No completed run of ${w.key} seen yet: a Torc workflow is recovered once a run completes`,
    );
  if (request.job && !completion.failedJobIds.some((id) => String(id) === request.job))
    return none('unknown-job', `job ${request.job} is not a failed job of run ${completion.runId}`);
  const plan = await planTorc(deps, completion, w.cluster, { request, mark });
  return { outcome: outcomeOf([plan]), lines: plan.report, plans: [plan], slurm: [] };
}

function preview(deps: ReadDeps, w: WorkloadRecord, request: ManualRecovery, mark: ManualMark) {
  return w.kind === 'torc' ? previewTorc(deps, w, request, mark) : previewSlurm(deps, w, request, mark);
}

/**
 * A person asks for one recovery by hand: the preview answers at once; unless it is a dry run or there
 * is nothing to do, the request is queued for the worker, which plans again and acts.
 */
export async function requestRecovery(
  deps: RequestDeps,
  w: WorkloadRecord,
  request: ManualRecovery,
  who: Omit<ManualMark, 'requestId'>,
): Promise<RecoverAnswer> {
  const mark = { ...who, requestId: request.dryRun ? 'dry-run' : newRequestId() };
  const { slurm: _, ...answer } = await preview(deps, w, request, mark);
  if (request.dryRun || answer.outcome !== 'started') return answer;
  await queueRequest(deps, w, { action: 'recover', workload: w.key, mark, request });
  return { ...answer, requestId: mark.requestId };
}

export interface SyncAnswer {
  outcome: 'sent' | 'nothing-to-do';
  requestId?: string;
  lines: string[];
}

/** A person asks for orphan clean-up: a Torc workflow's goes to the relay; a plain workload has none. */
export async function requestSync(
  deps: RequestDeps,
  w: WorkloadRecord,
  dryRun: boolean,
  who: Omit<ManualMark, 'requestId'>,
): Promise<SyncAnswer> {
  if (w.kind === 'slurm')
    return {
      outcome: 'nothing-to-do',
      lines: [
        `${w.key} is a plain Slurm workload: there is nothing of the kind to sync (no Torc jobs can be left running by an allocation that ended; Slurm's own records say how each job ended)`,
      ],
    };
  const mark = { ...who, requestId: newRequestId() };
  await queueRequest(deps, w, { action: 'sync', workload: w.key, mark, dryRun });
  return {
    outcome: 'sent',
    requestId: mark.requestId,
    lines: [
      `Orphan clean-up of ${w.key}${dryRun ? ' (dry run)' : ''} sent to the relay as request ${mark.requestId}`,
    ],
  };
}

/** The worker's side of a person's request. */
export async function onPersonRequest(deps: ServiceDeps, event: EventOf<'person.request'>) {
  const d = event.data;
  const w = await deps.store.getWorkload(d.workload);
  if (!w) return;
  switch (d.action) {
    case 'recover':
      return recoverByHand(deps, w, d.request, d.mark);
    case 'sync': {
      const workflowId = torcWorkflowOf(w.key);
      if (workflowId === undefined) return;
      const head = `Request ${d.mark.requestId}: orphan clean-up ${byWhom(d.mark)}${d.dryRun ? ' (dry run)' : ''}`;
      await history(deps, w.key, [`${head}: sent to the relay`]);
      return send(deps, [
        command({
          type: 'torc.sync',
          id: commandIds.sync(d.mark.requestId),
          workload: w.key,
          createdAt: event.occurredAt,
          workflowId,
          dryRun: d.dryRun,
        }),
      ]);
    }
    case 'logs':
      return askRelayForLogs(deps, w, d.request, d.mark, d.jobKey);
    case 'set-resources':
      return onSetResources(deps, w, d.request, d.mark, d.jobKey);
    default:
      return assertNever(d, 'person request');
  }
}

async function recoverByHand(
  deps: ServiceDeps,
  w: WorkloadRecord,
  request: ManualRecovery,
  mark: ManualMark,
) {
  const head = `Request ${mark.requestId}: recovery by hand ${byWhom(mark)} (${describeOverrides(request)})`;
  // Redelivered after some of its attempts were claimed: theirs again (command ids are deduplicated).
  const prior = (await deps.store.listAttempts(w.key)).filter((a) => a.manual?.requestId === mark.requestId);
  const workflowId = torcWorkflowOf(w.key);
  if (workflowId !== undefined) {
    if (prior.length) return send(deps, torcCommands(prior[0]!.plan, workflowId).slice(0, 1));
    const { outcome, lines, plans } = await preview(deps, w, request, mark);
    const plan = plans[0];
    if (outcome !== 'started' || !plan) return history(deps, w.key, [`${head}: ${outcome}`, ...lines]);
    const started = await startAttempt(deps, plan, workflowId, eventIds.personRequest(mark.requestId), {
      head,
    });
    if (!started) await history(deps, w.key, [`${head}: another attempt was claimed first; nothing done`]);
    return;
  }
  for (const a of prior) {
    const source = a.source ? await deps.store.getJob(a.source) : undefined;
    if (source) await send(deps, resubmitCommands(a.plan, source));
  }
  const { outcome, lines, slurm } = await preview(deps, w, request, mark);
  if (prior.length && outcome !== 'started')
    return history(deps, w.key, [`${head}: its attempt(s) sent again (the request was delivered twice)`]);
  if (outcome !== 'started') return history(deps, w.key, [`${head}: ${outcome}`, ...lines]);
  // One history write at the end: the person's CLI reads the request's lines whole.
  const said = [head];
  for (const { job, plan } of slurm) {
    if (plan.outcome !== 'recover') {
      said.push(...plan.report);
      continue;
    }
    // Stored before the claim, as an automatic decision does: the retry's tag cannot be predicted.
    if (!job.nonce) {
      job.nonce = randomBytes(8).toString('hex');
      await deps.store.putJob(job);
    }
    const commands = resubmitCommands(plan, job);
    try {
      await deps.store.claimAttempt({
        lineage: job.lineage,
        attempt: plan.attempt,
        workload: w.key,
        source: job.key,
        plan,
        commandIds: commands.map((c) => c.id),
        createdAt: deps.now().toISOString(),
        manual: mark,
      });
    } catch (error) {
      if (!(error instanceof AttemptAlreadyClaimedError)) throw error;
      said.push(`Job ${job.jobId}: another attempt was claimed first; not retried by hand`);
      continue;
    }
    countRecoveries(deps, plan);
    await ensureWorkload(deps, w.key, 'slurm', 'recovering');
    said.push(...plan.report);
    await send(deps, commands);
  }
  await history(deps, w.key, said);
}

/** The relay's answer to `rebound sync`: said in history, where the person's CLI reads it. */
export function onSyncResult(deps: ServiceDeps, event: EventOf<'relay.command.result'>) {
  return history(deps, event.data.workload, [resultLine(event.data)]);
}
