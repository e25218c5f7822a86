// A server for bench:ingest, in its own process so the load generator does not share its event loop.
//   bare:    Hono answering 202 without reading the body (the ceiling)
//   rebound: the real app (signature, zod, group-committed SQLite with synchronous=FULL) plus the local
//            worker loop, which turns each jobcomp event into a relay command (event → command latency)

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Command } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { createApp } from '../functions/app.ts';
import { ingestFirst } from '../local/ingest-first.ts';
import { openDatabase } from '../local/sqlite.ts';
import { SqliteQueue } from '../local/sqlite-queue.ts';
import { SqliteStore } from '../local/sqlite-store.ts';
import { startWorker } from '../local/worker-loop.ts';
import { parseServiceConfig } from '../service/config.ts';

const mode = process.argv[2];
const secret = 'bench-secret-of-at-least-32-bytes-0123';
let fetchHandler: (req: Request) => Response | Promise<Response>;
let latencies: number[] = [];
/** How long the server took over each request (from its arrival to its answer): the client's harness left out. */
let served: number[] = [];
let commandsMade = 0;
let lastCommandAt = 0;

if (mode === 'bare') {
  const app = new Hono();
  app.post('/v1/events', (c) => c.json({ accepted: 1 }, 202));
  fetchHandler = app.fetch;
} else {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-bench-')), 'db'));
  const store = new SqliteStore(db);
  const events = new SqliteQueue<Event>(db, 'events');
  const commands = new SqliteQueue<Command>(db, 'commands');
  const config = parseServiceConfig({});
  const webhook = ingestFirst(createApp({ events, store, config, secret }).fetch);
  fetchHandler = webhook.fetch;
  // Event → command latency, measured where the command becomes durable: the event id carries the
  // client's send time (bench:<n>:<epoch ms>) and the enrich command names its event.
  const send = commands.send.bind(commands);
  commands.send = async (messages) => {
    await send(messages);
    const now = Date.now();
    for (const m of messages) {
      if (m.body.type !== 'slurm.enrich') continue;
      latencies.push(now - Number(m.body.eventId.split(':')[2]));
      commandsMade++;
      lastCommandAt = now;
    }
  };
  startWorker(events, { store, commands, config, now: () => new Date() }, console.error, webhook.quiet);
}

const timed = async (req: Request) => {
  const started = performance.now();
  const res = await fetchHandler(req);
  served.push(performance.now() - started);
  return res;
};
const server = serve({ fetch: timed, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.send?.({ port: info.port });
});
process.on('message', (m: string) => {
  // Latencies since the last ask (one phase), and how far the worker has got.
  if (m === 'stats') {
    process.send?.({ latencies, served, commandsMade, lastCommandAt });
    latencies = [];
    served = [];
  }
  if (m === 'exit') server.close(() => process.exit(0));
});
