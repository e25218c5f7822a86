import { ReboundError } from '../core/errors.ts';

/** A program the relay ran exited non-zero; carries argv (never a secret) and what it printed. */
export class ExecError extends ReboundError {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    /** stdout and stderr together, as a person would read them. */
    readonly output = stderr,
  ) {
    super(`${argv[0]} exited ${code}: ${stderr.trim().slice(0, 500)}`, { argv, code });
    this.name = 'ExecError';
  }
}

/** A command the relay will not carry out, for a reason in words (reported as a failed result). */
export class Refusal extends ReboundError {
  override name = 'Refusal';
}

/** The relay is stopping: a command under way is left (its lease runs out) for the next start to run again. */
export class Abandoned extends ReboundError {
  override name = 'Abandoned';
}
