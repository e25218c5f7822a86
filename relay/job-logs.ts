import { LOG_BYTES_MAX } from '../core/commands.ts';
import { run } from './exec.ts';
import type { Submitter } from './slurm.ts';

// The tail of a job's output for `rebound logs`: read by `tail` running as the job's owner (site mode:
// runuser — never root), at most LOG_BYTES_MAX bytes from the end, whatever the file's size.

export interface LogTail {
  path: string;
  text: string;
  /** More of the file was there than is shown. */
  truncated: boolean;
}

/** The last `lines` lines of `path` (within LOG_BYTES_MAX bytes), as `reader` reads it. */
export async function tailOf(path: string, lines: number, reader: Submitter): Promise<LogTail> {
  const tail = ['tail', '-c', String(LOG_BYTES_MAX + 1), '--', path];
  const { stdout } =
    reader.as === 'self'
      ? await run(tail)
      : await run(['runuser', '-u', reader.user, '--', ...tail], { cwd: '/' });
  return lastLines(path, stdout, lines);
}

/** The last lines of what tail read; a first line cut by the byte limit is left out. */
export function lastLines(path: string, read: string, lines: number): LogTail {
  let text = read;
  let truncated = false;
  if (Buffer.byteLength(text) > LOG_BYTES_MAX) {
    text = text.slice(text.indexOf('\n') + 1);
    truncated = true;
  }
  const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  if (all.length > lines) truncated = true;
  const kept = all.slice(-lines).join('\n');
  return { path, text: kept && text.endsWith('\n') ? `${kept}\n` : kept, truncated };
}
