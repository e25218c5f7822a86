import { spawn } from 'node:child_process';
import { ExecError } from './errors.ts';

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

/** Runs an argument vector, never a shell string, with `childEnv`; a non-zero exit raises ExecError. */
export function run(
  argv: readonly string[],
  options: { timeoutMs?: number; extraEnv?: Record<string, string> } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      env: childEnv(options.extraEnv),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => reject(new ExecError(argv, null, e.message)));
    child.on('close', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new ExecError(argv, code, stderr || stdout, `${stdout}${stderr}`)),
    );
  });
}
