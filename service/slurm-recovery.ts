import { randomBytes } from 'node:crypto';
import type { Command } from '../core/commands.ts';
import type { Replacement } from '../core/dependency.ts';
import { diagnose } from '../core/diagnose.ts';
import type { EventOf } from '../core/events.ts';
import { evidenceFromSlurmEvent, mergeEvidence } from '../core/evidence.ts';
import { commandIds, FOREIGN, jobKey, parseJobKey, plainWorkload, tagNameOf, UNTAGGED } from '../core/ids.ts';
import type { Plan } from '../core/plan.ts';
import { chainWords } from '../core/plan-report.ts';
import { planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import { AttemptAlreadyClaimedError, type JobRecord } from '../core/ports.ts';
import type { FailedJob } from '../core/recovery-state.ts';
import { formatTag, parseTag } from '../core/tag.ts';
import { profileFor } from './cluster.ts';
import type { ServiceDeps } from './deps.ts';
import { command, countRecoveries, ensureWorkload, history, send, statusAfterStop } from './effects.ts';
import { arrayTaskDecided } from './slurm-arrays.ts';
import { prerequisitesOf, takeWaitingDependents, waitForPrerequisite } from './slurm-dependents.ts';
import { onAllocationJobEnded } from './torc-orphans.ts';

// The plain-Slurm path of the worker: a job end becomes an enrich command (the relay reads sacct and
// captures the job while Slurm knows it); the sacct event is the decision; the resubmission's result links
// the new job to its chain.

async function loadJob(deps: ServiceDeps, cluster: string, jobId: string, name?: string): Promise<JobRecord> {
  const key = jobKey(cluster, jobId);
  return (
    (await deps.store.getJob(key)) ?? {
      key,
      workload: null,
      jobId,
      name: name ?? '',
      evidence: {},
      lineage: key,
      attempt: 0,
      decided: false,
      updatedAt: deps.now().toISOString(),
    }
  );
}

/** jobcomp and epilog events lack MaxRSS (and the tag): ask the relay to read sacct before deciding. */
export async function onJobEnded(deps: ServiceDeps, event: EventOf<'slurm.jobcomp' | 'slurm.epilog'>) {
  const job = await loadJob(deps, event.cluster, event.data.jobId, event.data.jobName);
  // A job Slurm requeued ends once per run (jobcomp says when each ended): a later run is its own end,
  // decided afresh; an earlier run's end arriving late changes nothing.
  const endedAt = event.type === 'slurm.jobcomp' ? event.data.endedAt || undefined : undefined;
  if (endedAt && job.runEndedAt && endedAt < job.runEndedAt) return;
  if (endedAt && job.runEndedAt && endedAt > job.runEndedAt) {
    job.evidence = {};
    job.decided = false;
    delete job.diagnosis;
  }
  if (endedAt) job.runEndedAt = endedAt;
  job.evidence = mergeEvidence(evidenceFromSlurmEvent(event), job.evidence);
  job.name ||= event.data.jobName ?? '';
  job.updatedAt = deps.now().toISOString();
  await deps.store.putJob(job);
  if (job.decided) return;
  await send(deps, [
    command({
      type: 'slurm.enrich',
      id: commandIds.enrich(job.key, endedAt),
      workload: job.workload ?? UNTAGGED,
      createdAt: job.updatedAt,
      jobId: job.jobId,
      eventId: event.id,
      ...(endedAt ? { endedAt } : {}),
      ...(event.type === 'slurm.jobcomp' ? { state: event.data.state } : {}),
    }),
  ]);
}

/**
 * One run of a job ended, and Slurm queued the job again itself (a node failure, a preemption): it is
 * followed under its own id — never resubmitted as well — and its next end is decided as any other.
 */
async function onRequeued(deps: ServiceDeps, job: JobRecord, event: EventOf<'slurm.sacct'>) {
  const tag = parseTag(event.data.comment);
  job.updatedAt = deps.now().toISOString();
  await deps.store.putJob(job);
  if (event.data.foreign || tag?.kind !== 'workload') return;
  const site = deps.config.mode === 'site' ? event.data.owner?.user : undefined;
  const workload = plainWorkload(tag.workload, site);
  const where = job.evidence.nodes ? ` on ${job.evidence.nodes}` : '';
  await ensureWorkload(
    deps,
    workload,
    'slurm',
    (await deps.store.getWorkload(workload))?.status ?? 'watching',
  );
  await history(deps, workload, [
    `Job ${job.jobId} (${job.name}): ${event.data.state}${where}; requeued by Slurm, which runs it again as job ${job.jobId}: followed, not resubmitted`,
  ]);
}

/** The decision for one plain job: its full evidence, diagnosed, planned and (at most once) resubmitted. */
export async function onSacct(deps: ServiceDeps, event: EventOf<'slurm.sacct'>) {
  const { store } = deps;
  const job = await loadJob(deps, event.cluster, event.data.jobId, event.data.jobName);
  job.name ||= event.data.jobName ?? '';
  if (event.data.requeued) return onRequeued(deps, job, event);
  job.evidence = mergeEvidence(job.evidence, evidenceFromSlurmEvent(event));
  job.diagnosis = diagnose(job.evidence);
  job.name ||= event.data.jobName ?? '';
  if (event.data.owner) job.owner = event.data.owner;
  if (event.data.environment) job.environment = event.data.environment;
  if (event.data.qos) job.qos = event.data.qos;
  if (event.data.cpus) job.cpus = event.data.cpus;
  if (event.data.gpus !== undefined) job.gpus = event.data.gpus;
  if (event.data.dependency) job.dependency = event.data.dependency;
  const tag = parseTag(event.data.comment);
  const foreign = foreignReason(deps, event.data);
  // In site mode every user's tags share one service: the owner is part of the workload's key.
  const site = deps.config.mode === 'site' ? job.owner?.user : undefined;
  const workload = tag && plainWorkload(tag.workload, site);
  job.workload = foreign ? FOREIGN : (workload ?? UNTAGGED);
  if (event.data.partition) job.partition = event.data.partition;
  // A job is in a chain only because Rebound submitted it: the relay reported its id for the command
  // (service/slurm-results.ts recorded it with its lineage). A comment that claims a chain joins nothing.
  job.updatedAt = deps.now().toISOString();
  if (job.decided) return store.putJob(job);
  const d = job.diagnosis;
  const label = `Job ${job.jobId} (${job.name})`;
  if (foreign) {
    job.decided = true;
    await store.putJob(job);
    await ensureWorkload(deps, FOREIGN, 'slurm', 'watching');
    await history(deps, FOREIGN, [`${label}: ${d.cause}; ${foreign}: recorded only, never recovered`]);
    return;
  }
  if (tag?.kind === 'torc-allocation') return onAllocationJobEnded(deps, job, tag);

  if (!tag || !workload) {
    job.decided = true;
    await store.putJob(job);
    await ensureWorkload(deps, UNTAGGED, 'slurm', 'watching');
    await history(deps, UNTAGGED, [
      `${label}: ${d.cause} (${d.summary}); not tagged rebound:<workload>, recorded only`,
    ]);
    return;
  }

  await decide(deps, job, {
    workload,
    tagName: tag.workload,
    cluster: event.cluster,
    array: event.data.array,
  });
}

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

/** Plans a tagged job's failure and acts on it: at most one attempt per failure, whoever redelivers it. */
async function decide(deps: ServiceDeps, job: JobRecord, ctx: DecisionContext): Promise<void> {
  const { store } = deps;
  const { workload, array, cluster } = ctx;
  const d = job.diagnosis ?? diagnose(job.evidence);
  const label = `Job ${job.jobId} (${job.name})`;
  // Redelivered after this job's attempt was claimed (a crash before it was marked decided): that
  // attempt's commands again (ids deduplicated downstream) — never a second attempt for one failure.
  // The attempt a job's failure makes is the next in its chain, so its command id is known: one lookup.
  const prior = await store.findAttemptByCommand(commandIds.resubmit(job.lineage, job.attempt + 1));
  if (prior?.source === job.key) {
    job.decided = true;
    await store.putJob(job);
    if (array) await arrayTaskDecided(deps, workload, cluster, array);
    else await send(deps, resubmitCommands(prior.plan, job));
    return;
  }
  const used = await store.countAttempts(job.lineage);
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
    { attemptsUsed: used },
    deps.now(),
  );
  const evidence = d.evidence.map((e) => `${e.signal}=${e.value}`).join(', ');
  const retryNote =
    job.attempt > 0 ? ` (${chainWords(job.attempt, policy.maxRetries, parseJobKey(job.lineage).jobId)})` : '';

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
    await store.putJob(job);
    if (plan.stopReason === 'nothing-failed') {
      await ensureWorkload(deps, workload, 'slurm', 'healthy');
      await history(deps, workload, [`${label}${retryNote}: completed`]);
      return;
    }
    await ensureWorkload(deps, workload, 'slurm', statusAfterStop(plan));
    await history(deps, workload, [`${label}${retryNote}: ${d.cause} [${evidence}]`, ...plan.report]);
    if (array) await arrayTaskDecided(deps, workload, cluster, array);
    return;
  }

  // Stored before the claim: a redelivery after a crash between the two builds the same tags again.
  if (!job.nonce) {
    job.nonce = randomBytes(8).toString('hex');
    await store.putJob(job);
  }
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
    });
  } catch (error) {
    if (!(error instanceof AttemptAlreadyClaimedError)) throw error;
    // Another worker on the same failure won: its commands again (deduplicated downstream), in case it
    // stops between its claim and its send. A claim for another job of the chain: that one recovers.
    if (error.existing.source !== job.key) return;
    if (array) await arrayTaskDecided(deps, workload, cluster, array);
    else await send(deps, resubmitCommands(error.existing.plan, job));
    return;
  }
  job.decided = true;
  await store.putJob(job);
  countRecoveries(deps, plan);
  await ensureWorkload(deps, workload, 'slurm', 'recovering');
  const waits = array ? [`Job ${job.jobId}'s retry waits for the other tasks of array ${array.jobId}`] : [];
  await history(deps, workload, [`${label}${retryNote}: ${d.cause} [${evidence}]`, ...plan.report, ...waits]);
  if (array) await arrayTaskDecided(deps, workload, cluster, array);
  else await send(deps, commands);
}

/**
 * Why nobody acts for this job's owner: the relay's word (it alone asks Slurm whose job it is and knows
 * whom it acts for), or — in site mode — a relay that did not say whose job it is.
 */
function foreignReason(deps: ServiceDeps, data: EventOf<'slurm.sacct'>['data']): string | undefined {
  if (data.foreign) return data.foreign;
  if (deps.config.mode === 'site' && !data.owner)
    return 'the relay did not report whose job it is (a relay older than 0.3?), so nobody is acted for';
  return undefined;
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
    admission: {
      ...(job.owner?.account ? { account: job.owner.account } : {}),
      ...(job.qos ? { qos: job.qos } : {}),
    },
  };
}

function resubmitCommands(plan: Plan, job: JobRecord): Command[] {
  return plan.actions.flatMap((a): Command[] => {
    if (a.type !== 'resubmit-job') return [];
    const id = commandIds.resubmit(job.lineage, plan.attempt);
    const commandTag = commandIds.resubmitTag(id, job.nonce ?? '');
    return [
      command({
        type: 'slurm.resubmit',
        id,
        workload: plan.workload,
        createdAt: plan.createdAt,
        jobId: a.jobId,
        comment: formatTag({ workload: tagNameOf(plan.workload), commandTag }),
        resources: a.resources,
      }),
    ];
  });
}
