import { spawn } from 'node:child_process';
import { ExecError } from './errors.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs an argument vector, never a shell string; a non-zero exit raises ExecError. */
export function run(
  argv: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      env: options.env ?? process.env,
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
