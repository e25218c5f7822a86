import { pushTo } from '../core/group-by.ts';
import { peakMayMatter } from '../core/heuristics.ts';
import { parseSacctJobs, SACCT_FIELDS, type SacctJob } from '../core/sacct.ts';
import { Abandoned } from './errors.ts';
import { sacct } from './slurm.ts';
import { IDS_PER_CALL } from './slurm-lookups.ts';

/** Between two sacct calls while anyone waits: at most two a second, however many jobs wait. */
const INTERVAL_MS = 500;
/** From the first waiter of a quiet moment to the first call: the jobs ending with it join it. */
const FIRST_MS = 200;
/** How long a job waits for its final record before it goes with what there is. */
const WAIT_MS = 30_000;
/** How long a final record without MaxRSS waits for one (a job killed before its first sample never gets it). */
const MAX_RSS_GRACE_MS = 5000;

interface Waiter {
  deadline: number;
  /** When sacct first showed the job final but without a MaxRSS yet. */
  finalSince?: number;
  resolve: (job: SacctJob | undefined) => void;
  reject: (error: Error) => void;
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

  /** The job's final record, or what sacct had of it when the wait ran out (undefined: nothing final). */
  wait(jobId: string): Promise<SacctJob | undefined> {
    if (this.stopped) return Promise.reject(new Abandoned('the relay is stopping'));
    return new Promise((resolve, reject) => {
      const waiter = { deadline: Date.now() + WAIT_MS, resolve, reject };
      pushTo(this.waiting, jobId, waiter);
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
    const delay = since >= INTERVAL_MS ? FIRST_MS : INTERVAL_MS - since;
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
      const now = Date.now();
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
        (w.finalSince !== undefined && now - w.finalSince > MAX_RSS_GRACE_MS) ||
        now >= w.deadline;
      if (done) w.resolve(job);
      return !done;
    });
    if (left.length) this.waiting.set(jobId, left);
    else this.waiting.delete(jobId);
  }
}
