import { Agent, request } from 'node:http';

// A steady load for bench:ingest: POSTs evenly spaced in time. autocannon's `overallRate` is not that: it
// gives each of its connections its share of the rate and sends the connections' requests together, so
// "2,000 events/s over 32 connections" arrives as bursts of up to 32 requests within 0.2 ms every 16 ms
// (measured at the server: 93 % of the gaps between arrivals under 0.2 ms). A burst is answered when its
// last request is, which made the POST p99 a figure of the burst's size, not of the server at that rate.

export interface PacedLoad {
  /** Milliseconds from each request's scheduled time to its answer's end: a send that is late because
   *  every connection was busy counts against the server (no coordinated omission). */
  latencies: number[];
  non202: number;
}

/** `rate` POSTs a second for `seconds`, over at most `connections` kept-alive connections. */
export async function pacedLoad(opts: {
  url: string;
  rate: number;
  seconds: number;
  connections: number;
  request: () => { body: string; headers: Record<string, string> };
}): Promise<PacedLoad> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const interval = 1000 / opts.rate;
  const total = Math.round(opts.rate * opts.seconds);
  const latencies: number[] = [];
  let non202 = 0;
  let answered = 0;
  const start = performance.now();
  const post = (due: number) => {
    const { body, headers } = opts.request();
    const length = { 'content-length': String(Buffer.byteLength(body)) };
    const req = request(opts.url, { method: 'POST', agent, headers: { ...headers, ...length } }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(performance.now() - due);
        if (res.statusCode !== 202) non202++;
        answered++;
      });
    });
    req.on('error', () => {
      non202++;
      answered++;
    });
    req.end(body);
  };
  // Node's timers tick about once a millisecond: each tick sends every request now due (two at 2,000/s).
  await new Promise<void>((done) => {
    let sent = 0;
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) post(start + sent++ * interval);
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
      else done();
    };
    tick();
  });
  while (answered < total) await new Promise((r) => setTimeout(r, 5));
  agent.destroy();
  return { latencies, non202 };
}
