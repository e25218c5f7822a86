import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Event } from '../core/events.ts';
import { ENDED_FIELDS, type EndedJob, parseEndedJobs } from '../core/sacct.ts';
import { parseTag } from '../core/tag.ts';
import { run } from './exec.ts';
import { slurmLocalTime } from './slurm.ts';

/** slurmdbd records a job a moment after it ends: each poll looks this far back before the last one. */
const OVERLAP_MS = 10 * 60_000;

export interface WatcherState {
  /** The watcher's first start: jobs that ended before it are history, not news. */
  since: number;
  /** When the last completed poll started (epoch ms). */
  polledAt: number;
  /** Jobs already posted whose end lies inside the overlap, so a re-read never posts them twice. */
  posted: Record<string, number>;
}

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
  return {
    // The same id as the jobcomp hook's: with both running, the service keeps one.
    id: `jobcomp:${cluster}:${job.jobId}`,
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
    },
  };
}

export interface SacctWatcherOptions {
  cluster: string;
  /** The cursor and recently posted ids, rewritten atomically after every poll. */
  stateFile: string;
  post: (events: Event[]) => Promise<void>;
  /** Saves a tagged job's script and options while Slurm still knows it (for the resubmission). */
  capture: (jobId: string) => Promise<unknown>;
  captured: (jobId: string) => boolean;
  log: (line: string) => void;
  user?: string;
  now?: () => number;
}

/**
 * The user-level event source for sites without Rebound's Slurm hooks: captures the user's tagged jobs
 * while they queue or run, and posts a jobcomp event for each job that ended. State survives restarts:
 * after one it catches up from the last poll and never posts a job twice.
 */
export class SacctWatcher {
  private state: WatcherState;
  private readonly user: string;

  constructor(private readonly opts: SacctWatcherOptions) {
    this.user = opts.user ?? userInfo().username;
    const now = this.now();
    this.state = existsSync(opts.stateFile)
      ? (JSON.parse(readFileSync(opts.stateFile, 'utf8')) as WatcherState)
      : { since: now, polledAt: now, posted: {} };
  }

  async poll(): Promise<number> {
    const startedAt = this.now();
    await this.captureTagged();
    const { stdout } = await run([
      'sacct',
      '-X',
      '-n',
      '-P',
      '-u',
      this.user,
      '-S',
      slurmLocalTime(this.state.polledAt - OVERLAP_MS),
      '-E',
      'now',
      `--format=${ENDED_FIELDS.join(',')}`,
    ]);
    const { fresh, next } = selectNew(parseEndedJobs(stdout), this.state, startedAt);
    if (fresh.length) {
      const now = new Date(startedAt);
      await this.opts.post(fresh.map((job) => jobcompEvent(this.opts.cluster, job, now)));
      this.opts.log(`sacct watcher: posted ${fresh.map((j) => `jobcomp:${j.jobId}`).join(' ')}`);
    }
    // Saved only after the post (or spool) succeeded: a crash in between re-posts, and the id dedupes it.
    writeFileSync(`${this.opts.stateFile}.tmp`, JSON.stringify(next));
    renameSync(`${this.opts.stateFile}.tmp`, this.opts.stateFile);
    this.state = next;
    return fresh.length;
  }

  private async captureTagged(): Promise<void> {
    const { stdout } = await run(['squeue', '-h', '-u', this.user, '-o', '%i|%k']);
    for (const line of stdout.split('\n')) {
      const [id, comment] = line.split('|');
      if (!id || !/^\d+$/.test(id.trim()) || !parseTag(comment)) continue;
      if (!this.opts.captured(id.trim())) await this.opts.capture(id.trim());
    }
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }
}
