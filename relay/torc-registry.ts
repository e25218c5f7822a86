import * as z from 'zod';
import { readStateFile, writeFileAtomic } from './state-file.ts';

// The watch list: the Torc workflows the relay's forwarder follows. `rebound watch <id>` and the relay's
// config add to it; the running forwarder re-reads it on every sync.

const RegistrySchema = z.array(z.number().int().positive());

/** The registry's file name in the relay's state folder. */
export const TORC_REGISTRY = 'torc-workflows.json';

/** `rebound watch <id>`: adds a workflow to the registry the running relay reads. */
export function registerWorkflow(registryFile: string, workflowId: number): boolean {
  const ids = readRegistry(registryFile);
  if (ids.includes(workflowId)) return false;
  writeFileAtomic(registryFile, JSON.stringify([...ids, workflowId].sort((a, b) => a - b)));
  return true;
}

export function readRegistry(registryFile: string, log: (line: string) => void = console.error): number[] {
  const read = readStateFile(registryFile, RegistrySchema);
  if (read.kind === 'corrupt')
    log(
      `torc forwarder: watch list unreadable (${read.reason}); kept as ${read.movedTo}: run \`rebound watch <id>\` again for each workflow (those in the config are watched)`,
    );
  return read.kind === 'ok' ? read.value : [];
}
