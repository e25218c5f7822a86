import type { PlannedAllocation } from './allocation.ts';
import type { SlurmResources } from './commands.ts';
import { UnsafeValueError } from './errors.ts';
import { scriptExportsVariables } from './job-environment.ts';
import type { CapturedJob } from './scontrol.ts';
import { shellQuote } from './shell-quote.ts';
import { formatSlurmMemory, MiB, parseSlurmMemory } from './units.ts';

/**
 * A submission is an argument vector for sbatch plus the script it submits. Options travel as arguments,
 * never as #SBATCH lines (Torc writes every value unescaped into #SBATCH lines): a
 * newline in an argument is data to sbatch, while in a script it would be a new shell line. Values the
 * script itself needs are single-quoted.
 */
export interface Submission {
  argv: string[];
  script: string;
}

/** `--name=value` arguments, in a fixed order, leaving out unset values. */
export function sbatchOptions(options: Record<string, string | number | undefined>): string[] {
  return Object.entries(options)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => {
      const value = String(v);
      if (value.includes('\0')) throw new UnsafeValueError(`--${k}`, value, 'contains a NUL byte');
      return `--${k}=${value}`;
    });
}

export interface TorcAllocationContext {
  workflowId: number;
  torcUrl: string;
  outputDir: string;
  account?: string;
  qos?: string;
  pollIntervalSeconds?: number;
  /** Torc's runner; tests put a stand-in of the same name on PATH. */
  runner?: string;
}

/** One sbatch call of a planned allocation running Torc's Slurm job runner for the workflow. */
export function torcAllocationSubmission(a: PlannedAllocation, ctx: TorcAllocationContext): Submission {
  const argv = [
    'sbatch',
    '--parsable',
    ...sbatchOptions({
      'job-name': a.name,
      account: ctx.account,
      qos: ctx.qos,
      partition: a.partition,
      nodes: a.nodes,
      'ntasks-per-node': 1,
      'cpus-per-task': a.cpusPerTask,
      mem: a.mem,
      time: a.walltime,
      gres: a.gres,
      output: `${ctx.outputDir}/slurm_output_wf${ctx.workflowId}_sl%j.o`,
      error: `${ctx.outputDir}/slurm_output_wf${ctx.workflowId}_sl%j.e`,
    }),
  ];
  const script = [
    '#!/bin/bash',
    `# Rebound allocation ${a.name} for Torc workflow ${ctx.workflowId}; options are sbatch arguments.`,
    'set -u',
    `TORC_URL=${shellQuote(ctx.torcUrl)}`,
    `OUTPUT_DIR=${shellQuote(ctx.outputDir)}`,
    `exec ${shellQuote(ctx.runner ?? 'torc-slurm-job-runner')} "$TORC_URL" ${ctx.workflowId} "$OUTPUT_DIR" --poll-interval ${ctx.pollIntervalSeconds ?? 30}`,
    '',
  ].join('\n');
  return { argv, script };
}

/**
 * Slurm expanded the output path (`out-%j.log` → `out-42.log`); put `%j` back so the new job does not
 * overwrite the old log. Only a whole number equal to the job id, in the file name, is the job id:
 * `/home/u42/proj42/out-42.log` → `/home/u42/proj42/out-%j.log`; `run-420.log` and folders stay as they are.
 * An array task's file names its array and index (`arr-40_2.out` → `arr-%A_%a.out`): the index is taken
 * back only right after the array's number, where Slurm's own default (`slurm-%A_%a.out`) puts it.
 */
export function outputPattern(
  path: string,
  jobId: string,
  array?: { jobId: string; taskId: number },
): string {
  const name = path.lastIndexOf('/') + 1;
  let file = path.slice(name);
  if (array) file = file.replace(new RegExp(`(?<!\\d)${array.jobId}_${array.taskId}(?!\\d)`, 'g'), '%A_%a');
  return (
    path.slice(0, name) +
    file.replace(/\d+/g, (n) => (n === jobId ? '%j' : array && n === array.jobId ? '%A' : n))
  );
}

/**
 * The resubmission of a plain job: its own script, its original options, escalated --mem/--time (and
 * --partition when it moved), and a comment carrying the opt-in tag and this command's idempotency tag.
 * Arguments override the script's own #SBATCH lines, so the script is submitted unchanged.
 */
export interface ResubmissionExtras {
  /** An array's failed tasks, resubmitted as one array of their indexes. */
  tasks?: number[];
  /**
   * `exact`: the environment the job was submitted with, on file descriptor 3 (`--export-file=3`: the job
   * gets exactly those variables). `login`: the owner's login environment, built by Slurm on the node
   * (`--export=NONE`), when that environment could not be read — or, when the script's own `#SBATCH
   * --export=` line names variables, that line left to apply (login environment plus those variables).
   * Absent: sbatch's own (minimal) one.
   */
  environment?: 'exact' | 'login';
}

export function plainJobResubmission(
  job: CapturedJob,
  resources: SlurmResources,
  comment: string,
  { tasks, environment }: ResubmissionExtras = {},
): Submission {
  const path = (p: string | undefined) => p && outputPattern(p, job.jobId, job.array);
  // Just the failed tasks of an array, as an array of their own indexes (the script reads
  // SLURM_ARRAY_TASK_ID, which keeps its value), under the array's own throttle.
  const throttle = job.array?.throttle ? `%${job.array.throttle}` : '';
  const array = tasks?.length ? `${tasks.join(',')}${throttle}` : undefined;
  // Memory in the unit the job asked in: a per-CPU job keeps --mem-per-cpu (sbatch refuses both forms).
  const cpus = (job.cpusPerTask ?? 1) * (job.tasks ?? 1);
  const memory =
    resources.mem && job.memoryPerCpuBytes !== undefined
      ? { 'mem-per-cpu': formatSlurmMemory(Math.ceil(parseSlurmMemory(resources.mem) / cpus / MiB) * MiB) }
      : { mem: resources.mem };
  const argv = [
    'sbatch',
    '--parsable',
    ...sbatchOptions({
      'job-name': job.name,
      array,
      account: job.account,
      qos: job.qos,
      partition: resources.partition ?? job.partition,
      chdir: job.workDir,
      output: path(job.stdout),
      error: path(job.stderr),
      nodes: job.nodes,
      ntasks: job.tasks,
      'cpus-per-task': job.cpusPerTask,
      ...memory,
      time: resources.time,
      exclude: resources.exclude,
      dependency: resources.dependency,
      constraint: job.constraint,
      reservation: job.reservation,
      licenses: job.licenses,
      gres: job.gres,
      'mail-type': job.mailType,
      'mail-user': job.mailUser,
      comment,
    }),
    ...(job.exclusive ? ['--exclusive'] : []),
    ...exportOption(environment, job.script),
  ];
  return { argv, script: job.script };
}

function exportOption(environment: ResubmissionExtras['environment'], script: string): string[] {
  if (environment === 'exact') return ['--export-file=3'];
  // A command-line --export would override the script's line and lose the variables it names.
  if (environment === 'login') return scriptExportsVariables(script) ? [] : ['--export=NONE'];
  return [];
}
