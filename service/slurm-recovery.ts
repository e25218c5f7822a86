import { diagnose } from '../core/diagnose.ts';
import type { EventOf } from '../core/events.ts';
import { evidenceFromSlurmEvent, mergeEvidence } from '../core/evidence.ts';
import { commandIds, FOREIGN, jobKey, plainWorkload, UNTAGGED } from '../core/ids.ts';
import type { JobRecord } from '../core/ports.ts';
import { parseTag } from '../core/tag.ts';
import type { ServiceDeps } from './deps.ts';
import { command, ensureWorkload, type Handled, history, send } from './effects.ts';
import { decide, resendDecided } from './slurm-decision.ts';
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

/**
 * Tagged jobs the relay saw queued or running: each gets a record, so that its end — completed or not — is
 * followed. A job already recorded (a retry Rebound submitted, a poll seen before) is left as it is.
 */
export async function onTracked(deps: ServiceDeps, event: EventOf<'slurm.tracked'>) {
  for (const { jobId, jobName } of event.data.jobs) {
    if (await deps.store.getJob(jobKey(event.cluster, jobId))) continue;
    await deps.store.putJob(await loadJob(deps, event.cluster, jobId, jobName));
  }
}

/**
 * jobcomp and epilog events lack MaxRSS (and the tag): ask the relay to read sacct before deciding. A job
 * that completed and that nobody tracks (no tagged job the relay saw, no retry Rebound submitted) is
 * nothing to Rebound: no write, no command, no Slurm call (README "Performance"). Any other end is not
 * written either: its reading brings all it says, and is decided (README "What Rebound costs in AWS").
 */
export async function onJobEnded(deps: ServiceDeps, event: EventOf<'slurm.jobcomp' | 'slurm.epilog'>) {
  const known = await deps.store.getJob(jobKey(event.cluster, event.data.jobId));
  if (!known && isCompletedEnd(event)) return;
  // A job Slurm requeued ends once per run (jobcomp says when each ended): an earlier run's end arriving
  // late changes nothing; a later run's end of a decided job is its own end, decided afresh — stored
  // here, so that its reading finds the job undecided even from a relay that does not say the run.
  const endedAt = event.type === 'slurm.jobcomp' ? event.data.endedAt || undefined : undefined;
  if (known) {
    const run = runOf(known, endedAt);
    if (run === 'earlier' || (known.decided && run === 'same')) return;
    if (run === 'later' && known.decided) await deps.store.putJob(nextRun(deps, known, endedAt));
  }
  await send(deps, [
    command({
      type: 'slurm.enrich',
      id: commandIds.enrich(jobKey(event.cluster, event.data.jobId), endedAt),
      workload: known?.workload ?? UNTAGGED,
      createdAt: deps.now().toISOString(),
      jobId: event.data.jobId,
      eventId: event.id,
      ...(endedAt ? { endedAt } : {}),
      ...endFacts(event),
    }),
  ]);
}

/** What the end says that the enrichment passes on (a reading made without accounting echoes it). */
function endFacts(event: EventOf<'slurm.jobcomp' | 'slurm.epilog'>) {
  const d = event.data;
  return {
    ...(d.jobName ? { jobName: d.jobName } : {}),
    ...(d.exitCode ? { exitCode: d.exitCode } : {}),
    ...(event.type === 'slurm.jobcomp'
      ? { state: event.data.state, ...(event.data.nodes ? { nodes: event.data.nodes } : {}) }
      : {}),
  };
}

/** Which run of a job an end (or its reading) is of, against the last run its record saw end. */
function runOf(job: JobRecord, endedAt: number | undefined): 'earlier' | 'same' | 'later' {
  if (!endedAt || !job.runEndedAt || endedAt === job.runEndedAt) return 'same';
  return endedAt < job.runEndedAt ? 'earlier' : 'later';
}

/** The job's record for a new run: what was read and decided of the last run is forgotten. */
function nextRun(deps: ServiceDeps, job: JobRecord, endedAt: number | undefined): JobRecord {
  const { diagnosis: _, runEndedAt, ...rest } = job;
  return {
    ...rest,
    evidence: {},
    decided: false,
    runEndedAt: endedAt ?? runEndedAt,
    updatedAt: deps.now().toISOString(),
  };
}

/** jobcomp's word that a job completed (an epilog has no state: a timeout looks like success there). */
const isCompletedEnd = (event: EventOf<'slurm.jobcomp' | 'slurm.epilog'>) =>
  event.type === 'slurm.jobcomp' && event.data.state.startsWith('COMPLETED');

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
  const nodes = evidenceFromSlurmEvent(event).nodes ?? job.evidence.nodes;
  const where = nodes ? ` on ${nodes}` : '';
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

/**
 * The decision for one plain job: its full evidence, diagnosed, planned and (at most once) resubmitted. The
 * reading of a job already decided (this reading redelivered, or the same run read again) adds sacct's
 * figures to its record and sends a resubmission that has had no answer again — both harmless twice:
 * 'settled'. So is a decision that writes the job's record decided (service/slurm-decision.ts).
 */
export async function onSacct(deps: ServiceDeps, event: EventOf<'slurm.sacct'>): Promise<Handled> {
  const { store } = deps;
  const loaded = await loadJob(deps, event.cluster, event.data.jobId, event.data.jobName);
  const { endedAt } = event.data;
  const run = runOf(loaded, endedAt);
  // An earlier run's reading arriving late changes nothing; a later run's is decided afresh.
  if (run === 'earlier') return 'settled';
  const job = run === 'later' ? nextRun(deps, loaded, endedAt) : loaded;
  if (endedAt) job.runEndedAt = endedAt;
  job.name ||= event.data.jobName ?? '';
  if (event.data.requeued) {
    await onRequeued(deps, job, event);
    return;
  }
  job.evidence = mergeEvidence(job.evidence, evidenceFromSlurmEvent(event));
  job.diagnosis = diagnose(job.evidence);
  job.name ||= event.data.jobName ?? '';
  if (event.data.owner) job.owner = event.data.owner;
  if (event.data.environment) job.environment = event.data.environment;
  if (event.data.qos) job.qos = event.data.qos;
  if (event.data.groups) job.groups = event.data.groups;
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
  if (job.decided) {
    await store.putJob(job);
    // An array task's retry goes with its array's (service/slurm-arrays.ts), never alone.
    if (!event.data.array) await resendDecided(deps, job);
    return 'settled';
  }
  const d = job.diagnosis;
  const label = `Job ${job.jobId} (${job.name})`;
  if (foreign) {
    job.decided = true;
    await ensureWorkload(deps, FOREIGN, 'slurm', 'watching');
    await history(deps, FOREIGN, [`${label}: ${d.cause}; ${foreign}: recorded only, never recovered`]);
    await store.putJob(job);
    return 'settled';
  }
  if (tag?.kind === 'torc-allocation') {
    await onAllocationJobEnded(deps, job, tag);
    return;
  }

  if (!tag || !workload) {
    job.decided = true;
    await ensureWorkload(deps, UNTAGGED, 'slurm', 'watching');
    await history(deps, UNTAGGED, [
      `${label}: ${d.cause} (${d.summary}); not tagged rebound:<workload>, recorded only`,
    ]);
    await store.putJob(job);
    return 'settled';
  }

  return decide(deps, job, {
    workload,
    tagName: tag.workload,
    cluster: event.cluster,
    array: event.data.array,
  });
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
