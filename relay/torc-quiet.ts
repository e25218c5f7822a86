import { createHash } from 'node:crypto';
import type { TorcWorkflowStatus } from '../core/torc-model.ts';

// When a watched workflow's poll may stop at two small requests (the workflow's status and its newest
// result) instead of reading every job, result, row and allocation — about 20 pages for a 100,000-job
// workflow. A job's end leaves a result; a reinitialize or cancel changes the status; everything else
// Torc changes on its own announces itself on the SSE stream, or follows a result within Torc's
// background pass. So the cheap poll is trusted only while the stream is open and has been since before
// the last full read, no event came since, and that pass has had time to run after the last change. A
// status changed by hand (manage_status_change) announces itself nowhere: an hourly full read bounds it.

/**
 * Torc unblocks and cancels the dependents of ended jobs in a background pass, every 30 s by default,
 * and announces neither.
 */
export const TORC_BACKGROUND_PASS_MS = 30_000;

/** The longest a workflow goes without a full read, whatever the probe says. */
export const FULL_READ_MS = 3_600_000;

export interface Quiet {
  /** When the SSE stream last opened (ms); undefined while it is down. */
  streamSince?: number;
  /** An SSE event (any) since the last full read started. */
  hinted: boolean;
  /** When the last successful full read started (ms). */
  readAt?: number;
  /** The probe's answer as of that read; undefined until one succeeds. */
  mark?: string;
  /** Everything that read saw, hashed: a difference from the one before is a change. */
  digest?: string;
  /** Full reads go on until one starts after this (ms): the background pass after a change. */
  settleUntil: number;
  /** Slurm ids of the allocations Torc counted live at that read. */
  live: string[];
}

export const quiet = (): Quiet => ({ hinted: false, settleUntil: 0, live: [] });

/** Why this poll must read everything, or undefined when two requests will do. */
export function mustRead(q: Quiet, nowMs: number): string | undefined {
  if (q.streamSince === undefined) return 'event stream down';
  if (q.readAt === undefined || q.mark === undefined) return 'no full read yet';
  if (q.streamSince > q.readAt) return 'stream reopened since the last read';
  if (q.hinted) return 'an event arrived';
  if (q.readAt < q.settleUntil) return 'settling after a change';
  if (nowMs - q.readAt >= FULL_READ_MS) return 'an hour since the last full read';
  return undefined;
}

/** What the cheap probe compares: the run, cancellation, and the newest of how many current results. */
export const markOf = (status: TorcWorkflowStatus, newestResultId: number, results: number) =>
  `${status.run_id}:${status.is_canceled}:${newestResultId}:${results}`;

/** A digest of what a full read saw (order-independent inputs are sorted by the caller). */
export const digestOf = (seen: unknown): string =>
  createHash('sha256').update(JSON.stringify(seen)).digest('base64url');
