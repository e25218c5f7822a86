import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as z from 'zod';
import { describeIssues } from '../core/zod-errors.ts';

// The relay's state files (watcher cursor, forwarder progress, the watch registry, spooled events): written
// so that a crash leaves the old file or the new one, never half of either, and read back through their
// schema, so a damaged file is reported and rebuilt instead of crashing the relay at start-up.

/**
 * A file name made of a value that came from elsewhere (a command id, a job id): one safe token, or an
 * error. Nothing from an event or a command becomes a path component unchecked.
 */
export function safeFileName(token: string, suffix: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(token) || token.startsWith('.'))
    throw new Error(`not a safe file name: ${JSON.stringify(token)}`);
  return `${token.replaceAll(':', '_')}${suffix}`;
}

/** `name` (checked with safeFileName) inside `dir`. */
export const pathIn = (dir: string, token: string, suffix: string) => join(dir, safeFileName(token, suffix));

/** Created new or not at all, never through a link: the open fails on an existing name or a symlink. */
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Temp file (a fresh random name, O_EXCL | O_NOFOLLOW) + fsync + rename + fsync of the folder: the
 * rename is durable once this returns, and a link planted at any name is replaced, never followed.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(tmp, NEW_FILE, mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * `writeFileAtomic` off the event loop (its fsyncs run on libuv's threads): for the writes a storm makes by
 * the hundred — the intent journal, captures — where one fsync after another on the loop stalled the relay
 * for seconds on a busy disk.
 */
export async function writeFileAtomicAsync(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  const file = await open(tmp, NEW_FILE, mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export type StateRead<T> =
  | { kind: 'missing' }
  | { kind: 'ok'; value: T }
  /** Unreadable: the reason, and when the file was last written (a rebuild starts from there). */
  | { kind: 'corrupt'; reason: string; modifiedAt: number; movedTo: string };

/** Reads and validates a state file; a corrupt one is moved aside (`<file>.corrupt-<time>`) for a person. */
export function readStateFile<T>(path: string, schema: z.ZodType<T>, now = Date.now()): StateRead<T> {
  if (!existsSync(path)) return { kind: 'missing' };
  let reason: string;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (parsed.success) return { kind: 'ok', value: parsed.data };
    reason = describeIssues(parsed.error, 'state').join('; ');
  } catch (error) {
    reason = (error as Error).message;
  }
  const modifiedAt = statSync(path).mtimeMs;
  const movedTo = `${path}.corrupt-${now}`;
  renameSync(path, movedTo);
  return { kind: 'corrupt', reason, modifiedAt, movedTo };
}
