import * as z from 'zod';
import { ReboundError } from '../core/errors.ts';
import { LogsRequestSchema, type ManualRecovery, ManualRecoverySchema } from '../core/manual.ts';
import { PlanSchema } from '../core/plan.ts';
import { describeIssues } from '../core/zod-errors.ts';
import { WorkloadViewSchema } from '../service/status.ts';
import { api } from './api.ts';
import { UsageError } from './usage-error.ts';

// `rebound recover` and `rebound sync`: a person's requests (service/person-requests.ts). The service
// answers at once with what it will do; the CLI then waits for the worker's own lines in history.

/** What a command prints and how it exits. */
export interface Outcome {
  json: unknown;
  text: string;
  exitCode: number;
  /** A refusal or failure: the text goes to standard error, as every other CLI error does. */
  error?: boolean;
}

/** `rebound recover` exit codes: 0 started or nothing to do, 1 nothing recoverable, 3 unknown, 4 not allowed. */
const EXIT = { started: 0, 'nothing-to-do': 0, 'nothing-recoverable': 1, 'unknown-job': 3, 'not-allowed': 4 };

const RecoverAnswerSchema = z.object({
  outcome: z.enum(['started', 'nothing-to-do', 'nothing-recoverable', 'not-allowed', 'unknown-job']),
  requestId: z.string().optional(),
  lines: z.array(z.string()),
  plans: z.array(PlanSchema),
});

const SyncAnswerSchema = z.object({
  outcome: z.enum(['sent', 'nothing-to-do']),
  requestId: z.string().optional(),
  lines: z.array(z.string()),
});

/** How long the CLI waits for the worker's lines before saying where to look. */
const WAIT_MS = Number(process.env.REBOUND_WAIT_MS ?? 60_000);

export interface RecoverFlags {
  'memory-multiplier'?: string;
  'runtime-multiplier'?: string;
  'retry-unknown'?: boolean;
  'recovery-hook'?: string;
  job?: string;
  'dry-run'?: boolean;
}

/** The flags as a request, checked by the service's own schema: a bad value is a usage error (exit 2). */
function recoveryRequest(flags: RecoverFlags): ManualRecovery {
  const number = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^-?\d+(\.\d+)?$/.test(v.trim())) throw new UsageError(`--${flag}: "${v}" is not a number`);
    return Number(v);
  };
  const parsed = ManualRecoverySchema.safeParse({
    memoryMultiplier: number('memory-multiplier', flags['memory-multiplier']),
    runtimeMultiplier: number('runtime-multiplier', flags['runtime-multiplier']),
    retryUnknown: flags['retry-unknown'],
    recoveryHook: flags['recovery-hook'],
    job: flags.job,
    dryRun: flags['dry-run'] ?? false,
  });
  if (!parsed.success) {
    const flag = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new UsageError(
      describeIssues(parsed.error)
        .map((line) => `--${flag(line)}`)
        .join('\n'),
    );
  }
  return parsed.data;
}

/** The service's refusals as exit codes: unknown workload or job 3, not allowed 4, bad input 2. */
async function asking<T>(call: () => Promise<T>): Promise<T | Outcome> {
  try {
    return await call();
  } catch (error) {
    const status = error instanceof ReboundError ? error.context.status : undefined;
    const exitCode = status === 404 ? 3 : status === 403 ? 4 : status === 400 ? 2 : undefined;
    if (exitCode === undefined) throw error;
    const message = (error as Error).message;
    return { json: { error: message }, text: `rebound: ${message}`, exitCode, error: true };
  }
}

export async function recover(workload: string, flags: RecoverFlags): Promise<Outcome> {
  const request = recoveryRequest(flags);
  const path = `/v1/workloads/${encodeURIComponent(workload)}`;
  const raw = await asking(() => api(`${path}/recover`, 'POST', request));
  if (isOutcome(raw)) return raw;
  const answer = RecoverAnswerSchema.parse(raw);
  const exitCode = EXIT[answer.outcome];
  if (!answer.requestId) {
    const head = request.dryRun ? ['Dry run: nothing changed.'] : [];
    return { json: answer, text: [...head, ...answer.lines].join('\n'), exitCode };
  }
  const done = await workerLines(path, answer.requestId, (line) => line.includes(answer.requestId!));
  return {
    json: { ...answer, history: done },
    text: [
      ...answer.lines,
      '',
      ...(done.length
        ? done
        : [
            `Queued as request ${answer.requestId}; \`rebound history ${workload}\` shows what the worker did.`,
          ]),
    ].join('\n'),
    exitCode,
  };
}

export async function sync(workload: string, dryRun: boolean): Promise<Outcome> {
  const path = `/v1/workloads/${encodeURIComponent(workload)}`;
  const raw = await asking(() => api(`${path}/sync`, 'POST', { dryRun }));
  if (isOutcome(raw)) return raw;
  const answer = SyncAnswerSchema.parse(raw);
  if (!answer.requestId) return { json: answer, text: answer.lines.join('\n'), exitCode: 0 };
  // The relay's answer is the result of a command named by the request (core/ids.ts, `sync`).
  const id = `sync:${answer.requestId}`;
  const done = await workerLines(
    path,
    answer.requestId,
    (line) => line.includes(`${id}:`) || line.includes(`${id} failed`),
  );
  const failed = done.some((l) => l.includes(`${id} failed`));
  return {
    json: { ...answer, history: done },
    text: [
      ...answer.lines,
      ...(done.length
        ? done
        : [`No answer from the relay yet; \`rebound history ${workload}\` shows it when it comes.`]),
    ].join('\n'),
    exitCode: failed ? 1 : 0,
  };
}

const LogsAnswerSchema = z.object({ requestId: z.string() });
const RequestAnswerSchema = z.object({
  ok: z.boolean(),
  text: z.string(),
  path: z.string().optional(),
  truncated: z.boolean().optional(),
});

/** `rebound logs`: the tail of a job's output, read by the relay as the job's owner. */
export async function logs(
  workload: string,
  job: string,
  stderr: boolean,
  tail: string | undefined,
): Promise<Outcome> {
  const lines = tail === undefined ? undefined : Number(tail);
  const request = LogsRequestSchema.safeParse({
    job,
    stderr,
    ...(tail === undefined ? {} : { tail: lines }),
  });
  if (!request.success || (tail !== undefined && !/^\d+$/.test(tail)))
    throw new UsageError(
      request.success
        ? `--tail: "${tail}" is not a number of lines`
        : describeIssues(request.error)
            .map((l) => (l.startsWith('tail') ? `--${l}` : l))
            .join('\n'),
    );
  const raw = await asking(() =>
    api(`/v1/workloads/${encodeURIComponent(workload)}/logs`, 'POST', request.data),
  );
  if (isOutcome(raw)) return raw;
  const { requestId } = LogsAnswerSchema.parse(raw);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const answer = await asking(() => api(`/v1/answers/${requestId}`));
    if (!isOutcome(answer)) {
      const a = RequestAnswerSchema.parse(answer);
      if (!a.ok)
        return { json: a, text: `rebound: the relay could not read it: ${a.text}`, exitCode: 1, error: true };
      const head = `==> ${a.path}${a.truncated ? ` (its last ${request.data.tail} lines at most)` : ''} <==`;
      return { json: a, text: `${head}\n${a.text}`, exitCode: 0 };
    }
    if (Date.now() > deadline)
      return {
        json: { requestId, error: 'no answer from the relay yet' },
        text: `rebound: no answer from the relay after ${WAIT_MS / 1000} s (request ${requestId}): is it running?`,
        exitCode: 1,
        error: true,
      };
    await new Promise((r) => setTimeout(r, 500));
  }
}

const isOutcome = (x: unknown): x is Outcome =>
  typeof x === 'object' && x !== null && 'exitCode' in x && 'text' in x;

/**
 * Waits (up to WAIT_MS) until the workload's history has a line for which `until` holds, then returns the
 * lines from the first one naming the request on; none if it did not come in time.
 */
async function workerLines(
  path: string,
  requestId: string,
  until: (line: string) => boolean,
): Promise<string[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const view = WorkloadViewSchema.parse(await api(path));
    const lines = view.history.map((h) => h.line);
    const first = lines.findIndex((l) => l.includes(requestId));
    if (first >= 0 && lines.slice(first).some(until)) return lines.slice(first);
    if (Date.now() > deadline) return [];
    await new Promise((r) => setTimeout(r, 500));
  }
}
