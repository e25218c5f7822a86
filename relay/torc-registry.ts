import * as z from 'zod';
import { UserNameSchema } from '../core/owner.ts';
import { readStateFile, writeFileAtomic } from './state-file.ts';

// The watch list: the Torc workflows the relay's forwarder follows, each with the user its allocations run
// as. `rebound watch <id>` and the relay's config add to it; the running forwarder and executor re-read it.
// In user mode the user is the relay's own (entries may name none); in site mode every entry names one.

export const WatchEntrySchema = z
  .union([
    // The 0.2 form: an id alone.
    z.number().int().positive(),
    z.strictObject({ id: z.number().int().positive(), user: UserNameSchema.optional() }),
  ])
  .transform((e) => (typeof e === 'number' ? { id: e } : e));
const RegistrySchema = z.array(WatchEntrySchema);
export type WatchEntry = z.output<typeof WatchEntrySchema>;

/** The registry's file name in the relay's state folder. */
export const TORC_REGISTRY = 'torc-workflows.json';

/**
 * `rebound watch <id>`: adds a workflow to the registry the running relay reads. False when it is already
 * watched (as the same user); an error when it is watched as someone else.
 */
export function registerWorkflow(registryFile: string, workflowId: number, user?: string): boolean {
  const entries = readRegistry(registryFile);
  const existing = entries.find((e) => e.id === workflowId);
  if (existing) {
    if (existing.user === user) return false;
    throw new Error(
      `Torc workflow ${workflowId} is already watched${existing.user ? ` as ${existing.user}` : ''}: its allocations run as that user`,
    );
  }
  const next = [...entries, { id: workflowId, ...(user ? { user } : {}) }].sort((a, b) => a.id - b.id);
  writeFileAtomic(registryFile, JSON.stringify(next));
  return true;
}

export function readRegistry(
  registryFile: string,
  log: (line: string) => void = console.error,
): WatchEntry[] {
  const read = readStateFile(registryFile, RegistrySchema);
  if (read.kind === 'corrupt')
    log(
      `torc forwarder: watch list unreadable (${read.reason}); kept as ${read.movedTo}: run \`rebound watch <id>\` again for each workflow (those in the config are watched)`,
    );
  return read.kind === 'ok' ? read.value : [];
}
