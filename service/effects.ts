import { type Command, PROTOCOL } from '../core/commands.ts';
import type { EventOf } from '../core/events.ts';
import { assertNever } from '../core/never.ts';
import { notifies } from '../core/notice.ts';
import type { Plan } from '../core/plan.ts';
import type { Notice, WorkloadRecord, WorkloadStatus } from '../core/ports.ts';
import type { ServiceDeps } from './deps.ts';

/** The worker's writes other than job records and attempts: workload status, history, commands. */

/**
 * Read, change, write back only if nobody wrote in between (the store's conditional write), else read
 * again: the worker's events, the tick and the command results all update workload records, and none may
 * undo another's change. `change` returns undefined to leave the record as it is.
 */
export async function updateWorkload(
  deps: Pick<ServiceDeps, 'store'>,
  key: string,
  change: (current: WorkloadRecord | undefined) => WorkloadRecord | undefined,
): Promise<WorkloadRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await deps.store.getWorkload(key);
    const changed = change(current);
    if (!changed) return undefined;
    const next = withNotice(current, changed);
    if (await deps.store.putWorkload(next, current?.version ?? (current ? 0 : undefined))) return next;
    if (attempt >= 10) throw new Error(`workload ${key} kept changing under this update (10 tries)`);
  }
}

/** What may keep a workload record small whatever happens: the newest undelivered notices. */
const NOTICES_KEPT = 10;

/**
 * A change into "needs attention" or "exhausted" carries its notice, in the same conditional write: a
 * crash cannot lose it, and a redelivered event finds the status already changed and adds none.
 */
function withNotice(current: WorkloadRecord | undefined, next: WorkloadRecord): WorkloadRecord {
  if (!notifies(current?.status, next.status)) return next;
  const notice: Notice = {
    id: `${next.key}@${(current?.version ?? 0) + 1}`,
    status: next.status,
    ...(current ? { from: current.status } : {}),
    at: next.updatedAt,
    sent: [],
    attempts: 0,
    nextAt: next.updatedAt,
  };
  return { ...next, notices: [...(next.notices ?? []), notice].slice(-NOTICES_KEPT) };
}

export function ensureWorkload(
  deps: ServiceDeps,
  key: string,
  kind: WorkloadRecord['kind'],
  status: WorkloadStatus,
  extra: Partial<WorkloadRecord> = {},
) {
  return updateWorkload(deps, key, (existing) => ({
    ...existing,
    ...extra,
    key,
    kind,
    status,
    updatedAt: deps.now().toISOString(),
  }));
}

export async function history(deps: ServiceDeps, workload: string, lines: string[]) {
  const at = deps.now().toISOString();
  await deps.store.appendHistory(lines.map((line) => ({ workload, at, line })));
}

export async function send(deps: ServiceDeps, commands: Command[]) {
  if (commands.length)
    await deps.commands.send(commands.map((c) => ({ id: c.id, body: c, group: c.workload })));
}

type Unversioned<C> = C extends Command ? Omit<C, 'protocol'> : never;

/** A command as this service sends it: stamped with the relay protocol it needs. */
export const command = (c: Unversioned<Command>): Command => ({ ...c, protocol: PROTOCOL }) as Command;

/** The workload's status after a plan that stops. */
export function statusAfterStop(plan: Plan): WorkloadStatus {
  const reason = plan.stopReason ?? 'nothing-recoverable';
  switch (reason) {
    case 'nothing-failed':
      return 'healthy';
    case 'max-retries':
      return 'exhausted';
    case 'nothing-recoverable':
    case 'exceeds-partitions':
    case 'limits-unknown':
    case 'records-incomplete':
      return 'needs-attention';
    default:
      return assertNever(reason, 'stop reason');
  }
}

/** A command result in one history line (side commands: orphan cleanup, auto-schedule, enrichment). */
export const resultLine = (r: EventOf<'relay.command.result'>['data']) =>
  r.ok ? `${r.commandId}: ${r.output}` : `Command ${r.commandId} failed: ${r.error ?? r.output}`;
