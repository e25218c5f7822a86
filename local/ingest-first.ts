/**
 * Webhook first: while requests are arriving, the local worker (same event loop) holds back for up to
 * `maxDeferMs` per batch. Accepting an event is what a hook waits on; deciding can lag a burst by a second
 * because the queue holds every accepted event. Under sustained overload the worker still gets a batch
 * per `maxDeferMs`, so it never starves.
 */
export function ingestFirst(fetch: (req: Request) => Response | Promise<Response>, maxDeferMs = 100) {
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
