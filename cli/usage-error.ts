import { ReboundError } from '../core/errors.ts';

/** A command line that cannot be run as written: the CLI says why and exits 2. */
export class UsageError extends ReboundError {
  override name = 'UsageError';
}
