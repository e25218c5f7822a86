import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Event } from '../core/events.ts';
import { signedHeaders } from '../service/signature.ts';
import type { LoopHealth } from './loop-health.ts';
import { writeFileAtomic } from './state-file.ts';

export interface PosterOptions {
  url: string;
  secret: string;
  /** Events that could not be posted wait here (the hooks use the same folder). */
  spoolDir: string;
  /** Where a spool entry that is not a regular file, and each episode of failed posts, is reported. */
  log?: (line: string) => void;
}

/** Why the service did not take a post, in words a person can act on. */
export function postFailure(
  status: number,
  answer: { error?: string; serverTime?: number } | undefined,
  nowSeconds: number,
): string {
  if (status === 0) return 'the service cannot be reached (connection refused or timed out)';
  if (status === 401 && answer?.error === 'stale signature' && typeof answer.serverTime === 'number') {
    const skew = answer.serverTime - nowSeconds;
    return `clock skew of ${skew} s between this host and the service (signatures are good for 5 minutes): fix the clock (NTP)`;
  }
  if (status === 401 && answer?.error === 'bad signature')
    return "the relay's secret does not match the service's (REBOUND_SECRET_FILE on both)";
  return `the service answered ${status}${answer?.error ? `: ${answer.error}` : ''}`;
}

/**
 * Posts signed events to the webhook. What cannot be delivered now is written to the spool folder and
 * retried by `drain`, so an outage of the service loses nothing; a 400 (never deliverable) is set aside.
 */
export class Poster {
  private readonly rejectedDir: string;
  private failures = 0;
  private nextDrainAt = 0;
  private readonly reported = new Set<string>();
  /** The failure of the episode in progress (logged once), until a post goes through. */
  private episode?: string;
  /** For /healthz: the last post the service took, and the last it did not. */
  readonly health: LoopHealth = {};

  constructor(private readonly opts: PosterOptions) {
    mkdirSync(opts.spoolDir, { recursive: true });
    this.rejectedDir = join(opts.spoolDir, 'rejected');
    mkdirSync(this.rejectedDir, { recursive: true });
  }

  async post(events: Event[]): Promise<void> {
    const body = JSON.stringify(events);
    const status = await this.send(body);
    if (status === 202) return;
    // The folder may have been removed under us: made again, never a reason to lose an event.
    mkdirSync(this.opts.spoolDir, { recursive: true });
    const file = join(
      this.opts.spoolDir,
      `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}.json`,
    );
    writeFileAtomic(file, body);
  }

  /** Sends spooled files oldest first; stops at the first failure and backs off exponentially (max 60 s). */
  async drain(): Promise<number> {
    if (Date.now() < this.nextDrainAt) return 0;
    let sent = 0;
    mkdirSync(this.rejectedDir, { recursive: true });
    for (const name of readdirSync(this.opts.spoolDir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const path = join(this.opts.spoolDir, name);
      const body = this.readSpooled(path, name);
      if (body === undefined) continue;
      const status = await this.send(body);
      if (status === 202) {
        unlinkSync(path);
        sent++;
      } else if (status === 400 || status === 413) {
        renameSync(path, join(this.rejectedDir, name));
      } else {
        this.failures++;
        this.nextDrainAt = Date.now() + Math.min(60_000, 500 * 2 ** Math.min(this.failures, 7));
        return sent;
      }
    }
    this.failures = 0;
    return sent;
  }

  /**
   * A spooled event, read without following a link and without blocking on a FIFO (open with
   * O_NOFOLLOW | O_NONBLOCK, then check it is a regular file). Anything else is left alone and reported.
   */
  private readSpooled(path: string, name: string): string | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      if (fstatSync(fd).isFile()) return readFileSync(fd, 'utf8');
      this.report(name, 'is not a regular file');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') this.report(name, 'is a symbolic link (not followed)');
      else if (code !== 'ENOENT') this.report(name, `cannot be read (${code})`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return undefined;
  }

  private report(name: string, why: string): void {
    if (this.reported.has(name)) return;
    this.reported.add(name);
    (this.opts.log ?? console.warn)(
      `spool: ${join(this.opts.spoolDir, name)} ${why}; left alone — remove it (only Rebound's hooks and relay write here)`,
    );
  }

  private async send(body: string): Promise<number> {
    let status = 0;
    let answer: { error?: string; serverTime?: number } | undefined;
    try {
      const res = await fetch(`${this.opts.url}/v1/events`, {
        method: 'POST',
        body,
        headers: signedHeaders(this.opts.secret, body),
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      answer = status === 202 ? undefined : ((await res.json().catch(() => undefined)) as typeof answer);
      if (status === 202) await res.body?.cancel();
    } catch {
      status = 0;
    }
    this.noteOutcome(status, answer);
    return status;
  }

  /** One log line per episode of failures (and one when it ends), not one per event. */
  private noteOutcome(status: number, answer: { error?: string; serverTime?: number } | undefined): void {
    const log = this.opts.log ?? console.warn;
    const at = new Date().toISOString();
    if (status === 202) {
      this.health.lastSuccessAt = at;
      if (this.episode) log(`poster: the service takes events again (after: ${this.episode})`);
      this.episode = undefined;
      return;
    }
    const why = postFailure(status, answer, Math.floor(Date.now() / 1000));
    this.health.lastError = { at, message: why };
    if (why === this.episode) return;
    this.episode = why;
    const then =
      status === 400 || status === 413
        ? `set aside in ${this.rejectedDir}`
        : `they wait in ${this.opts.spoolDir} and are retried`;
    log(`poster: events are not accepted: ${why}; ${then}`);
  }
}
