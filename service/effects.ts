import type { Command } from '../core/commands.ts';
import type { EventOf } from '../core/events.ts';
import { groupBy } from '../core/group-by.ts';
import { assertNever } from '../core/never.ts';
import { notifies } from '../core/notice.ts';
import type { Plan } from '../core/plan.ts';
import type { Notice, WorkloadRecord, WorkloadStatus } from '../core/ports.ts';
import type { ServiceDeps } from './deps.ts';

/** The worker's writes other than job records and attempts: workload status, history, commands. */

type Change = (current: WorkloadRecord | undefined) => WorkloadRecord | undefined;
interface Waiting {
  change: Change;
  resolve: (record: WorkloadRecord | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Updates of one workload record in this process (per store), taken together: while one read-change-write
 * is under way, the changes that arrive wait, and the next round applies them all, in order, in one
 * conditional write. A storm of a thousand failures of one workload is handled a hundred events at a time:
 * a hundred writes racing on one record would mostly lose (each loser reading and trying again), and a
 * hundred in a row would each wait for their own commit. Other processes (Lambda instances) still race: the
 * conditional write decides, and the loser tries again after a short, random wait.
 */
const waitingByStore = new WeakMap<object, Map<string, Waiting[]>>();

/**
 * Read, change, write back only if nobody wrote in between (the store's conditional write), else read
 * again: the worker's events, the tick and the command results all update workload records, and none may
 * undo another's change. `change` returns undefined to leave the record as it is; the answer is the record
 * as this change left it.
 */
export function updateWorkload(
  deps: Pick<ServiceDeps, 'store' | 'telemetry'>,
  key: string,
  change: Change,
): Promise<WorkloadRecord | undefined> {
  const queue = waitingByStore.get(deps.store) ?? new Map<string, Waiting[]>();
  waitingByStore.set(deps.store, queue);
  return new Promise((resolve, reject) => {
    const waiting = queue.get(key);
    if (waiting) waiting.push({ change, resolve, reject });
    else {
      queue.set(key, [{ change, resolve, reject }]);
      void drain(deps, key, queue);
    }
  });
}

/** Rounds of waiting changes until none is left (the key's entry exists while a round is under way). */
async function drain(
  deps: Pick<ServiceDeps, 'store' | 'telemetry'>,
  key: string,
  queue: Map<string, Waiting[]>,
) {
  for (;;) {
    const round = queue.get(key) ?? [];
    if (round.length === 0) {
      queue.delete(key);
      return;
    }
    queue.set(key, []);
    try {
      const applied = await applyTogether(
        deps,
        key,
        round.map((w) => w.change),
      );
      for (const [i, r] of applied.results.entries()) round[i]!.resolve(r);
      // A second notice in one round waits for the next (each notice is named after the write that adds it).
      queue.set(key, [...round.slice(applied.results.length), ...(queue.get(key) ?? [])]);
    } catch (error) {
      for (const w of round) w.reject(error);
    }
  }
}

async function applyTogether(
  deps: Pick<ServiceDeps, 'store' | 'telemetry'>,
  key: string,
  changes: Change[],
): Promise<{ results: (WorkloadRecord | undefined)[] }> {
  for (let attempt = 1; ; attempt++) {
    const current = await deps.store.getWorkload(key);
    let record = current;
    const results: (WorkloadRecord | undefined)[] = [];
    const noticed: WorkloadRecord[] = [];
    for (const change of changes) {
      const changed = change(record);
      if (!changed) {
        results.push(undefined);
        continue;
      }
      const next = withNotice(record, changed);
      if (next.notices !== changed.notices) {
        if (noticed.length) break;
        noticed.push(next);
      }
      record = next;
      results.push(next);
    }
    if (record === current) return { results };
    if (await deps.store.putWorkload(record!, current?.version ?? (current ? 0 : undefined))) {
      for (const n of noticed) {
        deps.telemetry?.count('NeedsAttention', 1, n.status);
        deps.telemetry?.log('warn', `workload ${n.status}`, { workload: key, from: current?.status });
      }
      return { results };
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

/** A workload's status, as a change: the record made if there is none. */
export interface StatusChange {
  workload: string;
  kind: WorkloadRecord['kind'];
  status: WorkloadStatus;
}

const withStatus =
  (deps: Pick<ServiceDeps, 'now'>, s: StatusChange, extra: Partial<WorkloadRecord> = {}) =>
  (existing: WorkloadRecord | undefined): WorkloadRecord => ({
    ...existing,
    ...extra,
    key: s.workload,
    kind: s.kind,
    status: s.status,
    updatedAt: deps.now().toISOString(),
  });

export function ensureWorkload(
  deps: ServiceDeps,
  key: string,
  kind: WorkloadRecord['kind'],
  status: WorkloadStatus,
  extra: Partial<WorkloadRecord> = {},
) {
  return updateWorkload(deps, key, withStatus(deps, { workload: key, kind, status }, extra));
}

export async function history(deps: ServiceDeps, workload: string, lines: string[]) {
  const at = deps.now().toISOString();
  await deps.store.appendHistory(lines.map((line) => ({ workload, at, line })));
}

/**
 * A handler's answer 'settled': its last write was the record a redelivery of its event finds (a job written
 * decided, a failed job linked to its retry), so the repeat changes nothing and the event needs no processed
 * mark — a write each in AWS (service/dispatch.ts).
 */
export type Handled = 'settled' | undefined;

/** The newest commands a workload keeps as awaiting a result (a record must stay small). */
const AWAITING_KEPT = 50;

/**
 * Sends commands to the relay. Every command but an enrichment (which answers with its sacct event)
 * answers with a result: each is first noted on its workload as awaited, so that a relay that never
 * answers is noticed (service/command-watch.ts) — noted before sending, or a quick result could come
 * before the note and leave it behind. A status change for the workload goes in the same write.
 */
export async function send(deps: ServiceDeps, commands: Command[], status?: StatusChange) {
  const byWorkload = groupBy(
    commands.filter((c) => c.type !== 'slurm.enrich'),
    (c) => c.workload,
  );
  if (status && !byWorkload.has(status.workload)) byWorkload.set(status.workload, []);
  const sentAt = deps.now().toISOString();
  for (const [key, cs] of byWorkload)
    await updateWorkload(deps, key, (current) => {
      const w = status?.workload === key ? withStatus(deps, status)(current) : current;
      const have = new Set((w?.awaiting ?? []).map((a) => a.id));
      const fresh = cs.filter((c) => !have.has(c.id));
      if (!w || (!fresh.length && w === current)) return undefined;
      const added = fresh.map((c) => ({ id: c.id, type: c.type, sentAt }));
      return fresh.length ? { ...w, awaiting: [...(w.awaiting ?? []), ...added].slice(-AWAITING_KEPT) } : w;
    });
  if (!commands.length) return;
  await deps.commands.send(
    commands.map((c) => {
      const group = orderedWithin(c);
      return { id: c.id, body: c, ...(group ? { group } : {}) };
    }),
  );
}

/**
 * The commands that must reach the relay in the order sent: a Torc workflow's recovery steps (and its hooks,
 * clean-ups and syncs), one workload at a time. Every other command needs no order, and goes on its own: the
 * commands queue is FIFO in AWS, which hands out one message group a batch at a time — as one group, a
 * storm's thousand enrichments (all of no workload yet) would reach the relay ten at a time.
 */
function orderedWithin(c: Command): string | undefined {
  switch (c.type) {
    case 'torc.update-resources':
    case 'torc.reset-jobs':
    case 'torc.submit-allocations':
    case 'torc.cleanup-allocation':
    case 'torc.sync':
    case 'hook.run':
      return c.workload;
    case 'slurm.enrich':
    case 'slurm.resubmit':
    case 'job.logs':
      return undefined;
    default:
      return assertNever(c, 'command');
  }
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
