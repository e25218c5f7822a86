import * as z from 'zod';
import type { Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { ENDED_FIELDS, type EndedJob, parseEndedJobs } from '../core/sacct.ts';
import { run } from './exec.ts';
import { freshDelimiter, slurmLocalTime } from './slurm.ts';
import { readStateFile, writeFileAtomic } from './state-file.ts';

/** slurmdbd records a job a moment after it ends: each poll looks this far back before the last one. */
const OVERLAP_MS = 10 * 60_000;

const WatcherStateSchema = z.object({
  /** The watcher's first start: jobs that ended before it are history, not news. */
  since: z.number(),
  /** When the last completed poll started (epoch ms). */
  polledAt: z.number(),
  /** Jobs already posted whose end lies inside the overlap, so a re-read never posts them twice. */
  posted: z.record(z.string(), z.number()),
});
export type WatcherState = z.infer<typeof WatcherStateSchema>;

/**
 * Which ended jobs to post: those not posted before. The returned state forgets ids that ended before the
 * next poll's window, so it stays small however many jobs a user runs.
 */
export function selectNew(
  jobs: EndedJob[],
  state: WatcherState,
  pollStartedAt: number,
): { fresh: EndedJob[]; next: WatcherState } {
  const posted = { ...state.posted };
  const fresh: EndedJob[] = [];
  for (const job of jobs) {
    if (posted[job.jobId] !== undefined || Date.parse(job.end) < state.since) continue;
    posted[job.jobId] = Date.parse(job.end);
    fresh.push(job);
  }
  const horizon = pollStartedAt - OVERLAP_MS;
  for (const [id, end] of Object.entries(posted)) if (!(end >= horizon)) delete posted[id];
  return { fresh, next: { since: state.since, polledAt: pollStartedAt, posted } };
}

export function jobcompEvent(cluster: string, job: EndedJob, now: Date): Event {
  // sacct prints the end in local time without a zone, which JavaScript reads as local time too.
  const endedAt = Math.floor(new Date(job.end).getTime() / 1000);
  return {
    // The same id as the jobcomp hook's: with both running, the service keeps one.
    id: eventIds.jobcomp(cluster, job.rawId, endedAt),
    version: 1,
    source: 'relay:sacct-watcher',
    occurredAt: now.toISOString(),
    cluster,
    type: 'slurm.jobcomp',
    data: {
      jobId: job.jobId,
      jobName: job.jobName,
      state: job.state.split(/\s+/)[0]!,
      exitCode: job.exitCode,
      ...(job.partition ? { partition: job.partition } : {}),
      ...(job.timeLimit ? { timeLimit: job.timeLimit } : {}),
      ...(job.nodes ? { nodes: job.nodes } : {}),
      endedAt,
    },
  };
}

export interface SacctWatcherOptions {
  cluster: string;
  /** The cursor and recently posted ids, rewritten atomically after every poll. */
  stateFile: string;
  post: (events: Event[]) => Promise<void>;
  log: (line: string) => void;
  /** The user whose jobs it watches: the one the relay runs as. */
  user: string;
  now?: () => number;
}

/**
 * The user-level event source for sites without Rebound's Slurm hooks: posts a jobcomp event for each of
 * the user's jobs that ended, one sacct call per poll (tagged jobs are captured when they fail:
 * relay/slurm-executor.ts). State survives restarts:
 * after one it catches up from the last poll and never posts a job twice.
 */
export class SacctWatcher {
  private state: WatcherState;

  constructor(private readonly opts: SacctWatcherOptions) {
    const now = this.now();
    const read = readStateFile(opts.stateFile, WatcherStateSchema, now);
    if (read.kind === 'ok') this.state = read.value;
    else if (read.kind === 'missing') this.state = { since: now, polledAt: now, posted: {} };
    else {
      // Rebuilt from the file's last write minus the overlap: jobs that ended since are posted again,
      // and the service keeps one of each (their ids are the same).
      const from = read.modifiedAt - OVERLAP_MS;
      this.state = { since: from, polledAt: from, posted: {} };
      opts.log(
        `sacct watcher: state file unreadable (${read.reason}); kept as ${read.movedTo}, catching up from ${new Date(from).toISOString()}`,
      );
    }
  }

  /** Where the next poll starts, and what it will not post again. */
  get cursor(): Readonly<WatcherState> {
    return this.state;
  }

  async poll(): Promise<number> {
    const startedAt = this.now();
    const d = freshDelimiter();
    const { stdout } = await run([
      'sacct',
      '-X',
      '-n',
      '-P',
      `--delimiter=${d}`,
      '-u',
      this.opts.user,
      '-S',
      slurmLocalTime(this.state.polledAt - OVERLAP_MS),
      '-E',
      'now',
      `--format=${ENDED_FIELDS.join(',')}`,
    ]);
    const { fresh, next } = selectNew(parseEndedJobs(stdout, d), this.state, startedAt);
    if (fresh.length) {
      const now = new Date(startedAt);
      await this.opts.post(fresh.map((job) => jobcompEvent(this.opts.cluster, job, now)));
      this.opts.log(`sacct watcher: posted ${fresh.map((j) => `jobcomp:${j.jobId}`).join(' ')}`);
    }
    // Saved only after the post (or spool) succeeded: a crash in between re-posts, and the id dedupes it.
    writeFileAtomic(this.opts.stateFile, JSON.stringify(next));
    this.state = next;
    return fresh.length;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }
}
