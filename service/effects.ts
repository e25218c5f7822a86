import type { Command } from '../core/commands.ts';
import type { EventOf } from '../core/events.ts';
import { assertNever } from '../core/never.ts';
import { notifies } from '../core/notice.ts';
import type { Plan } from '../core/plan.ts';
import type { Notice, WorkloadRecord, WorkloadStatus } from '../core/ports.ts';
import type { ServiceDeps } from './deps.ts';

/** The worker's writes other than job records and attempts: workload status, history, commands. */

/**
 * Updates of one workload record in this process, one after another: a storm of a thousand failures of one
 * workload is handled a hundred events at a time, and a hundred conditional writes racing on one record
 * would mostly lose (each loser reads and tries again). Other processes (Lambda instances) still race:
 * the conditional write decides, and the loser tries again after a short, random wait.
 */
const updating = new Map<string, Promise<unknown>>();

/**
 * Read, change, write back only if nobody wrote in between (the store's conditional write), else read
 * again: the worker's events, the tick and the command results all update workload records, and none may
 * undo another's change. `change` returns undefined to leave the record as it is.
 */
export function updateWorkload(
  deps: Pick<ServiceDeps, 'store' | 'telemetry'>,
  key: string,
  change: (current: WorkloadRecord | undefined) => WorkloadRecord | undefined,
): Promise<WorkloadRecord | undefined> {
  const previous = updating.get(key) ?? Promise.resolve();
  const mine = previous.then(
    () => conditionalUpdate(deps, key, change),
    () => conditionalUpdate(deps, key, change),
  );
  updating.set(key, mine);
  // The chain is forgotten once nothing waits on it, so the map holds only workloads being updated.
  void mine.then(
    () => updating.get(key) === mine && updating.delete(key),
    () => updating.get(key) === mine && updating.delete(key),
  );
  return mine;
}

async function conditionalUpdate(
  deps: Pick<ServiceDeps, 'store' | 'telemetry'>,
  key: string,
  change: (current: WorkloadRecord | undefined) => WorkloadRecord | undefined,
): Promise<WorkloadRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await deps.store.getWorkload(key);
    const changed = change(current);
    if (!changed) return undefined;
    const next = withNotice(current, changed);
    if (await deps.store.putWorkload(next, current?.version ?? (current ? 0 : undefined))) {
      if (next.notices !== changed.notices) {
        deps.telemetry?.count('NeedsAttention', 1, next.status);
        deps.telemetry?.log('warn', `workload ${next.status}`, { workload: key, from: current?.status });
      }
      return next;
    }
    if (attempt >= 10) throw new Error(`workload ${key} kept changing under this update (10 tries)`);
    await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
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

/** The newest commands a workload keeps as awaiting a result (a record must stay small). */
const AWAITING_KEPT = 50;

/**
 * Sends commands to the relay. Every command but an enrichment (which answers with its sacct event)
 * answers with a result: each is first noted on its workload as awaited, so that a relay that never
 * answers is noticed (service/command-watch.ts) — noted before sending, or a quick result could come
 * before the note and leave it behind.
 */
export async function send(deps: ServiceDeps, commands: Command[]) {
  if (!commands.length) return;
  const byWorkload = new Map<string, Command[]>();
  for (const c of commands)
    if (c.type !== 'slurm.enrich') byWorkload.set(c.workload, [...(byWorkload.get(c.workload) ?? []), c]);
  const sentAt = deps.now().toISOString();
  for (const [key, cs] of byWorkload)
    await updateWorkload(deps, key, (w) => {
      const have = new Set((w?.awaiting ?? []).map((a) => a.id));
      const fresh = cs.filter((c) => !have.has(c.id));
      if (!w || !fresh.length) return undefined;
      const added = fresh.map((c) => ({ id: c.id, type: c.type, sentAt }));
      return { ...w, awaiting: [...(w.awaiting ?? []), ...added].slice(-AWAITING_KEPT) };
    });
  await deps.commands.send(commands.map((c) => ({ id: c.id, body: c, group: c.workload })));
}

type Unversioned<C> = C extends Command ? Omit<C, 'protocol'> : never;

/**
 * A command as this service sends it: stamped with the relay protocol it needs, so a relay too old for it
 * answers with a failure in words instead of doing something else (an array's tasks as one plain job).
 */
export const command = (c: Unversioned<Command>): Command =>
  ({
    ...c,
    protocol:
      c.type === 'torc.sync' || c.type === 'job.logs'
        ? 4
        : c.type === 'slurm.resubmit' && (c.tasks || c.resources.exclude || c.resources.dependency)
          ? 3
          : 2,
  }) as Command;

/** A plan's retried jobs, counted by cause (the Recoveries metric). */
export function countRecoveries(deps: Pick<ServiceDeps, 'telemetry'>, plan: Plan) {
  const byCause = new Map<string, number>();
  for (const d of plan.decisions) if (d.retry) byCause.set(d.cause, (byCause.get(d.cause) ?? 0) + 1);
  for (const [cause, n] of byCause) deps.telemetry?.count('Recoveries', n, cause);
}

/** The workload's status after a plan that stops. */
export function statusAfterStop(plan: Plan): WorkloadStatus {
  const reason = plan.stopReason ?? 'nothing-recoverable';
  switch (reason) {
    case 'nothing-failed':
      return 'healthy';
    // The owner's decision: nothing wrong, nothing to tell anyone.
    case 'cancelled-by-owner':
      return 'watching';
    case 'waits-for-prerequisite':
      return 'recovering';
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
