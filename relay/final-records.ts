import { peakMayMatter } from '../core/heuristics.ts';
import { parseSacctJobs, SACCT_FIELDS, type SacctJob } from '../core/sacct.ts';
import { Abandoned } from './errors.ts';
import { sacct } from './slurm.ts';

/** Ids per sacct call: a long list stays well inside any command line. */
const IDS_PER_CALL = 500;

interface Waiter {
  deadline: number;
  /** When sacct first showed the job final but without a MaxRSS yet. */
  finalSince?: number;
  resolve: (job: SacctJob | undefined) => void;
  reject: (error: Error) => void;
}

export interface FinalRecordsOptions {
  /** Between two sacct calls while anyone waits. */
  intervalMs?: number;
  /** From the first waiter of a quiet moment to the first call: those ending with it join it. */
  firstMs?: number;
  /** How long a job waits for its final record before it goes with what there is. */
  waitMs?: number;
  /** How long a final record without MaxRSS waits for one (a job killed before its first sample never gets it). */
  maxRssGraceMs?: number;
  now?: () => number;
}

/**
 * Jobs' final accounting records, read together: every job waiting for its record is asked about in one
 * `sacct -j a,b,c` call per interval, however many wait, and each waiter is answered as soon as its own
 * record is whole (final state and the batch step's MaxRSS, both of which reach slurmdbd a moment after the
 * job ends; an OOM end needs no MaxRSS: core/heuristics.ts `peakMayMatter`). A record that stays incomplete
 * holds back only its own waiter.
 */
export class FinalRecords {
  private readonly waiting = new Map<string, Waiter[]>();
  private timer?: NodeJS.Timeout;
  private reading?: Promise<void>;
  private stopped = false;
  private lastRead = 0;

  constructor(private readonly opts: FinalRecordsOptions = {}) {}

  /** The job's final record, or what sacct had of it when the wait ran out (undefined: nothing final). */
  wait(jobId: string): Promise<SacctJob | undefined> {
    if (this.stopped) return Promise.reject(new Abandoned('the relay is stopping'));
    return new Promise((resolve, reject) => {
      const waiter = { deadline: this.now() + (this.opts.waitMs ?? 30_000), resolve, reject };
      this.waiting.set(jobId, [...(this.waiting.get(jobId) ?? []), waiter]);
      this.schedule();
    });
  }

  /** Answers every waiter with Abandoned: their commands come back to the next start. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const waiters of this.waiting.values())
      for (const w of waiters) w.reject(new Abandoned('the relay is stopping'));
    this.waiting.clear();
  }

  private schedule(): void {
    if (this.timer || this.reading || this.stopped || this.waiting.size === 0) return;
    const since = Date.now() - this.lastRead;
    const interval = this.opts.intervalMs ?? 500;
    const delay = since >= interval ? (this.opts.firstMs ?? 200) : interval - since;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastRead = Date.now();
      this.reading = this.read().finally(() => {
        this.reading = undefined;
        this.schedule();
      });
    }, delay);
  }

  private async read(): Promise<void> {
    const ids = [...this.waiting.keys()];
    for (let i = 0; i < ids.length; i += IDS_PER_CALL) {
      const chunk = ids.slice(i, i + IDS_PER_CALL);
      let found: Map<string, SacctJob>;
      try {
        const { stdout, d } = await sacct(['-j', chunk.join(',')], SACCT_FIELDS);
        found = parseSacctJobs(stdout, chunk, d);
      } catch {
        // slurmdbd unreachable for a moment: nothing found this time; each waiter's deadline still holds.
        found = new Map();
      }
      const now = this.now();
      for (const id of chunk) this.settle(id, found.get(id), now);
    }
  }

  private settle(jobId: string, job: SacctJob | undefined, now: number): void {
    const waiters = this.waiting.get(jobId);
    if (!waiters) return;
    const left = waiters.filter((w) => {
      if (job && !job.maxRss) w.finalSince ??= now;
      const done =
        job?.maxRss !== undefined ||
        (job !== undefined && !peakMayMatter(job.state)) ||
        (w.finalSince !== undefined && now - w.finalSince > (this.opts.maxRssGraceMs ?? 5000)) ||
        now >= w.deadline;
      if (done) w.resolve(job);
      return !done;
    });
    if (left.length) this.waiting.set(jobId, left);
    else this.waiting.delete(jobId);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }
}
