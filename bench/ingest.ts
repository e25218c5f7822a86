// bench:ingest — signed events/s and p50/p99 latency of POST /v1/events on loopback, event → relay-command
// latency, and the same load against a bare Hono app, with the ratio. Targets (2 cores): ≥ 10,000 durably
// committed events/s, ≥ 35 % of bare Hono, p99 < 15 ms, event → command < 1 s.
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { signedHeaders } from '../service/signature.ts';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 32;

async function startServer(mode: string) {
  const child = fork(join(import.meta.dirname, 'ingest-server.ts'), [mode], {
    execArgv: ['--import', 'tsx'],
  });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  return { child, port };
}

let seq = 0;
function load(port: number) {
  return autocannon({
    url: `http://127.0.0.1:${port}/v1/events`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [
      {
        method: 'POST',
        setupRequest: (req: autocannon.Request) => {
          const id = ++seq;
          const body = JSON.stringify({
            id: `bench:${id}`,
            version: 1,
            source: 'jobcomp',
            occurredAt: new Date().toISOString(),
            cluster: 'bench',
            type: 'slurm.jobcomp',
            data: {
              jobId: String(id),
              jobName: 'bench',
              state: 'OUT_OF_MEMORY',
              exitCode: '0:125',
              timeLimit: '00:10:00',
            },
          });
          return { ...req, body, headers: signedHeaders('bench-secret', body) };
        },
      },
    ],
  });
}

const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? Number.NaN;

const results: Record<string, { rps: number; p50: number; p99: number; non2xx: number }> = {};
for (const mode of ['bare', 'rebound']) {
  const { child, port } = await startServer(mode);
  const r = await load(port);
  results[mode] = { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx };
  if (mode === 'rebound') {
    await new Promise((r) => setTimeout(r, 3000));
    child.send('latencies');
    const { latencies } = await new Promise<{ latencies: number[] }>((r) => child.once('message', r));
    latencies.sort((a, b) => a - b);
    console.log(
      `event → relay command: ${latencies.length} events, p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms (target < 1000 ms)`,
    );
  }
  child.send('exit');
}
const bare = results.bare!;
const rebound = results.rebound!;
console.log(`bare Hono:   ${bare.rps.toFixed(0)} req/s, p50 ${bare.p50} ms, p99 ${bare.p99} ms`);
console.log(
  `Rebound:     ${rebound.rps.toFixed(0)} events/s durably queued, p50 ${rebound.p50} ms, p99 ${rebound.p99} ms, non-202: ${rebound.non2xx} (targets ≥ 10000/s, p99 < 15 ms)`,
);
console.log(`ratio:       ${((rebound.rps / bare.rps) * 100).toFixed(1)} % of bare Hono (target ≥ 35 %)`);
