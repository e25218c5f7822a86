/**
 * Runs `task` now and then every `intervalMs` after the previous run ends (never overlapping), until
 * stopped. A failing run is logged and retried at the next interval: one bad poll must not end the loop.
 */
export function every(
  name: string,
  intervalMs: number,
  task: () => Promise<unknown>,
  log: (line: string) => void,
): { stop(): Promise<void> } {
  let running = true;
  let wake: () => void = () => {};
  const loop = (async () => {
    while (running) {
      try {
        await task();
      } catch (error) {
        log(`${name}: ${(error as Error).message} (retrying in ${Math.round(intervalMs / 1000)} s)`);
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, intervalMs);
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
  };
}
