import { accountingSections, parseEnvSection, type SubmittedEnvironment } from '../core/job-environment.ts';
import { ARRAY_FIELDS, arraysProgress } from '../core/sacct.ts';
import { parseQueuedJobs, QUEUED_JOB_FIELDS, type QueuedJob } from '../core/scontrol.ts';
import { slurmRecords } from '../core/slurm-records.ts';
import { Coalesced } from './coalesce.ts';
import { ExecError } from './errors.ts';
import { run } from './exec.ts';
import { freshDelimiter, sacct, submittedEnvironment } from './slurm.ts';

/** Ids per call: a long list stays well inside any command line. */
export const IDS_PER_CALL = 500;

/** Squeue's pending jobs as the dependents' rewiring reads them (relay/dependents.ts). */
const PENDING_FIELDS = ['%i', '%U', '%u', '%a', '%E', '%i'] as const;

type Environment = SubmittedEnvironment | 'not-stored';

/** How long one listing of pending jobs serves the resubmissions of jobs that ended before it. */
const PENDING_REUSE_MS = 10_000;

/** From this many jobs at once, one listing of every job costs slurmctld less than a call per job. */
const LIST_ALL_FROM = 8;

/**
 * The per-job questions a job's end and its resubmission raise, asked for every job at once: jobs ending
 * together (a failure storm, an array) cost one call per question, not one per job (README "Performance").
 * A job's script and environment are asked together with its owner's other jobs only (core/job-environment.ts
 * `accountingSections`: a forged section could then only be the forger's own job).
 */
export class SlurmLookups {
  /** Owner, comment and state while slurmctld knows the job (`squeue -t all -j a,b,c`). */
  readonly queued = new Coalesced<QueuedJob>((ids) => chunked(ids, queuedJobs));
  /** slurmctld's record of each job (`scontrol show job -o`), while it keeps the job. */
  readonly jobRecord = new Coalesced<string>(jobRecords);
  /** Where each array stands: failed tasks, and whether any is queued or running. */
  readonly array = new Coalesced<{ failed: number[]; live: boolean }>((ids) => chunked(ids, arrays));
  /** Every pending job's dependency, one listing shared by the resubmissions of the moment. */
  private readonly pending = new Coalesced<string[][]>(async () => new Map([['', await pendingJobs()]]));
  private lastPending?: { at: number; jobs: string[][] };
  private readonly environments = new Map<string, Coalesced<Environment>>();
  private readonly scripts = new Map<string, Coalesced<string>>();

  /**
   * The pending jobs, listed after `after` (a job that ended before then: its dependents are all in it). A
   * listing of the last few seconds serves every resubmission of a storm; rewirings write into it
   * (relay/dependents.ts).
   */
  async pendingJobs(after: number): Promise<string[][]> {
    const last = this.lastPending;
    if (last && last.at >= after && Date.now() - last.at < PENDING_REUSE_MS) return last.jobs;
    const at = Date.now();
    const jobs = (await this.pending.get('')) ?? [];
    if (!this.lastPending || this.lastPending.at < at) this.lastPending = { at, jobs };
    return jobs;
  }

  /**
   * The environment a job was submitted with, as accounting keeps it (`sacct --env-vars`): read when needed,
   * never kept; `'not-stored'` or undefined when it cannot be had.
   */
  environment(user: string, jobId: string): Promise<Environment | undefined> {
    return perOwner(this.environments, user, (ids) => chunked(ids, environments)).get(jobId);
  }

  /** The job's script as accounting keeps it (`sacct --batch-script`), or as slurmctld still has it. */
  script(user: string, jobId: string): Promise<string | undefined> {
    return perOwner(this.scripts, user, (ids) => chunked(ids, scripts)).get(jobId);
  }
}

function perOwner<V>(
  map: Map<string, Coalesced<V>>,
  user: string,
  fetch: (ids: string[]) => Promise<Map<string, V>>,
): Coalesced<V> {
  const known = map.get(user);
  if (known) return known;
  const c = new Coalesced(fetch);
  map.set(user, c);
  return c;
}

async function chunked<V>(ids: string[], fetch: (ids: string[]) => Promise<Map<string, V>>) {
  const all = new Map<string, V>();
  for (let i = 0; i < ids.length; i += IDS_PER_CALL)
    for (const [k, v] of await fetch(ids.slice(i, i + IDS_PER_CALL))) all.set(k, v);
  return all;
}

/** squeue refuses a list of ids slurmctld has all forgotten ("Invalid job id specified"): none is queued. */
async function squeueOrNothing(argv: string[]): Promise<string> {
  try {
    return (await run(argv)).stdout;
  } catch (error) {
    if (error instanceof ExecError) return '';
    throw error;
  }
}

async function queuedJobs(ids: string[]): Promise<Map<string, QueuedJob>> {
  const d = freshDelimiter();
  const out = await squeueOrNothing([
    'squeue',
    '-h',
    '-t',
    'all',
    '-j',
    ids.join(','),
    '-o',
    QUEUED_JOB_FIELDS.join(d),
  ]);
  return parseQueuedJobs(out, d);
}

/**
 * slurmctld's one-line records of these jobs: one `scontrol show job -o` per job, or — for many at once —
 * one listing of every job (the same work for slurmctld as one squeue). A record is found by its JobId or,
 * for an array task, `<ArrayJobId>_<ArrayTaskId>`; a job named on two lines (a comment with a newline can
 * forge one) is asked alone.
 */
async function jobRecords(ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const one = async (id: string) => {
    const text = await run(['scontrol', 'show', 'job', '-o', id]).then(
      (r) => r.stdout.trim(),
      (error: unknown) => {
        if (error instanceof ExecError) return '';
        throw error;
      },
    );
    if (text && !text.includes('\n')) out.set(id, text);
  };
  if (ids.length < LIST_ALL_FROM) {
    await Promise.all(ids.map(one));
    return out;
  }
  const { stdout } = await run(['scontrol', 'show', 'job', '-o']);
  const lines = new Map<string, string>();
  const twice = new Set<string>();
  for (const line of stdout.split('\n')) {
    const id = /^JobId=(\d+) /.exec(line)?.[1];
    if (!id) continue;
    const task = / ArrayJobId=(\d+) ArrayTaskId=(\d+) /.exec(line);
    for (const name of task ? [id, `${task[1]}_${task[2]}`] : [id]) {
      if (lines.has(name)) twice.add(name);
      lines.set(name, line);
    }
  }
  for (const id of ids) if (lines.has(id) && !twice.has(id)) out.set(id, lines.get(id)!);
  await Promise.all(ids.filter((id) => twice.has(id)).map(one));
  return out;
}

/** One owner's jobs' environments; a job named twice in the output (a forged section) is asked alone. */
async function environments(ids: string[]): Promise<Map<string, Environment>> {
  const { stdout } = await run(['sacct', '-j', ids.join(','), '--env-vars', '-n', '-P']);
  const { sections, twice } = accountingSections(stdout, 'Environment used for');
  const out = new Map<string, Environment>();
  for (const id of ids) {
    const section = sections.get(id);
    const env = twice.has(id)
      ? await submittedEnvironment(id)
      : section === undefined
        ? undefined
        : parseEnvSection(section);
    if (env) out.set(id, env);
  }
  return out;
}

/** One owner's jobs' scripts from accounting; one not stored there (or named twice) from slurmctld. */
async function scripts(ids: string[]): Promise<Map<string, string>> {
  const { stdout } = await run(['sacct', '-j', ids.join(','), '--batch-script', '-n', '-P']).catch(
    (error: unknown) => {
      if (error instanceof ExecError) return { stdout: '' };
      throw error;
    },
  );
  const { sections } = accountingSections(stdout, 'Batch Script for');
  const out = new Map<string, string>();
  for (const id of ids) {
    const stored = sections.get(id);
    if (stored !== undefined && stored !== 'NONE\n' && stored !== '') out.set(id, stored);
    else {
      const script = await run(['scontrol', 'write', 'batch_script', id, '-']).then(
        (r) => r.stdout,
        (error: unknown) => {
          if (error instanceof ExecError) return undefined;
          throw error;
        },
      );
      if (script) out.set(id, script);
    }
  }
  return out;
}

/**
 * Where arrays stand: their tasks that ended other than COMPLETED (sacct), and whether any is still queued —
 * squeue's word, since while an array runs the accounting database may not list every task yet (seen on the
 * lab: a running task missing from sacct).
 */
async function arrays(ids: string[]): Promise<Map<string, { failed: number[]; live: boolean }>> {
  const list = ids.join(',');
  const queued = new Set(
    (await squeueOrNothing(['squeue', '-h', '-j', list, '-o', '%i']))
      .split('\n')
      .map((l) => /^\d+/.exec(l.trim())?.[0])
      .filter(Boolean),
  );
  const { stdout, d } = await sacct(['-X', '-j', list], ARRAY_FIELDS);
  const progress = arraysProgress(stdout, d);
  return new Map(
    ids.map((id) => {
      const p = progress.get(id) ?? { failed: [], live: false };
      return [id, { failed: p.failed, live: p.live || queued.has(id) }];
    }),
  );
}

async function pendingJobs(): Promise<string[][]> {
  const d = freshDelimiter();
  const { stdout } = await run(['squeue', '-h', '-t', 'PENDING', '-o', PENDING_FIELDS.join(d)]);
  return slurmRecords(stdout, d, PENDING_FIELDS.length);
}
