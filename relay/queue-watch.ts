import { createHash } from 'node:crypto';
import { type Event, type EventOf, TRACKED_PER_EVENT } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { type Owner, OwnerSchema } from '../core/owner.ts';
import { neverStarts, partitionsMayHaveChanged } from '../core/pending.ts';
import { slurmRows } from '../core/slurm-records.ts';
import { parseTag } from '../core/tag.ts';
import { run } from './exec.ts';
import { freshDelimiter } from './slurm.ts';

export interface QueueWatchOptions {
  cluster: string;
  /** User mode: the relay's user; site mode: undefined, every user's jobs (one squeue call). */
  user?: string;
  post: (events: Event[]) => Promise<void>;
  log: (line: string) => void;
  /** A retry pending for a partition's limits: the partitions may have changed (relay/discovery.ts). */
  partitionsChanged?: () => void;
}

/** How long an untagged job is remembered after it was last listed: longer than any job end takes to arrive. */
const UNTAGGED_KEPT_MS = 10 * 60_000;

const FIELDS = ['%i', '%T', '%r', '%k', '%j', '%U', '%u', '%a', '%i'] as const;

/**
 * One squeue call per poll, whatever the number of jobs, for two things. Tagged jobs seen queued or running
 * for the first time are posted (`slurm.tracked`): their ends are the ones Rebound follows, and the end of
 * any other job that completed costs Slurm nothing. And resubmissions (tagged with a command) pending for a
 * reason that never resolves (core/pending.ts) are reported once each. The service decides whether a job is
 * one Rebound submitted and whose it is; the comment alone proves nothing.
 */
export class QueueWatch {
  /** Stuck jobs already reported and still stuck (rebuilt every poll, so it stays small). */
  private reported = new Set<string>();
  /** Tagged jobs already posted and still queued or running (rebuilt every poll). */
  private tracked = new Set<string>();
  /** Untagged jobs listed in the last ten minutes, with their owners (slurmctld's word) and when. */
  private readonly untagged = new Map<string, { owner: Owner; seenAt: number }>();

  /**
   * The owner of a job this watch saw queued or running without a tag in the last ten minutes: its end is
   * nobody's to recover, and needs no Slurm call to say so (relay/slurm-executor.ts).
   */
  seenUntagged(jobId: string): Owner | undefined {
    return this.untagged.get(jobId)?.owner;
  }

  constructor(private readonly opts: QueueWatchOptions) {}

  async poll(): Promise<number> {
    const d = freshDelimiter();
    const who = this.opts.user ? ['-u', this.opts.user] : [];
    const { stdout } = await run(['squeue', '-h', ...who, '-o', FIELDS.join(d)]);
    const stuck = new Set<string>();
    const tracked = new Set<string>();
    const fresh: Event[] = [];
    const newlyTracked: { jobId: string; jobName?: string }[] = [];
    const now = new Date().toISOString();
    const rows = slurmRows(stdout, d, [
      'id',
      'state',
      'reason',
      'comment',
      'name',
      'uid',
      'user',
      'account',
      'end',
    ] as const);
    for (const r of rows) {
      const jobId = r.id.trim();
      const tag = parseTag(r.comment);
      // A pending range of an array (`123_[5-9]`) is seen task by task as each runs.
      if (!/^\d+(_\d+)?$/.test(jobId)) continue;
      if (!tag) {
        const owner = OwnerSchema.safeParse({
          uid: Number(r.uid),
          user: r.user,
          ...(r.account && r.account !== '(null)' ? { account: r.account } : {}),
        });
        if (owner.success) this.untagged.set(jobId, { owner: owner.data, seenAt: Date.now() });
        continue;
      }
      tracked.add(jobId);
      // Rebound's own retries (a command tag) are linked to their chain by their submission's result: a
      // record made here first would stand in for that link (service/slurm-results.ts).
      if (!this.tracked.has(jobId) && !(tag.kind === 'workload' && tag.commandTag))
        newlyTracked.push({ jobId, ...(r.name ? { jobName: r.name.slice(0, 200) } : {}) });
      if (r.state !== 'PENDING' || tag.kind !== 'workload' || !tag.commandTag || !neverStarts(r.reason))
        continue;
      if (partitionsMayHaveChanged(r.reason)) this.opts.partitionsChanged?.();
      const id = eventIds.stuck(this.opts.cluster, jobId, r.reason);
      stuck.add(id);
      if (this.reported.has(id)) continue;
      fresh.push(this.event(id, now, { type: 'slurm.job.stuck', data: { jobId, reason: r.reason } }));
    }
    for (let i = 0; i < newlyTracked.length; i += TRACKED_PER_EVENT) {
      const jobs = newlyTracked.slice(i, i + TRACKED_PER_EVENT);
      const digest = createHash('sha256')
        .update(jobs.map((j) => j.jobId).join(','))
        .digest('hex')
        .slice(0, 24);
      fresh.push(
        this.event(eventIds.tracked(this.opts.cluster, digest), now, {
          type: 'slurm.tracked',
          data: { jobs },
        }),
      );
    }
    if (fresh.length) {
      await this.opts.post(fresh);
      const said = fresh.filter((e) => e.type === 'slurm.job.stuck').map((e) => e.id);
      if (said.length) this.opts.log(`queue watch: reported ${said.join(' ')}`);
    }
    this.reported = stuck;
    this.tracked = tracked;
    const horizon = Date.now() - UNTAGGED_KEPT_MS;
    for (const [id, seen] of this.untagged) if (seen.seenAt < horizon) this.untagged.delete(id);
    return fresh.length;
  }

  private event(
    id: string,
    occurredAt: string,
    body: Pick<EventOf<'slurm.job.stuck'>, 'type' | 'data'> | Pick<EventOf<'slurm.tracked'>, 'type' | 'data'>,
  ): Event {
    return {
      id,
      version: 1,
      source: 'relay:queue-watch',
      occurredAt,
      cluster: this.opts.cluster,
      ...body,
    } as Event;
  }
}
