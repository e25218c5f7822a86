import type { Command } from '../core/commands.ts';
import type { WorkloadRecord, WorkloadStatus } from '../core/ports.ts';
import type { ServiceDeps } from './worker.ts';

/** The worker's writes other than job records and attempts: workload status, history, commands. */

export async function ensureWorkload(
  deps: ServiceDeps,
  key: string,
  kind: WorkloadRecord['kind'],
  status: WorkloadStatus,
  extra: Partial<WorkloadRecord> = {},
) {
  const existing = await deps.store.getWorkload(key);
  await deps.store.putWorkload({
    ...existing,
    ...extra,
    key,
    kind,
    status,
    updatedAt: deps.now().toISOString(),
  });
}

export async function history(deps: ServiceDeps, workload: string, lines: string[]) {
  const at = deps.now().toISOString();
  await deps.store.appendHistory(lines.map((line) => ({ workload, at, line })));
}

export async function send(deps: ServiceDeps, commands: Command[]) {
  if (commands.length)
    await deps.commands.send(commands.map((c) => ({ id: c.id, body: c, group: c.workload })));
}
