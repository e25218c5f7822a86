import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ReboundError } from '../core/errors.ts';
import { type Mode, UserNameSchema } from '../core/owner.ts';
import { loadSettings } from '../local/settings.ts';
import { registerWorkflow, TORC_REGISTRY } from '../relay/torc-registry.ts';
import { UsageError } from './usage-error.ts';

/** Whom a watched workflow's allocations run as: yourself in user mode; in site mode the named user. */
function watchingUser(mode: Mode, named: string | undefined): string | undefined {
  const me = userInfo().username;
  if (mode === 'user') {
    if (named && named !== me)
      throw new UsageError(`user mode watches workflows for ${me} only (--user ${named}: that is site mode)`);
    return undefined;
  }
  if (!named || !UserNameSchema.safeParse(named).success)
    throw new UsageError('site mode: name the user its allocations run as: rebound watch <id> --user <name>');
  return named;
}

/** `rebound watch <id> [--user <name>]`: adds the workflow to the relay's watch list. */
export function watchWorkflow(arg: string | undefined, named: string | undefined) {
  if (!arg || !/^[1-9]\d*$/.test(arg))
    throw new UsageError('watch needs a Torc workflow id (a positive integer)');
  const settings = loadSettings();
  if (!settings.relay.torc)
    throw new ReboundError(
      'no Torc server configured: add "relay": {"torc": {"url": …}} to rebound.config.json',
    );
  const user = watchingUser(settings.config.mode, named);
  const registry = join(settings.dataDir, 'relay', TORC_REGISTRY);
  mkdirSync(dirname(registry), { recursive: true });
  return { workflowId: Number(arg), added: registerWorkflow(registry, Number(arg), user), user };
}
