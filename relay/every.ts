import { backoffMs, type LoopHealth, LoopRecord } from './loop-health.ts';

/**
 * Runs `task` now and then every `intervalMs` after the previous run ends (never overlapping), until
 * stopped. A failing run is recorded (relay/loop-health.ts) and retried with backoff, from the interval up
 * to five minutes: one bad poll must not end the loop, and a long outage must not flood the log.
 */
export function every(
  name: string,
  intervalMs: number,
  task: () => Promise<unknown>,
  log: (line: string) => void,
): { stop(): Promise<void>; health(): LoopHealth } {
  const record = new LoopRecord(name, log);
  let running = true;
  let wake: () => void = () => {};
  const loop = (async () => {
    while (running) {
      let delay = intervalMs;
      try {
        await task();
        record.succeeded();
      } catch (error) {
        delay = backoffMs(record.failures + 1, intervalMs, Math.max(intervalMs, 300_000));
        record.failed(error, delay);
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, delay);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  })();
  return {
    async stop() {
      running = false;
      wake();
      await loop;
    },
    health: () => record.health,
  };
}
