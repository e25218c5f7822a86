/**
 * Webhook first: while requests are arriving, the local worker (same event loop) holds back for up to
 * `maxDeferMs` per batch. Accepting an event is what a hook waits on; deciding can lag a burst because the
 * queue holds every accepted event. Under a steady stream (never 2 ms without a request) the worker still
 * gets a batch of up to 100 per `maxDeferMs`: 25 ms keeps it ahead of 2,000 events/s, evenly spaced
 * (event → command p99 65 ms, `npm run bench:ingest`), where 100 ms let it fall behind by seconds.
 */
export function ingestFirst(fetch: (req: Request) => Response | Promise<Response>, maxDeferMs = 25) {
  let inFlight = 0;
  let lastArrival = 0;
  return {
    fetch: async (req: Request) => {
      inFlight++;
      lastArrival = performance.now();
      try {
        return await fetch(req);
      } finally {
        inFlight--;
      }
    },
    /** Resolves when the webhook is quiet (no request in flight or in the last 2 ms), or after maxDeferMs. */
    async quiet(): Promise<void> {
      const until = performance.now() + maxDeferMs;
      while ((inFlight > 0 || performance.now() - lastArrival < 2) && performance.now() < until)
        await new Promise((r) => setTimeout(r, 1));
    },
  };
}
