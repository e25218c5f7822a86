import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { ExecError } from './errors.ts';
import { Slots } from './slots.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * What a child process (Slurm's commands, sbatch and so the jobs it submits, recovery hooks) may see of
 * the relay's environment: where programs and Slurm are, who it runs as, the locale. Never the relay's own
 * settings and secrets (REBOUND_*, TORC_PASSWORD, AWS credentials): a resubmitted job inherits sbatch's
 * environment (--export=ALL), and a hook is a program of the user's.
 */
const PASSED = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'SLURM_CONF',
];

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED) if (process.env[name] !== undefined) env[name] = process.env[name];
  return { ...env, ...extra };
}

export interface RunOptions {
  timeoutMs?: number;
  /** Added to (or replacing values of) the minimal environment. */
  extraEnv?: Record<string, string>;
  /** Written to the child's standard input (a script for sbatch); otherwise stdin is closed. */
  input?: string;
  /**
   * Written to the child's file descriptor 3 (a job's environment for `sbatch --export-file=3`): a pipe,
   * so what it holds is in no file, argument or environment another process could read.
   */
  fd3?: Buffer;
  cwd?: string;
}

/** Slurm's own commands: each is an RPC to slurmctld or slurmdbd, which a site watches (README "Performance"). */
const SLURM_COMMANDS = new Set(['sbatch', 'squeue', 'sacct', 'scontrol', 'sinfo', 'scancel']);

/** The Slurm command an argument vector runs, itself or as another user (`runuser -u <user> -- sbatch …`). */
function slurmCommandOf(argv: readonly string[]): string | undefined {
  const program = argv[0] === 'runuser' ? argv[argv.indexOf('--') + 1] : argv[0];
  const name = program && basename(program);
  return name && SLURM_COMMANDS.has(name) ? name : undefined;
}

/** Slurm commands running at once, for the whole relay (relay config `slurmConcurrency`). */
const slurmSlots = new Slots(4);
/** Slurm commands run since the start, by command (`sacct`, `squeue`, …): /healthz shows them. */
const slurmCalls: Record<string, number> = {};

export function limitSlurmCommands(concurrency: number): void {
  slurmSlots.resize(concurrency);
}

export function slurmCallCounts(): Readonly<Record<string, number>> {
  return { ...slurmCalls };
}

/**
 * Runs an argument vector, never a shell string, with `childEnv`; a non-zero exit raises ExecError. A
 * Slurm command waits for one of the relay's Slurm slots first.
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
  const slurm = slurmCommandOf(argv);
  if (!slurm) return spawnChild(argv, options);
  const free = await slurmSlots.take();
  slurmCalls[slurm] = (slurmCalls[slurm] ?? 0) + 1;
  try {
    return await spawnChild(argv, options);
  } finally {
    free();
  }
}

function spawnChild(argv: readonly string[], options: RunOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, {
      stdio: [
        options.input === undefined ? 'ignore' : 'pipe',
        'pipe',
        'pipe',
        ...(options.fd3 ? (['pipe'] as const) : []),
      ],
      timeout: options.timeoutMs ?? 60_000,
      env: childEnv(options.extraEnv),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    if (options.input !== undefined) {
      // A child that exits without reading all of it (EPIPE) reports through its exit code.
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.input);
    }
    if (options.fd3) {
      const fd3 = child.stdio[3] as NodeJS.WritableStream;
      fd3.on('error', () => {});
      fd3.end(options.fd3);
    }
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (e) => reject(new ExecError(argv, null, e.message)));
    child.on('close', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new ExecError(argv, code, stderr || stdout, `${stdout}${stderr}`)),
    );
  });
}
