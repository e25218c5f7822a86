// bench:ingest — on loopback, against servers in their own processes, three runs (issue 14 judges the
// median of each figure):
//   1. bare Hono answering 202 without reading the body: the ceiling at saturation (autocannon, 32
//      connections), and at the steady rate the floor of this harness's POST latency (evenly spaced POSTs
//      from Node's HTTP client, bench/paced-load.ts, on the same 2 cores);
//   2. Rebound at saturation: signed events/s durably queued and POST latency, then how fast the worker
//      turns the backlog into relay commands;
//   3. Rebound at a steady 2,000 events/s, worker on: POST latency as the client sees it and as the server
//      spends it, and event → relay command latency.
// Issue 14's target 4 is printed in its words; what is met is a hard target, what is not yet met is held
// at today's figure so that nothing slips unnoticed.

import { fork } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { signedHeaders } from '../service/signature.ts';
import { pacedLoad } from './paced-load.ts';
import { target, verdict } from './targets.ts';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 2000);
const CONNECTIONS = 32;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

type Stats = { latencies: number[]; served: number[]; commandsMade: number; lastCommandAt: number };

async function startServer(mode: string) {
  const child = fork(join(import.meta.dirname, 'ingest-server.ts'), [mode], {
    execArgv: ['--import', 'tsx'],
  });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const stats = () => {
    child.send('stats');
    return new Promise<Stats>((r) => child.once('message', r));
  };
  return { child, port, stats };
}

let seq = 0;
/** One signed jobcomp event; its id carries the send time, so the server can time event → command. */
function eventRequest(): { body: string; headers: Record<string, string> } {
  const id = ++seq;
  const body = JSON.stringify({
    id: `bench:${id}:${Date.now()}`,
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
  return { body, headers: signedHeaders('bench-secret-of-at-least-32-bytes-0123', body) };
}

/** As many POSTs as 32 connections can make (saturation). */
function saturate(port: number) {
  return autocannon({
    url: `http://127.0.0.1:${port}/v1/events`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [
      {
        method: 'POST',
        setupRequest: (req: autocannon.Request) => ({ ...req, ...eventRequest() }),
      },
    ],
  });
}

/** STEADY_RATE POSTs a second, evenly spaced (bench/paced-load.ts says why not autocannon's rate). */
const steadily = (port: number) =>
  pacedLoad({
    url: `http://127.0.0.1:${port}/v1/events`,
    rate: STEADY_RATE,
    seconds: DURATION,
    connections: CONNECTIONS,
    request: eventRequest,
  });

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? Number.NaN;
const median = (xs: number[]) => pct(xs, 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  bareRps: number;
  /** Bare Hono's POST p99 at the steady rate: the harness's floor. */
  floorP99: number;
  rps: number;
  share: number;
  saturationP99: number;
  non202: number;
  drainSeconds: number;
  commandsMade: number;
  accepted: number;
  steadyP99: number;
  serverP99: number;
  commandP50: number;
  commandP99: number;
  commandMax: number;
  steadyEvents: number;
}

async function run(): Promise<Run> {
  const bare = await startServer('bare');
  const ceiling = await saturate(bare.port);
  const floor = await steadily(bare.port);
  bare.child.send('exit');

  const rebound = await startServer('rebound');
  const burstStart = Date.now();
  const burst = await saturate(rebound.port);
  const accepted = burst.requests.total - burst.non2xx;
  let s = await rebound.stats();
  while (s.commandsMade < accepted && Date.now() - burstStart < 120_000) {
    await sleep(250);
    s = await rebound.stats();
  }
  const steady = await steadily(rebound.port);
  await sleep(1000);
  const { latencies, served } = await rebound.stats();
  rebound.child.send('exit');
  return {
    bareRps: ceiling.requests.average,
    floorP99: pct(floor.latencies, 99),
    rps: burst.requests.average,
    share: (burst.requests.average / ceiling.requests.average) * 100,
    saturationP99: burst.latency.p99,
    non202: burst.non2xx + steady.non202,
    drainSeconds: (s.lastCommandAt - burstStart) / 1000,
    commandsMade: s.commandsMade,
    accepted,
    steadyP99: pct(steady.latencies, 99),
    serverP99: pct(served, 99),
    commandP50: pct(latencies, 50),
    commandP99: pct(latencies, 99),
    commandMax: pct(latencies, 100),
    steadyEvents: latencies.length,
  };
}

const runs: Run[] = [];
for (let i = 1; i <= RUNS; i++) {
  const r = await run();
  runs.push(r);
  console.log(
    `run ${i}: bare Hono ${r.bareRps.toFixed(0)} req/s; Rebound ${r.rps.toFixed(0)} events/s (${r.share.toFixed(1)} %), POST p99 ${r.saturationP99} ms, non-202 ${r.non202}; backlog of ${r.accepted} turned into commands in ${r.drainSeconds.toFixed(1)} s (${(r.commandsMade / r.drainSeconds).toFixed(0)} events/s); at ${STEADY_RATE}/s: POST p99 ${r.steadyP99.toFixed(1)} ms (bare Hono ${r.floorP99.toFixed(1)} ms, server-side ${r.serverP99.toFixed(1)} ms), event → command p50 ${r.commandP50} ms, p99 ${r.commandP99} ms, max ${r.commandMax} ms (${r.steadyEvents} events)`,
  );
}
const m = (f: (r: Run) => number) => median(runs.map(f));
const share = m((r) => r.share);
const saturationP99 = m((r) => r.saturationP99);
const steadyP99 = m((r) => r.steadyP99);
const floorP99 = m((r) => r.floorP99);
const serverP99 = m((r) => r.serverP99);
const commandP99 = m((r) => r.commandP99);
// The steady bound: 5 ms, or the harness's floor + 2 ms where the floor itself is above 3 ms.
const steadyBound = Math.max(5, floorP99 + 2);
const verdictOf = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log(`\nmedians of ${runs.length} runs (issue 14, target 4):`);
console.log(
  `  share of bare Hono at saturation  ${share.toFixed(1)} %  (target ≥ 50 %: ${verdictOf(share >= 50)})`,
);
console.log(
  `  POST p99 at saturation            ${saturationP99} ms  (target ≤ 10 ms: ${verdictOf(saturationP99 <= 10)})`,
);
console.log(
  `  POST p99 at ${STEADY_RATE} events/s         ${steadyP99.toFixed(1)} ms  (bare Hono's, the harness's floor: ${floorP99.toFixed(1)} ms; server-side ${serverP99.toFixed(1)} ms; target ≤ ${steadyBound.toFixed(1)} ms: ${verdictOf(steadyP99 <= steadyBound)})`,
);
console.log(
  `  event → command p99 at ${STEADY_RATE}/s    ${commandP99} ms  (target ≤ 250 ms: ${verdictOf(commandP99 <= 250)})`,
);
target('POST p99 at saturation (median)', saturationP99, '<', 10.001, 'ms');
target('event → command p99 at a steady rate (median)', commandP99, '<', 250.001, 'ms');
target('non-202 answers', Math.max(...runs.map((r) => r.non202)), '<', 1, '');
// Not yet the issue's: held where they are today (README "Performance"). The share lost ~2 points when the
// worker got a turn every 25 ms instead of 100 (local/ingest-first.ts), which keeps it up with a steady
// stream; the steady p99 is at the bound on one machine (4.7 ms) and above it on another (5.3).
target(
  "share of bare Hono at saturation (median; today's floor, not the issue's 50 %)",
  share,
  '>=',
  33,
  '%',
);
target(
  `POST p99 at ${STEADY_RATE}/s (median; today's ceiling, not the issue's 5 ms or floor + 2)`,
  steadyP99,
  '<',
  7,
  'ms',
);
verdict('bench:ingest');
