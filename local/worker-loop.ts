import type { EventQueue } from '../core/ports.ts';
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
): { stop(): Promise<void>; progress(): WorkerProgress } {
  let running = true;
  const progress: WorkerProgress = { handled: 0, failed: 0 };
  const loop = (async () => {
    while (running) {
      await quiet();
      const batch = await events.receive(100, 30);
      if (batch.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
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
        }),
      );
    }
  })();
  return {
    progress: () => ({ ...progress }),
    async stop() {
      running = false;
      await loop;
    },
  };
}
