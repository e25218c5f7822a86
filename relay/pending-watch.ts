import type { Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { neverStarts, partitionsMayHaveChanged } from '../core/pending.ts';
import { slurmRows } from '../core/slurm-records.ts';
import { parseTag } from '../core/tag.ts';
import { run } from './exec.ts';
import { freshDelimiter } from './slurm.ts';

export interface PendingWatchOptions {
  cluster: string;
  /** User mode: the relay's user; site mode: undefined, every user's jobs (one squeue call). */
  user?: string;
  post: (events: Event[]) => Promise<void>;
  log: (line: string) => void;
  /** A retry pending for a partition's limits: the partitions may have changed (relay/discovery.ts). */
  partitionsChanged?: () => void;
}

/**
 * Finds resubmissions (tagged with a command) pending for a reason that never resolves (core/pending.ts)
 * and reports each once: one squeue call per poll, whatever the number of jobs. The service decides whether
 * the job is one Rebound submitted; the comment alone proves nothing.
 */
export class PendingWatch {
  /** Stuck jobs already reported and still stuck (the set is rebuilt every poll, so it stays small). */
  private reported = new Set<string>();

  constructor(private readonly opts: PendingWatchOptions) {}

  async poll(): Promise<number> {
    const d = freshDelimiter();
    const who = this.opts.user ? ['-u', this.opts.user] : [];
    const { stdout } = await run([
      'squeue',
      '-h',
      '-t',
      'PENDING',
      ...who,
      '-o',
      ['%i', '%r', '%k', '%i'].join(d),
    ]);
    const stuck = new Set<string>();
    const fresh: Event[] = [];
    const now = new Date().toISOString();
    for (const r of slurmRows(stdout, d, ['id', 'reason', 'comment', 'end'] as const)) {
      const jobId = r.id.trim();
      const tag = parseTag(r.comment);
      if (
        !/^\d+(_\d+)?$/.test(jobId) ||
        tag?.kind !== 'workload' ||
        !tag.commandTag ||
        !neverStarts(r.reason)
      )
        continue;
      if (partitionsMayHaveChanged(r.reason)) this.opts.partitionsChanged?.();
      const id = eventIds.stuck(this.opts.cluster, jobId, r.reason);
      stuck.add(id);
      if (this.reported.has(id)) continue;
      fresh.push({
        id,
        version: 1,
        source: 'relay:pending-watch',
        occurredAt: now,
        cluster: this.opts.cluster,
        type: 'slurm.job.stuck',
        data: { jobId, reason: r.reason },
      });
    }
    if (fresh.length) {
      await this.opts.post(fresh);
      this.opts.log(`pending watch: reported ${fresh.map((e) => e.id).join(' ')}`);
    }
    this.reported = stuck;
    return fresh.length;
  }
}
