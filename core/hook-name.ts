import * as z from 'zod';

/**
 * A recovery hook is named, never given as a command: the relay's own config says what each name runs.
 * The one rule for a name, used by the policy, the commands and the relay config alike.
 */
export const HookNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9_.-]{1,64}$/,
    'a hook name (1 to 64 letters, digits, _ . -) defined in the relay config',
  );
