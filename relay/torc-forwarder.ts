import * as z from 'zod';
import type { Event } from '../core/events.ts';
import { TORC_RESULT_STATUSES, type TorcScheduledComputeNode } from '../core/torc-model.ts';
import { readStateFile, writeFileAtomic } from './state-file.ts';
import type { TorcClient } from './torc-client.ts';
import {
  allocationEndedEvent,
  type CensusEvent,
  censusEvent,
  completionPages,
  jobFinishedEvent,
  recensus,
  requestBatches,
  resultKey,
} from './torc-events.ts';
import { digestOf, markOf, mustRead, type Quiet, quiet, TORC_BACKGROUND_PASS_MS } from './torc-quiet.ts';
import { readRegistry } from './torc-registry.ts';

// Recovery needs the results of jobs that did not complete; a completed job's result is never posted (a
// 100,000-job workflow would otherwise be 100,000 events).
const UNSUCCESSFUL = new Set<string>(TORC_RESULT_STATUSES.filter((s) => s !== 'completed'));
const JOB_EVENTS = new Set([
  'job_completed',
  'job_failed',
  'job_terminated',
  'job_canceled',
  'job_pending_failed',
]);

const WorkflowStateSchema = z.object({
  /** `<job>:<run>:<attempt>` of results already posted. */
  posted: z.array(z.string()),
  /** The run whose completion was posted (a reinitialize bumps run_id, so the next one is new). */
  completedRun: z.number().optional(),
  /** Allocations already reported ended (Slurm job ids). */
  ended: z.array(z.string()).optional(),
  /** The last census posted, and when: a new one goes out when it changes, or at least every minute. */
  census: z.string().optional(),
  censusAt: z.number().optional(),
});
type WorkflowState = z.infer<typeof WorkflowStateSchema>;
const ForwarderStateSchema = z.record(z.string(), WorkflowStateSchema);

const CENSUS_REFRESH_MS = 60_000;

/** A workflow's quiet-poll state and the last census it read, re-posted while nothing changes. */
type Watched = Quiet & { census?: CensusEvent };

export interface TorcForwarderOptions {
  client: TorcClient;
  cluster: string;
  post: (events: Event[]) => Promise<void>;
  /** Workflows registered by `rebound watch` (and the relay's config); re-read on every sync. */
  registryFile: string;
  /** Posted results and completions per workflow, rewritten atomically. */
  stateFile: string;
  log: (line: string) => void;
  /** Slurm job ids still queued or running (squeue); a live allocation missing from it has ended. */
  slurmJobs?: () => Promise<Set<string>>;
  now?: () => Date;
}

/**
 * Turns Torc into events. Per watched workflow it follows the SSE stream (reconnecting with backoff) and
 * treats every job event as a hint to reconcile from the API: results not yet posted become
 * torc.job.finished events, and once `is_complete` holds, one torc.workflow.completed per run follows them.
 * The same reconcile runs on a timer as the backstop (SSE is lossy and Torc has no completion event), on
 * every (re)connect, and after a restart, so nothing is lost and nothing is posted twice.
 */
export class TorcForwarder {
  private readonly streams = new Map<number, AbortController>();
  private readonly pending = new Map<number, Promise<void>>();
  private readonly state: Record<string, WorkflowState>;
  /** Per workflow: whether a poll may be cheap (in memory: after a restart the first poll reads all). */
  private readonly quiets = new Map<number, Watched>();

  /** Whose workflow each is (the watch list's user): the census tells the service, for its readers. */
  private readonly owners = new Map<number, string>();

  constructor(private readonly opts: TorcForwarderOptions) {
    const read = readStateFile(opts.stateFile, ForwarderStateSchema);
    this.state = read.kind === 'ok' ? read.value : {};
    // Rebuilt from Torc: every result is posted again on the first reconcile, and the service keeps one
    // of each (the ids are the same).
    if (read.kind === 'corrupt')
      opts.log(
        `torc forwarder: state file unreadable (${read.reason}); kept as ${read.movedTo}, rebuilding from Torc`,
      );
  }

  /**
   * Starts streams for newly registered workflows and polls every watched one (the backstop): a full read
   * where anything may have changed, two requests where nothing can have (relay/torc-quiet.ts).
   */
  async sync(): Promise<void> {
    for (const { id, user } of readRegistry(this.opts.registryFile, this.opts.log)) {
      if (user) this.owners.set(id, user);
      if (!this.streams.has(id)) this.follow(id);
    }
    // One `squeue` for the quiet polls of this round, not one per workflow with a live allocation.
    let listing: Promise<Set<string>> | undefined;
    const queued = () => {
      listing ??= this.opts.slurmJobs?.() ?? Promise.resolve(new Set<string>());
      return listing;
    };
    await Promise.all([...this.streams.keys()].map((id) => this.poll(id, queued)));
  }

  stop(): void {
    for (const c of this.streams.values()) c.abort();
    this.streams.clear();
  }

  private nowMs(): number {
    return (this.opts.now?.() ?? new Date()).getTime();
  }

  private quietOf(workflowId: number): Watched {
    const q = this.quiets.get(workflowId) ?? quiet();
    this.quiets.set(workflowId, q);
    return q;
  }

  private follow(workflowId: number): void {
    const abort = new AbortController();
    this.streams.set(workflowId, abort);
    const q = this.quietOf(workflowId);
    void (async () => {
      for (let failures = 0; !abort.signal.aborted; ) {
        try {
          for await (const e of this.opts.client.events(workflowId, abort.signal)) {
            if (e === 'open') {
              failures = 0;
              q.streamSince = this.nowMs();
              // Whatever happened while disconnected is caught up from the API now that the stream is open.
              void this.reconcile(workflowId);
              continue;
            }
            q.hinted = true;
            if (e === 'dropped' || JOB_EVENTS.has(e.event_type)) void this.reconcile(workflowId);
          }
        } catch (error) {
          if (abort.signal.aborted) return;
          this.opts.log(`torc forwarder: workflow ${workflowId} stream: ${(error as Error).message}`);
        } finally {
          q.streamSince = undefined;
        }
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(failures, 6))));
      }
    })();
  }

  /** The timer's poll: two requests when nothing can have changed unseen, else a full read. */
  private async poll(workflowId: number, queued: () => Promise<Set<string>>): Promise<void> {
    const running = this.pending.get(workflowId);
    if (running) return running;
    const q = this.quietOf(workflowId);
    if (mustRead(q, this.nowMs()) !== undefined) return this.reconcile(workflowId);
    const { client } = this.opts;
    const [status, results] = await Promise.all([client.status(workflowId), client.resultsMark(workflowId)]);
    if (markOf(status, results.newestId, results.count) !== q.mark) return this.reconcile(workflowId);
    if (q.live.length > 0 && this.opts.slurmJobs) {
      const listed = await queued();
      if (q.live.some((id) => !listed.has(id))) return this.reconcile(workflowId);
    }
    // Unchanged, and known to be: the census is the last one, observed now.
    const state = this.state[workflowId];
    const nowMs = this.nowMs();
    if (!q.census || !state || nowMs - (state.censusAt ?? 0) < CENSUS_REFRESH_MS) return;
    await this.opts.post([recensus(q.census, new Date(nowMs).toISOString())]);
    state.censusAt = nowMs;
    this.save();
  }

  /** One full read per workflow at a time; a request during one runs once more after it. */
  reconcile(workflowId: number): Promise<void> {
    const running = this.pending.get(workflowId);
    if (running) return running.then(() => this.reconcile(workflowId));
    const next = this.reconcileNow(workflowId)
      .catch((error) => this.opts.log(`torc forwarder: workflow ${workflowId}: ${(error as Error).message}`))
      .finally(() => this.pending.delete(workflowId));
    this.pending.set(workflowId, next);
    return next;
  }

  private async reconcileNow(workflowId: number): Promise<void> {
    const { client } = this.opts;
    const q = this.quietOf(workflowId);
    const readAt = this.nowMs();
    q.hinted = false;
    q.mark = undefined;
    const [status, complete, results, jobs, rrs, scns] = await Promise.all([
      client.status(workflowId),
      client.isComplete(workflowId),
      client.results(workflowId),
      client.jobs(workflowId),
      client.resourceRequirements(workflowId),
      client.scheduledComputeNodes(workflowId),
    ]);
    this.state[workflowId] ??= { posted: [] };
    const state = this.state[workflowId];
    const posted = new Set(state.posted);
    const jobById = new Map(jobs.map((j) => [j.id, j]));
    const rrById = new Map(rrs.map((r) => [r.id!, r]));
    const now = new Date(readAt).toISOString();

    const fresh = results.filter((r) => UNSUCCESSFUL.has(r.status) && !posted.has(resultKey(r)));
    const events: Event[] = fresh.flatMap((r) => {
      const job = jobById.get(r.job_id);
      // A job without a row is still reported: the service makes that job alone need attention.
      const rr = job?.resource_requirements_id ? rrById.get(job.resource_requirements_id) : undefined;
      return job ? [jobFinishedEvent(this.opts.cluster, r, job, rr, now)] : [];
    });
    const run = status.run_id;
    const live = scns.filter((x) => x.status !== 'complete').length;
    if (complete.is_complete && state.completedRun !== run) {
      events.push(
        ...completionPages(this.opts.cluster, workflowId, run, complete.is_canceled, jobs, rrs, live, now),
      );
    }
    events.push(...(await this.endedAllocations(workflowId, scns, state, now)));
    const census = censusEvent(
      this.opts.cluster,
      workflowId,
      jobs,
      rrs,
      live,
      now,
      this.owners.get(workflowId),
    );
    const censusKey = JSON.stringify({ ...census.data, observedAt: undefined });
    const censusDue = censusKey !== state.census || readAt - (state.censusAt ?? 0) >= CENSUS_REFRESH_MS;
    if (censusDue) events.push(census);
    // In order, in batches within the webhook's limits: the completion after the job events it depends on.
    for (const batch of requestBatches(events)) await this.opts.post(batch);

    const digest = digestOf([
      run,
      status.is_canceled,
      complete.is_complete,
      results.map((r) => [resultKey(r), r.status]),
      jobs.map((j) => [j.id, j.status, j.resource_requirements_id, j.attempt_id]),
      rrs.map((r) => [r.id, r.memory, r.runtime, r.num_cpus, r.num_gpus, r.num_nodes]),
      scns.map((x) => [x.id, x.status, x.scheduler_id]),
    ]);
    if (digest !== q.digest) q.settleUntil = readAt + TORC_BACKGROUND_PASS_MS;
    q.digest = digest;
    q.readAt = readAt;
    q.mark = markOf(status, Math.max(0, ...results.map((r) => r.id ?? 0)), results.length);
    q.live = scns
      .filter((x) => x.status !== 'complete' && x.scheduler_id > 0)
      .map((x) => String(x.scheduler_id));
    q.census = census;
    if (events.length === 0) return;
    if (censusDue) {
      state.census = censusKey;
      state.censusAt = readAt;
    }
    state.posted = results
      .map(resultKey)
      .filter((k) => posted.has(k) || fresh.some((r) => resultKey(r) === k));
    if (complete.is_complete) state.completedRun = run;
    this.save();
    if (fresh.length || complete.is_complete)
      this.opts.log(
        `torc forwarder: workflow ${workflowId} run ${run}: posted ${fresh.length} job result(s)${complete.is_complete ? ', workflow complete' : ''}`,
      );
  }

  /**
   * The backstop for orphan cleanup: an allocation Torc still counts as live but Slurm no longer knows
   * (its jobcomp event lost, or no hook installed) is reported ended, once.
   */
  private async endedAllocations(
    workflowId: number,
    scns: TorcScheduledComputeNode[],
    state: WorkflowState,
    now: string,
  ): Promise<Event[]> {
    const live = scns.filter((x) => x.status !== 'complete' && x.scheduler_id > 0);
    if (live.length === 0 || !this.opts.slurmJobs) return [];
    const queued = await this.opts.slurmJobs();
    const gone = live.filter(
      (x) => !queued.has(String(x.scheduler_id)) && !state.ended?.includes(String(x.scheduler_id)),
    );
    state.ended = [...(state.ended ?? []), ...gone.map((x) => String(x.scheduler_id))].slice(-1000);
    return gone.map((x) => allocationEndedEvent(this.opts.cluster, workflowId, x, now));
  }

  private save(): void {
    writeFileAtomic(this.opts.stateFile, JSON.stringify(this.state));
  }
}
