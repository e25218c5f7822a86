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
import { writeFileAtomic } from './state-file.ts';

export interface PosterOptions {
  url: string;
  secret: string;
  /** Events that could not be posted wait here (the hooks use the same folder). */
  spoolDir: string;
  /** Where a spool entry that is not a regular file is reported (once each). */
  log?: (line: string) => void;
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

  constructor(private readonly opts: PosterOptions) {
    mkdirSync(opts.spoolDir, { recursive: true });
    this.rejectedDir = join(opts.spoolDir, 'rejected');
    mkdirSync(this.rejectedDir, { recursive: true });
  }

  async post(events: Event[]): Promise<void> {
    const body = JSON.stringify(events);
    const status = await this.send(body);
    if (status === 202) return;
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
    try {
      const res = await fetch(`${this.opts.url}/v1/events`, {
        method: 'POST',
        body,
        headers: signedHeaders(this.opts.secret, body),
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      return res.status;
    } catch {
      return 0;
    }
  }
}
