import { UnitParseError } from './errors.ts';

export interface ExitStatus {
  exitCode: number;
  signal: number;
}

/** Slurm's "exit:signal" (sacct ExitCode, jobcomp EXITCODE, SLURM_JOB_EXIT_CODE2). */
export function parseExitSignal(input: string): ExitStatus {
  const m = /^(\d+):(\d+)$/.exec(input.trim());
  if (!m) throw new UnitParseError('exit code', input, 'expected "exit:signal", e.g. "0:9"');
  return { exitCode: Number(m[1]), signal: Number(m[2]) };
}

/**
 * A raw wait(2) status (SLURM_JOB_EXIT_CODE in epilogs): 768 → exit 3; 9 → SIGKILL; 253 → "signal" 125
 * with the core-dump bit, which is how Slurm reports an OOM kill.
 */
export function decodeWaitStatus(status: number): ExitStatus {
  if (!Number.isInteger(status) || status < 0) {
    throw new UnitParseError('wait status', String(status), 'expected a non-negative integer');
  }
  const signal = status & 0x7f;
  return signal === 0 ? { exitCode: (status >> 8) & 0xff, signal: 0 } : { exitCode: 0, signal };
}
