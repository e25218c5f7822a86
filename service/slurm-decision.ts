import { randomBytes } from 'node:crypto';
import type { Command } from '../core/commands.ts';
import type { Replacement } from '../core/dependency.ts';
import { diagnose } from '../core/diagnose.ts';
import type { EventOf } from '../core/events.ts';
import { commandIds, eventIds, parseJobKey, tagNameOf } from '../core/ids.ts';
import type { Plan } from '../core/plan.ts';
import { chainWords } from '../core/plan-report.ts';
import { countersOf, planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import { AttemptAlreadyClaimedError, type AttemptRecord, type JobRecord } from '../core/ports.ts';
import type { FailedJob } from '../core/recovery-state.ts';
import { arrayTaskOf } from '../core/sacct.ts';
import { formatTag } from '../core/tag.ts';
import { profileFor } from './cluster.ts';
import type { ServiceDeps } from './deps.ts';
import {
  command,
  countRecoveries,
  ensureWorkload,
  type Handled,
  history,
  send,
  statusAfterStop,
} from './effects.ts';
import { arrayTaskDecided } from './slurm-arrays.ts';
import { prerequisitesOf, takeWaitingDependents, waitForPrerequisite } from './slurm-dependents.ts';

// The decision for one tagged plain job whose end was read (service/slurm-recovery.ts): diagnosed,
// planned, and at most one attempt claimed and sent — or, for an array task, kept for its array's
// resubmission (service/slurm-arrays.ts), or, for a dependent Slurm cancelled, parked until its
// prerequisite is resubmitted (service/slurm-dependents.ts).

interface DecisionContext {
  workload: string;
  /** The tag's workload name (policy overrides are keyed by it). */
  tagName: string;
  cluster: string;
  array?: EventOf<'slurm.sacct'>['data']['array'];
}

/**
 * A dependent that waited for its prerequisite's resubmission (service/slurm-dependents.ts), decided again
 * now that it is known: its record has all it had when it was first decided.
 */
export async function redecide(deps: ServiceDeps, key: string) {
  const job = await deps.store.getJob(key);
  if (!job?.workload || job.decided) return;
  await decide(deps, job, {
    workload: job.workload,
    tagName: tagNameOf(job.workload),
    cluster: parseJobKey(key).cluster,
  });
}

/**
 * Plans a tagged job's failure and acts on it: at most one attempt per failure, whoever redelivers it.
 * 'settled' when the job's record is written decided after all but the decision's commands: a redelivery
 * of the reading finds it decided, adds figures, and sends the commands again if no result has come for
 * them (`resendDecided`, service/slurm-recovery.ts). The record goes before the commands because their
 * result links it to the retry (service/slurm-results.ts), which a later write of it must not undo. An
 * array task is recorded before its array is told (the array's retries are read from its tasks' records),
 * and its reading keeps its processed mark.
 */
export async function decide(deps: ServiceDeps, job: JobRecord, ctx: DecisionContext): Promise<Handled> {
  const { store } = deps;
  const { workload, array, cluster } = ctx;
  const d = job.diagnosis ?? diagnose(job.evidence);
  const label = `Job ${job.jobId} (${job.name})`;
  // Redelivered after this job's attempt was claimed (a crash before it was marked decided): that
  // attempt's commands again (ids deduplicated downstream) — never a second attempt for one failure.
  // The attempt a job's failure makes is the next in its chain, so its command id is known: one lookup.
  const priorClaim = () => store.findAttemptByCommand(failureCommandId(job));
  const actOnPrior = async (prior: AttemptRecord): Promise<Handled> => {
    job.nonce ??= prior.nonce;
    job.decided = true;
    await store.putJob(job);
    if (array) {
      await arrayTaskDecided(deps, workload, cluster, array);
      return;
    }
    await send(deps, resubmitCommands(prior.plan, job));
    return 'settled';
  };
  const prior = await priorClaim();
  if (prior?.source === job.key) return actOnPrior(prior);
  const count = await store.countAttempts(job.lineage);
  // A worker racing on the same failure claimed its attempt between that look and this count: the planner
  // would number a second attempt after it, so look again.
  if (count.claimed > job.attempt) {
    const raced = await priorClaim();
    if (raced?.source === job.key) return actOnPrior(raced);
  }
  const counters = countersOf(count);
  const policy = policyFor(deps.config.policy, ctx.tagName);
  const prerequisites = await prerequisitesOf(deps, cluster, job);
  const plan = planRecovery(
    {
      kind: 'slurm',
      workload,
      profile: await profileFor(deps, cluster),
      jobs: [toFailedJob(job, prerequisites)],
    },
    policy,
    counters,
    deps.now(),
  );
  const evidence = d.evidence.map((e) => `${e.signal}=${e.value}`).join(', ');
  const retryNote =
    job.attempt > 0
      ? ` (${chainWords(job.attempt, policy.maxRetries, parseJobKey(job.lineage).jobId, (counters.claimed ?? 0) - counters.attemptsUsed)})`
      : '';

  if (plan.stopReason === 'waits-for-prerequisite') {
    await store.putJob(job);
    const current = (await store.getWorkload(workload))?.status;
    await ensureWorkload(deps, workload, 'slurm', current ?? statusAfterStop(plan));
    await history(deps, workload, [`${label}${retryNote}: ${d.cause} [${evidence}]`, ...plan.report]);
    await waitForPrerequisite(deps, workload, job);
    // Its prerequisite may have been resubmitted while it was being parked: then it goes now.
    if ((await prerequisitesOf(deps, cluster, job)).length) {
      await takeWaitingDependents(deps, workload, (w) => w.key === job.key);
      return decide(deps, job, ctx);
    }
    return;
  }
  if (plan.outcome === 'stop') {
    job.decided = true;
    if (plan.stopReason === 'nothing-failed') {
      await ensureWorkload(deps, workload, 'slurm', 'healthy');
      await history(deps, workload, [`${label}${retryNote}: completed`]);
    } else {
      await ensureWorkload(deps, workload, 'slurm', statusAfterStop(plan));
      await history(deps, workload, [`${label}${retryNote}: ${d.cause} [${evidence}]`, ...plan.report]);
      if (array) {
        await store.putJob(job);
        await arrayTaskDecided(deps, workload, cluster, array);
        return;
      }
    }
    await store.putJob(job);
    return 'settled';
  }

  // Claimed with the attempt (a redelivery finds it there), stored on the job with its decision.
  job.nonce ??= randomBytes(8).toString('hex');
  const commands = resubmitCommands(plan, job);
  const retry = plan.actions.find((a) => a.type === 'resubmit-job');
  // An array task's retry goes with its array's (service/slurm-arrays.ts): kept on its record, sent later.
  if (array && retry) job.arrayRetry = { attempt: plan.attempt, resources: retry.resources };
  try {
    await store.claimAttempt({
      lineage: job.lineage,
      attempt: plan.attempt,
      workload,
      source: job.key,
      plan,
      commandIds: commands.map((c) => c.id),
      createdAt: deps.now().toISOString(),
      nonce: job.nonce,
    });
  } catch (error) {
    if (!(error instanceof AttemptAlreadyClaimedError)) throw error;
    // Another worker on the same failure won: its commands again (deduplicated downstream), in case it
    // stops between its claim and its send. A claim for another job of the chain: that one recovers.
    if (error.existing.source !== job.key) return;
    job.nonce = error.existing.nonce ?? job.nonce;
    if (array) await arrayTaskDecided(deps, workload, cluster, array);
    else await send(deps, resubmitCommands(error.existing.plan, job));
    return;
  }
  job.decided = true;
  countRecoveries(deps, plan);
  const line = `${label}${retryNote}: ${d.cause} [${evidence}]`;
  if (array) {
    await store.putJob(job);
    await history(deps, workload, [
      line,
      ...plan.report,
      `Job ${job.jobId}'s retry waits for the other tasks of array ${array.jobId}`,
    ]);
    await ensureWorkload(deps, workload, 'slurm', 'recovering');
    await arrayTaskDecided(deps, workload, cluster, array);
    return;
  }
  await history(deps, workload, [line, ...plan.report]);
  await store.putJob(job);
  await send(deps, commands, { workload, kind: 'slurm', status: 'recovering' });
  return 'settled';
}

/** The resubmission a job's failure claims: the next attempt of its chain. */
const failureCommandId = (job: JobRecord) => commandIds.resubmit(job.lineage, job.attempt + 1);

/**
 * A reading of a job already decided, again: the resubmission its failure claimed is sent again if it may
 * never have gone (a stop between the job's record, written decided, and the send) — no retry linked to the
 * job, no failed result handled for it. The relay's intent journal answers a command that did go.
 */
export async function resendDecided(deps: ServiceDeps, job: JobRecord): Promise<void> {
  if (job.retriedAs) return;
  const id = failureCommandId(job);
  const prior = await deps.store.findAttemptByCommand(id);
  if (prior?.source !== job.key || (await deps.store.wasProcessed(eventIds.result(id)))) return;
  await send(deps, resubmitCommands(prior.plan, job), {
    workload: prior.workload,
    kind: 'slurm',
    status: 'recovering',
  });
}

/** The planner's view of a recorded job; a limit sacct did not report stays unknown (never guessed). */
export function toFailedJob(job: JobRecord, prerequisites: Replacement[] = []): FailedJob {
  return {
    id: job.jobId,
    name: job.name,
    evidence: job.evidence,
    ...(job.diagnosis ? { diagnosis: job.diagnosis } : {}),
    limits: {
      ...(job.evidence.memoryLimitBytes !== undefined ? { memoryBytes: job.evidence.memoryLimitBytes } : {}),
      ...(job.evidence.timeLimitSeconds !== undefined
        ? { runtimeSeconds: job.evidence.timeLimitSeconds }
        : {}),
    },
    cpus: job.cpus ?? 1,
    gpus: job.gpus ?? 0,
    ...(job.partition ? { partition: job.partition } : {}),
    ...(job.owner ? { owner: { uid: job.owner.uid, user: job.owner.user } } : {}),
    ...(job.environment ? { environment: job.environment } : {}),
    ...(job.dependency ? { dependency: job.dependency } : {}),
    ...(prerequisites.length ? { prerequisites } : {}),
    ...(job.nextLimits ? { nextLimits: job.nextLimits } : {}),
    admission: {
      ...(job.owner?.account ? { account: job.owner.account } : {}),
      ...(job.qos ? { qos: job.qos } : {}),
      ...(job.groups ? { groups: job.groups } : {}),
    },
  };
}

/** A plan's resubmission as its command (an array task's by hand: an array of that one index). */
export function resubmitCommands(plan: Plan, job: JobRecord): Command[] {
  return plan.actions.flatMap((a): Command[] => {
    if (a.type !== 'resubmit-job') return [];
    const id = commandIds.resubmit(job.lineage, plan.attempt);
    const commandTag = commandIds.resubmitTag(id, job.nonce ?? '');
    const task = arrayTaskOf(a.jobId);
    return [
      command({
        type: 'slurm.resubmit',
        id,
        workload: plan.workload,
        createdAt: plan.createdAt,
        jobId: a.jobId,
        comment: formatTag({ workload: tagNameOf(plan.workload), commandTag }),
        resources: a.resources,
        ...(task ? { tasks: [task.taskId] } : {}),
      }),
    ];
  });
}
