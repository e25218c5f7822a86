import type { EventOf } from './events.ts';
import { pushTo } from './group-by.ts';
import { ARRAY_TASKS_NAMED } from './ids.ts';
import { OwnerSchema } from './owner.ts';
import { slurmRows } from './slurm-records.ts';
import { parseSlurmMemory } from './units.ts';

/**
 * The sacct fields the relay asks for, in order (`sacct -P -n --delimiter=<D> --format=<these>`), read with
 * core/slurm-records.ts: JobIDRaw last ends each record, so no name or comment can shift a field.
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
  'QOS',
  'NodeList',
  'JobIDRaw',
  'TotalCPU',
] as const;

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

type SacctRow = Record<(typeof SACCT_FIELDS)[number], string>;

/** One job from `sacct -P -n` output (`parseSacctJobs` for one id). */
export function parseSacct(output: string, jobId: string, delimiter: string): SacctJob | undefined {
  return parseSacctJobs(output, [jobId], delimiter).get(jobId);
}

/**
 * The jobs of one `sacct -j a,b,c -P -n` call that are final, by the id each was asked by: the job line
 * gives state and limits; MaxRSS lives on the steps (`<id>.batch`, `<id>.extern`), so the largest one is
 * taken. A job not final yet (or not listed) is absent. The rows are grouped once, whatever the number of jobs.
 */
export function parseSacctJobs(
  output: string,
  jobIds: readonly string[],
  delimiter: string,
): Map<string, SacctJob> {
  const jobs = new Map<string, SacctRow>();
  const steps = new Map<string, SacctRow[]>();
  for (const r of slurmRows(output, delimiter, SACCT_FIELDS)) {
    const dot = r.JobID.indexOf('.');
    if (dot >= 0) {
      const of = r.JobID.slice(0, dot);
      pushTo(steps, of, r);
      continue;
    }
    // An array task is named `123_4` (JobID) and has its own number too (JobIDRaw): either finds it; a
    // job's own name wins over another's number.
    jobs.set(r.JobID, r);
    if (!jobs.has(r.JobIDRaw)) jobs.set(r.JobIDRaw, r);
  }
  const out = new Map<string, SacctJob>();
  for (const jobId of jobIds) {
    const job = jobs.get(jobId);
    const read = job && finalJob(jobId, job, steps.get(job.JobID) ?? []);
    if (read) out.set(jobId, read);
  }
  return out;
}

function finalJob(jobId: string, job: SacctRow, steps: SacctRow[]): SacctJob | undefined {
  const state = job.State.split(/\s+/)[0]!;
  if (!FINAL_STATES.has(state)) return undefined;
  // Right after a short job ends, slurmdbd may hold a stub (JobName "allocation", ReqMem "16?", no
  // partition or limit): wait for the whole record rather than decide on it.
  if (!job.Partition || !job.Timelimit || !WHOLE_MEMORY.test(job.ReqMem)) return undefined;
  let maxRss: string | undefined;
  let best = -1;
  for (const r of steps) {
    // While slurmdbd is still updating a step, MaxRSS can read like "16?": only whole values count.
    if (!WHOLE_MEMORY.test(r.MaxRSS)) continue;
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
  const task = arrayTaskOf(job.JobID);
  return {
    jobId,
    ...(task ? { array: task } : {}),
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
    nodes: opt(job.NodeList),
    qos: opt(job.QOS),
    totalCpu: opt(job.TotalCPU),
  };
}

/** `123_4` → array 123, task 4; a job outside an array (or a pending range `123_[4-9]`) → undefined. */
export function arrayTaskOf(jobId: string): { jobId: string; taskId: number } | undefined {
  const m = /^(\d+)_(\d+)$/.exec(jobId);
  return m ? { jobId: m[1]!, taskId: Number(m[2]) } : undefined;
}

/** The fields of an array's tasks (`sacct -X -j <array> -n -P --delimiter=<D> --format=<these>`). */
export const ARRAY_FIELDS = ['JobID', 'State', 'JobIDRaw'] as const;

/**
 * Where an array stands: the tasks that ended other than COMPLETED (each gets its own decision), and
 * whether any task is still pending or running (a pending range `123_[5-9%2]` counts as live).
 */
export function arrayProgress(output: string, delimiter: string): { failed: number[]; live: boolean } {
  return arraysProgress(output, delimiter).values().next().value ?? { failed: [], live: false };
}

/** `arrayProgress` of several arrays listed together (`sacct -X -j 123,456`), by array job id. */
export function arraysProgress(
  output: string,
  delimiter: string,
): Map<string, { failed: number[]; live: boolean }> {
  const arrays = new Map<string, { failed: number[]; live: boolean }>();
  for (const r of slurmRows(output, delimiter, ARRAY_FIELDS)) {
    const array = /^\d+/.exec(r.JobID)?.[0];
    if (!array) continue;
    const progress = arrays.get(array) ?? { failed: [], live: false };
    arrays.set(array, progress);
    const state = r.State.split(/\s+/)[0]!;
    const task = arrayTaskOf(r.JobID);
    if (!FINAL_STATES.has(state)) progress.live = true;
    else if (task && state !== 'COMPLETED' && progress.failed.length < ARRAY_TASKS_NAMED)
      progress.failed.push(task.taskId);
  }
  for (const p of arrays.values()) p.failed.sort((a, b) => a - b);
  return arrays;
}

/** The fields the user-level watcher lists (`sacct -X -n -P --delimiter=<D> --format=<these>`). */
export const ENDED_FIELDS = [
  'JobIDRaw',
  'State',
  'ExitCode',
  'Partition',
  'Timelimit',
  'End',
  'JobName',
  'NodeList',
  'JobID',
] as const;

export interface EndedJob {
  /** `1234`, or an array task's `123_4`. */
  jobId: string;
  /** Slurm's own number for it (JobIDRaw): what the jobcomp hook's event id is built from. */
  rawId: string;
  jobName: string;
  state: string;
  exitCode: string;
  partition?: string;
  timeLimit?: string;
  /** `End` as sacct prints it (local time, no zone). */
  end: string;
  nodes?: string;
}

/** Jobs in a final state from `sacct -X` output; running, pending and malformed lines are left out. */
export function parseEndedJobs(output: string, delimiter: string): EndedJob[] {
  const jobs: EndedJob[] = [];
  for (const r of slurmRows(output, delimiter, ENDED_FIELDS)) {
    if (!/^\d+$/.test(r.JobIDRaw) || !FINAL_STATES.has(r.State.split(/\s+/)[0]!)) continue;
    if (!/^\d{4}-\d\d-\d\dT/.test(r.End)) continue;
    jobs.push({
      jobId: arrayTaskOf(r.JobID) ? r.JobID : r.JobIDRaw,
      rawId: r.JobIDRaw,
      jobName: r.JobName,
      state: r.State,
      exitCode: r.ExitCode,
      end: r.End,
      ...(r.Partition ? { partition: r.Partition } : {}),
      ...(r.Timelimit ? { timeLimit: r.Timelimit } : {}),
      ...(r.NodeList ? { nodes: r.NodeList } : {}),
    });
  }
  return jobs;
}
