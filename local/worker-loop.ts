import type { EventQueue } from '../core/ports.ts';
import { backoffMs, type LoopHealth, LoopRecord } from '../relay/loop-health.ts';
import type { ServiceDeps } from '../service/deps.ts';
import { handleEvents } from '../service/dispatch.ts';

/** Counts since start, and the last event handled: a positive signal that work was done (/healthz). */
export interface WorkerProgress {
  handled: number;
  failed: number;
  lastEventId?: string;
}

/**
 * The local worker: takes up to 100 events at a time and deletes each one handled. A failed event stays
 * leased and comes back after 30 s (dead-lettered after the queue's maxReceives), as SQS would do it.
 */
export function startWorker(
  events: EventQueue,
  deps: ServiceDeps,
  log: (line: string) => void,
  /** Waits while the webhook in the same process is busy (ingest-first.ts). */
  quiet: () => Promise<void> = async () => {},
): { stop(): Promise<void>; progress(): WorkerProgress; health(): LoopHealth } {
  let running = true;
  const progress: WorkerProgress = { handled: 0, failed: 0 };
  const record = new LoopRecord('worker', log);
  const round = async () => {
    await quiet();
    const batch = await events.receive(100, 30);
    if (batch.length === 0) return new Promise((r) => setTimeout(r, 50));
    const outcomes = await handleEvents(
      deps,
      batch.map((m) => m.body),
    );
    await Promise.all(
      batch.map(async (m, i) => {
        const error = outcomes[i];
        if (!error) {
          progress.handled++;
          progress.lastEventId = m.body.id;
          return events.delete(m.receipt);
        }
        progress.failed++;
        log(`worker: event ${m.body.id} failed (receive ${m.receiveCount}, will retry): ${error.message}`);
        await events.fail?.(m.receipt, error.message);
      }),
    );
  };
  // Nothing but stop() ends the loop: a failing round is recorded and retried with backoff.
  const loop = (async () => {
    while (running) {
      try {
        await round();
        record.succeeded();
      } catch (error) {
        const delay = backoffMs(record.failures + 1, 200, 10_000);
        record.failed(error, delay);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  })();
  return {
    progress: () => ({ ...progress }),
    health: () => record.health,
    async stop() {
      running = false;
      await loop;
    },
  };
}
