import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { parseEnvVars } from '../core/job-environment.ts';
import type { Owner } from '../core/owner.ts';
import type { Submission } from '../core/sbatch-script.ts';
import { type CapturedJob, capturedJobFromScontrol, parseScontrolRecord } from '../core/scontrol.ts';
import { slurmDelimiter, slurmRows } from '../core/slurm-records.ts';
import { ExecError } from './errors.ts';
import { run } from './exec.ts';

/** A fresh delimiter for one sacct/squeue call (core/slurm-records.ts): no job can contain it. */
export const freshDelimiter = () => slurmDelimiter(randomBytes(6).toString('hex'));

/** sacct's `fields` for `args`, parsable, with a fresh delimiter (core/slurm-records.ts reads them). */
export async function sacct(
  args: string[],
  fields: readonly string[],
): Promise<{ stdout: string; d: string }> {
  const d = freshDelimiter();
  const { stdout } = await run([
    'sacct',
    ...args,
    '-P',
    '-n',
    `--delimiter=${d}`,
    `--format=${fields.join(',')}`,
  ]);
  return { stdout, d };
}

/**
 * A job's capture from slurmctld's record of it (`scontrol show job -o`, kept for MinJobAge after its end)
 * and its script (relay/slurm-lookups.ts: from accounting, or from slurmctld); undefined without either.
 */
export function captureJob(
  queued: { owner: Owner; comment?: string },
  record: string | undefined,
  script: string | undefined,
): CapturedJob | undefined {
  if (record === undefined || script === undefined) return undefined;
  return capturedJobFromScontrol(parseScontrolRecord(record, queued.comment), queued, script);
}

/**
 * The environment a job was submitted with, as accounting keeps it (core/job-environment.ts): read when
 * needed and never stored by the relay; `'not-stored'` or undefined when it cannot be had.
 */
export async function submittedEnvironment(jobId: string) {
  const { stdout } = await run(['sacct', '-j', jobId, '--env-vars', '-n', '-P']);
  return parseEnvVars(stdout);
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * Whether a partition (every node, without one) keeps a node outside `exclude`, a Slurm host list: a
 * node failure's retry must not be kept off the only node that can run it. Both lists expanded by Slurm.
 */
export async function leavesANode(partition: string | undefined, exclude: string): Promise<boolean> {
  const lines = (s: string) =>
    new Set(
      s
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    );
  const nodes = lines(
    (await run(['sinfo', '-h', '-N', ...(partition ? ['-p', partition] : []), '-o', '%N'])).stdout,
  );
  const excluded = lines((await run(['scontrol', 'show', 'hostnames', exclude])).stdout);
  return [...nodes].some((n) => !excluded.has(n));
}

/** sacct's -S and squeue's %V use local time without a zone. */
export function slurmLocalTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Slurm job ids of `user` whose comment is exactly `comment`, submitted since `since` (the command's
 * creation, less a minute for clock skew): a job from before the command cannot be its submission, even
 * when ids repeat (a Torc server or Slurm database started afresh hands out the same ids again). Only the
 * submitter's own jobs count: another user's job carrying the same comment is not ours, whatever it says.
 */
export async function findJobsByComment(comment: string, since: Date, user: string): Promise<string[]> {
  const from = slurmLocalTime(since.getTime() - 60_000);
  const ids = new Set<string>();
  // An array is known by its own number (`123` of `123_4` or of a pending `123_[5-9]`): sbatch printed it.
  const keep = (id: string, submitted: string, c: string) => {
    const job = /^(\d+)(_|$)/.exec(id)?.[1];
    if (c === comment && submitted >= from && job) ids.add(job);
  };
  const d = freshDelimiter();
  const { stdout: queued } = await run(['squeue', '-h', '-u', user, '-o', ['%i', '%V', '%k', '%i'].join(d)]);
  for (const r of slurmRows(queued, d, ['id', 'submitted', 'comment', 'end'] as const))
    keep(r.id.trim(), r.submitted, r.comment);
  const { stdout: past } = await run([
    'sacct',
    '-n',
    '-P',
    '-X',
    '-u',
    user,
    '-S',
    from,
    `--delimiter=${d}`,
    '--format=JobID,Submit,Comment,JobIDRaw',
  ]);
  for (const r of slurmRows(past, d, ['JobID', 'Submit', 'Comment', 'JobIDRaw'] as const))
    keep(r.JobID.trim(), r.Submit, r.Comment);
  return [...ids];
}

/**
 * Who runs sbatch: the relay itself (user mode), or — from a root relay in site mode — the job's owner
 * through `runuser`. Then the job is the owner's own submission: their accounting, their file permissions,
 * an environment with their HOME and USER and nothing of root's; sbatch itself never runs as root.
 * (`sbatch --uid` was the alternative: sbatch runs as root until the allocation, and the job gets root's
 * exported environment unless it is replaced: README "Running for a site".)
 */
export type Submitter = { as: 'self' } | { as: 'owner'; user: string; home: string };

/**
 * sbatch --parsable with the script on standard input → the new job id ("1234" or "1234;cluster"). With an
 * environment to replay, it goes to file descriptor 3 (`--export-file=3`), and sbatch runs where the job
 * was first submitted from (its SLURM_SUBMIT_DIR), when that folder is there.
 */
export async function sbatch(
  submission: Submission,
  submitter: Submitter,
  replay: { exportFile?: Buffer; submitDir?: string | undefined } = {},
): Promise<string> {
  const from = replay.submitDir && isDirectory(replay.submitDir) ? replay.submitDir : undefined;
  const io = { input: submission.script, ...(replay.exportFile ? { fd3: replay.exportFile } : {}) };
  const { stdout } =
    submitter.as === 'self'
      ? await run(submission.argv, { ...io, ...(from ? { cwd: from } : {}) })
      : await run(['runuser', '-u', submitter.user, '--', ...submission.argv], {
          ...io,
          cwd: from ?? '/',
          extraEnv: { HOME: submitter.home, USER: submitter.user, LOGNAME: submitter.user },
        });
  const id = /^(\d+)/.exec(stdout.trim())?.[1];
  if (!id) throw new Error(`sbatch printed no job id: ${stdout.trim()}`);
  return id;
}

/** A user's Unix groups (`id -Gn`), for the partitions that admit some groups only; none if unknown. */
export async function groupsOf(user: string): Promise<string[] | undefined> {
  try {
    return (await run(['id', '-Gn', user])).stdout.trim().split(/\s+/).filter(Boolean);
  } catch (error) {
    if (error instanceof ExecError) return undefined;
    throw error;
  }
}

/** A user's home folder from the password database (`getent passwd`), for the environment of their jobs. */
export async function homeOf(user: string): Promise<string> {
  const { stdout } = await run(['getent', 'passwd', user]);
  const home = stdout.trim().split(':')[5];
  if (!home) throw new ExecError(['getent', 'passwd', user], 2, `no home folder for user ${user}`);
  return home;
}

/** Every job id Slurm still has queued or running (all users: allocations may run as another account). */
export async function queuedSlurmJobs(): Promise<Set<string>> {
  const { stdout } = await run(['squeue', '-h', '-o', '%i']);
  return new Set(
    stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}
