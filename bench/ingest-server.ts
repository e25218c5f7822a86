// A server for bench:ingest, in its own process so the load generator does not share its event loop.
//   bare:    Hono answering 202 without reading the body (the ceiling)
//   rebound: the real app (signature, zod, group-committed SQLite with synchronous=FULL) plus the worker,
//            which turns each jobcomp event into a relay command (event → command latency)
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { createApp } from '../functions/app.ts';
import { openDatabase } from '../local/sqlite.ts';
import { SqliteQueue } from '../local/sqlite-queue.ts';
import { SqliteStore } from '../local/sqlite-store.ts';
import { parseServiceConfig } from '../service/config.ts';
import { handleEvent } from '../service/worker.ts';

const mode = process.argv[2];
const secret = 'bench-secret';
let fetchHandler: (req: Request) => Response | Promise<Response>;
const latencies: number[] = [];

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
  fetchHandler = createApp({ events, store, config, secret }).fetch;
  const deps = { store, commands, config, now: () => new Date() };
  void (async () => {
    for (;;) {
      const batch = await events.receive(100, 60);
      if (!batch.length) await new Promise((r) => setTimeout(r, 5));
      for (const m of batch) {
        await handleEvent(deps, m.body);
        await events.delete(m.receipt);
        // occurredAt carries the client's send time: the command exists from here on.
        latencies.push(Date.now() - Date.parse(m.body.occurredAt));
      }
    }
  })();
}

const server = serve({ fetch: (req) => fetchHandler(req), port: 0, hostname: '127.0.0.1' }, (info) => {
  process.send?.({ port: info.port });
});
process.on('message', (m: string) => {
  if (m === 'latencies') process.send?.({ latencies });
  if (m === 'exit') server.close(() => process.exit(0));
});
