import type { Command } from '../core/commands.ts';
import { diagnose } from '../core/diagnose.ts';
import type { Event, EventOf } from '../core/events.ts';
import { evidenceFromSlurmEvent, mergeEvidence } from '../core/evidence.ts';
import type { Plan } from '../core/plan.ts';
import { type FailedJob, planRecovery } from '../core/planner.ts';
import { policyFor } from '../core/policy.ts';
import {
  AttemptAlreadyClaimedError,
  type CommandQueue,
  type JobRecord,
  type StateStore,
} from '../core/ports.ts';
import { parseTag } from '../core/tag.ts';
import { torcWorkflowOf } from '../core/torc-state.ts';
import type { ServiceConfig } from './config.ts';
import { ensureWorkload, history, send } from './effects.ts';
import {
  cleanupCommand,
  continueTorcRecovery,
  onAllocationEnded,
  onTorcCensus,
  onTorcJobFinished,
  onTorcSideResult,
  onTorcWorkflowCompleted,
} from './torc.ts';

export interface ServiceDeps {
  store: StateStore;
  commands: CommandQueue;
  config: ServiceConfig;
  now: () => Date;
}

/** Jobs whose opt-in tag is missing are recorded under this key; "~" cannot start a tag. */
export const UNTAGGED = '~untagged';
const PROCESSED_TTL_MS = 7 * 86_400_000;

/**
 * The worker's one decision per event: update state, diagnose, plan, claim the attempt, emit commands.
 * Safe to run twice for the same event: every write is keyed (job, attempt, command id).
 */
export async function handleEvent(deps: ServiceDeps, event: Event): Promise<void> {
  // Handled and recorded before a crash stopped the delete: nothing to redo.
  if (await deps.store.wasProcessed(event.id)) return;
  switch (event.type) {
    case 'slurm.jobcomp':
    case 'slurm.epilog':
      await onJobEnded(deps, event);
      break;
    case 'slurm.sacct':
      await onSacct(deps, event);
      break;
    case 'relay.command.result':
      await onCommandResult(deps, event);
      break;
    case 'torc.job.finished':
      await onTorcJobFinished(deps, event);
      break;
    case 'torc.workflow.completed':
      await onTorcWorkflowCompleted(deps, event);
      break;
    case 'torc.workflow.census':
      await onTorcCensus(deps, event);
      break;
    case 'slurm.allocation.ended':
      await onAllocationEnded(deps, event);
      break;
  }
  await deps.store.markProcessed(event.id, new Date(deps.now().getTime() + PROCESSED_TTL_MS));
}

/** Events that touch the same record, handled in order; everything else may run at once. */
function orderKey(event: Event): string {
  switch (event.type) {
    case 'slurm.jobcomp':
    case 'slurm.epilog':
    case 'slurm.sacct':
      return `${event.cluster}:${event.data.jobId}`;
    case 'relay.command.result':
      return `command:${event.data.commandId}`;
    case 'torc.job.finished':
    case 'torc.workflow.completed':
    case 'torc.workflow.census':
    case 'slurm.allocation.ended':
      // A completion must follow the job events posted before it.
      return `torc:${event.cluster}:${event.data.workflowId}`;
  }
}

/**
 * A batch, as the local loop and an SQS-triggered function receive it: events of one job in order,
 * different jobs concurrently (their writes then share commits). Returns each event's error, if any, so
 * the caller deletes (or reports to SQS) per event and one bad event never re-runs the whole batch.
 */
export async function handleEvents(deps: ServiceDeps, events: Event[]): Promise<(Error | undefined)[]> {
  const outcomes: (Error | undefined)[] = new Array(events.length);
  const chains = new Map<string, number[]>();
  events.forEach((e, i) => {
    const key = orderKey(e);
    chains.set(key, [...(chains.get(key) ?? []), i]);
  });
  await Promise.all(
    [...chains.values()].map(async (indexes) => {
      for (const i of indexes) {
        try {
          await handleEvent(deps, events[i]!);
        } catch (error) {
          outcomes[i] = error as Error;
        }
      }
    }),
  );
  return outcomes;
}

async function loadJob(deps: ServiceDeps, cluster: string, jobId: string, name?: string): Promise<JobRecord> {
  const key = `${cluster}:${jobId}`;
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
async function onJobEnded(deps: ServiceDeps, event: EventOf<'slurm.jobcomp' | 'slurm.epilog'>) {
  const job = await loadJob(deps, event.cluster, event.data.jobId, event.data.jobName);
  job.evidence = mergeEvidence(evidenceFromSlurmEvent(event), job.evidence);
  job.name ||= event.data.jobName ?? '';
  job.updatedAt = deps.now().toISOString();
  await deps.store.putJob(job);
  if (job.decided) return;
  await send(deps, [
    {
      type: 'slurm.enrich',
      id: `enrich:${job.key}`,
      workload: job.workload ?? UNTAGGED,
      createdAt: job.updatedAt,
      jobId: job.jobId,
      eventId: event.id,
    },
  ]);
}

async function onSacct(deps: ServiceDeps, event: EventOf<'slurm.sacct'>) {
  const { store } = deps;
  const job = await loadJob(deps, event.cluster, event.data.jobId, event.data.jobName);
  job.evidence = mergeEvidence(job.evidence, evidenceFromSlurmEvent(event));
  job.diagnosis = diagnose(job.evidence);
  job.name ||= event.data.jobName ?? '';
  const tag = parseTag(event.data.comment);
  job.workload = tag?.workload ?? UNTAGGED;
  if (event.data.partition) job.partition = event.data.partition;
  if (tag?.commandTag) {
    const origin = await store.findAttemptByCommand(tag.commandTag);
    if (origin) {
      job.lineage = origin.lineage;
      job.attempt = origin.attempt;
    }
  }
  job.updatedAt = deps.now().toISOString();
  if (job.decided) return store.putJob(job);
  const d = job.diagnosis;
  const workflowId = tag ? torcWorkflowOf(tag.workload) : undefined;
  if (workflowId !== undefined) {
    // One of our Torc allocations ended: whatever its runner left running is orphaned; clean up at once.
    job.decided = true;
    await store.putJob(job);
    await send(deps, [cleanupCommand(workflowId, job.jobId, job.updatedAt)]);
    return;
  }
  const label = `Job ${job.jobId} (${job.name})`;

  if (!tag) {
    job.decided = true;
    await store.putJob(job);
    await ensureWorkload(deps, UNTAGGED, 'slurm', 'watching');
    await history(deps, UNTAGGED, [
      `${label}: ${d.cause} (${d.summary}); not tagged rebound:<workload>, recorded only`,
    ]);
    return;
  }

  // Redelivered after this job's attempt was claimed (a crash before it was marked decided): that
  // attempt's commands again (ids deduplicated downstream) — never a second attempt for one failure.
  // The attempt a job's failure makes is the next in its chain, so its command id is known: one lookup.
  const prior = await store.findAttemptByCommand(`${job.lineage}:a${job.attempt + 1}`);
  if (prior?.source === job.key) {
    job.decided = true;
    await store.putJob(job);
    await send(deps, commandsFor(prior.plan, job));
    return;
  }
  const policy = policyFor(deps.config.policy, tag.workload);
  const used = await store.countAttempts(job.lineage);
  const plan = planRecovery(
    {
      kind: 'slurm',
      workload: tag.workload,
      profile: deps.config.profile,
      jobs: [toFailedJob(job)],
    },
    policy,
    { attemptsUsed: used },
    deps.now(),
  );
  const evidence = d.evidence.map((e) => `${e.signal}=${e.value}`).join(', ');
  const attemptNote = job.attempt > 0 ? ` (attempt ${job.attempt} of ${job.lineage.split(':').pop()})` : '';

  if (plan.outcome === 'stop') {
    job.decided = true;
    await store.putJob(job);
    if (plan.stopReason === 'nothing-failed') {
      await ensureWorkload(deps, tag.workload, 'slurm', 'healthy');
      await history(deps, tag.workload, [`${label}${attemptNote}: completed`]);
      return;
    }
    await ensureWorkload(
      deps,
      tag.workload,
      'slurm',
      plan.stopReason === 'max-retries' ? 'exhausted' : 'needs-attention',
    );
    await history(deps, tag.workload, [`${label}${attemptNote}: ${d.cause} [${evidence}]`, ...plan.report]);
    return;
  }

  const commands = commandsFor(plan, job);
  try {
    await store.claimAttempt({
      lineage: job.lineage,
      attempt: plan.attempt,
      workload: tag.workload,
      source: job.key,
      plan,
      commandIds: commands.map((c) => c.id),
      createdAt: deps.now().toISOString(),
    });
  } catch (error) {
    if (!(error instanceof AttemptAlreadyClaimedError)) throw error;
    // Another worker on the same failure won: its commands again (deduplicated downstream), in case it
    // stops between its claim and its send. A claim for another job of the chain: that one recovers.
    if (error.existing.source === job.key) await send(deps, commandsFor(error.existing.plan, job));
    return;
  }
  job.decided = true;
  await store.putJob(job);
  await ensureWorkload(deps, tag.workload, 'slurm', 'recovering');
  await history(deps, tag.workload, [`${label}${attemptNote}: ${d.cause} [${evidence}]`, ...plan.report]);
  await send(deps, commands);
}

/** The planner's view of a recorded job; a limit sacct did not report stays unknown (never guessed). */
export function toFailedJob(job: JobRecord): FailedJob {
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
    cpus: 1,
    gpus: 0,
    ...(job.partition ? { partition: job.partition } : {}),
  };
}

function commandsFor(plan: Plan, job: JobRecord): Command[] {
  return plan.actions.flatMap((a): Command[] => {
    if (a.type !== 'resubmit-job') return [];
    const id = `${job.lineage}:a${plan.attempt}`;
    return [
      {
        type: 'slurm.resubmit',
        id,
        workload: plan.workload,
        createdAt: plan.createdAt,
        jobId: a.jobId,
        tag: id,
        resources: a.resources,
      },
    ];
  });
}

async function onCommandResult(deps: ServiceDeps, event: EventOf<'relay.command.result'>) {
  const r = event.data;
  const attempt = await deps.store.findAttemptByCommand(r.commandId);
  if (!attempt) {
    if (await onTorcSideResult(deps, event)) return;
    if (!r.ok) await history(deps, UNTAGGED, [`Command ${r.commandId} failed: ${r.error ?? r.output}`]);
    return;
  }
  if (attempt.plan.kind === 'torc') return continueTorcRecovery(deps, attempt, event);
  const [newId] = r.slurmJobIds;
  if (r.ok && newId) {
    const key = `${event.cluster}:${newId}`;
    const existing = await deps.store.getJob(key);
    if (!existing) {
      await deps.store.putJob({
        key,
        workload: attempt.workload,
        jobId: newId,
        name: '',
        evidence: {},
        lineage: attempt.lineage,
        attempt: attempt.attempt,
        decided: false,
        updatedAt: deps.now().toISOString(),
      });
    }
    const verb = r.alreadyDone ? 'was already resubmitted as' : 'resubmitted as';
    await history(deps, attempt.workload, [
      `Attempt ${attempt.attempt}: job ${attempt.lineage.split(':').pop()} ${verb} job ${newId}`,
    ]);
    return;
  }
  await ensureWorkload(deps, attempt.workload, 'slurm', 'needs-attention');
  await history(deps, attempt.workload, [
    `Attempt ${attempt.attempt} failed to submit: ${r.error ?? r.output}`,
  ]);
}
