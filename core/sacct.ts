import type { EventOf } from './events.ts';
import { OwnerSchema } from './owner.ts';
import { parseSlurmMemory } from './units.ts';

/**
 * The sacct fields the relay asks for, in order (`sacct -P -n --format=<these>`). `-P` separates fields
 * with `|`, which a job's name and comment may contain: every field Slurm writes comes first, the two a
 * user writes come last, so the owner (UID) and the limits are read right whatever a name or comment holds.
 */
export const SACCT_FIELDS = [
  'JobID',
  'UID',
  'User',
  'Account',
  'State',
  'ExitCode',
  'MaxRSS',
  'ReqMem',
  'Elapsed',
  'Timelimit',
  'Reason',
  'Partition',
  'JobName',
  'Comment',
] as const;
const FIXED = SACCT_FIELDS.length - 2;

/** One `sacct -P` line: the fixed fields by position; the name up to the next `|`, the comment the rest. */
function sacctRow(line: string): Record<(typeof SACCT_FIELDS)[number], string> {
  const parts = line.split('|');
  const values = [...parts.slice(0, FIXED), parts[FIXED] ?? '', parts.slice(FIXED + 1).join('|')];
  return Object.fromEntries(SACCT_FIELDS.map((f, i) => [f, values[i] ?? ''])) as Record<
    (typeof SACCT_FIELDS)[number],
    string
  >;
}

const FINAL_STATES = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'PREEMPTED',
  'DEADLINE',
]);

const WHOLE_MEMORY = /^\d+(\.\d+)?[KMGTP]?[nc]?$/i;

export type SacctJob = EventOf<'slurm.sacct'>['data'];

/**
 * One job from `sacct -P -n` output: the job line gives state and limits; MaxRSS lives on the steps
 * (`<id>.batch`, `<id>.extern`), so the largest one is taken. Undefined while the job is not final.
 */
export function parseSacct(output: string, jobId: string): SacctJob | undefined {
  const rows = output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(sacctRow);
  const job = rows.find((r) => r.JobID === jobId);
  if (!job) return undefined;
  const state = job.State.split(/\s+/)[0]!;
  if (!FINAL_STATES.has(state)) return undefined;
  // Right after a short job ends, slurmdbd may hold a stub (JobName "allocation", ReqMem "16?", no
  // partition or limit): wait for the whole record rather than decide on it.
  if (!job.Partition || !job.Timelimit || !WHOLE_MEMORY.test(job.ReqMem)) return undefined;
  let maxRss: string | undefined;
  let best = -1;
  for (const r of rows) {
    // While slurmdbd is still updating a step, MaxRSS can read like "16?": only whole values count.
    if (!r.JobID.startsWith(`${jobId}.`) || !WHOLE_MEMORY.test(r.MaxRSS)) continue;
    const bytes = parseSlurmMemory(r.MaxRSS, 'K');
    if (bytes > best) {
      best = bytes;
      maxRss = r.MaxRSS;
    }
  }
  const opt = (v: string | undefined) => (v ? v : undefined);
  const owner = OwnerSchema.safeParse({
    uid: /^\d+$/.test(job.UID) ? Number(job.UID) : undefined,
    user: job.User,
    ...(job.Account ? { account: job.Account } : {}),
  });
  return {
    jobId,
    ...(owner.success ? { owner: owner.data } : {}),
    jobName: job.JobName,
    state: job.State,
    exitCode: job.ExitCode,
    maxRss,
    reqMem: opt(job.ReqMem),
    elapsed: opt(job.Elapsed),
    timeLimit: opt(job.Timelimit),
    comment: opt(job.Comment),
    reason: opt(job.Reason),
    partition: opt(job.Partition),
  };
}

/** The fields the user-level watcher lists (`sacct -X -n -P --format=<these>`): one line per job. */
export const ENDED_FIELDS = ['JobIDRaw', 'State', 'ExitCode', 'Partition', 'Timelimit', 'End', 'JobName'];

export interface EndedJob {
  jobId: string;
  jobName: string;
  state: string;
  exitCode: string;
  partition?: string;
  timeLimit?: string;
  /** `End` as sacct prints it (local time, no zone). */
  end: string;
}

/** Jobs in a final state from `sacct -X` output; running, pending and malformed lines are left out. */
export function parseEndedJobs(output: string): EndedJob[] {
  const jobs: EndedJob[] = [];
  for (const line of output.split('\n')) {
    // The name last: it may contain `|`.
    const [jobId, state = '', exitCode = '', partition, timeLimit, end = '', ...name] = line.split('|');
    const jobName = name.join('|');
    if (!jobId || !/^\d+$/.test(jobId) || !FINAL_STATES.has(state.split(/\s+/)[0]!)) continue;
    if (!/^\d{4}-\d\d-\d\dT/.test(end)) continue;
    jobs.push({
      jobId,
      jobName,
      state,
      exitCode,
      end,
      ...(partition ? { partition } : {}),
      ...(timeLimit ? { timeLimit } : {}),
    });
  }
  return jobs;
}
