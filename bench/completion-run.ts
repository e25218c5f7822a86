// The child of bench/completion.ts, bundled and run by plain Node as the worker runs in Lambda: opens the
// seeded database, hands the worker a workflow's completion pages (the last one plans and writes the
// recovery) and prints what that took: wall time, the last page's time, and the peak RSS of the process.
import { readFileSync } from 'node:fs';
import type { Command } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { KESTREL } from '../core/profiles.ts';
import { openDatabase } from '../local/sqlite.ts';
import { SqliteQueue } from '../local/sqlite-queue.ts';
import { SqliteStore } from '../local/sqlite-store.ts';
import { parseServiceConfig } from '../service/config.ts';
import { handleEvent } from '../service/dispatch.ts';

const [dbPath, pagesPath] = process.argv.slice(2);
const db = openDatabase(dbPath!);
const deps = {
  store: new SqliteStore(db),
  commands: new SqliteQueue<Command>(db, 'commands'),
  config: parseServiceConfig({ profile: KESTREL }),
  now: () => new Date(),
};
const pages = JSON.parse(readFileSync(pagesPath!, 'utf8')) as Event[];
const startRss = process.memoryUsage().rss;
const started = performance.now();
let lastMs = 0;
for (const page of pages) {
  const t = performance.now();
  await handleEvent(deps, page);
  lastMs = performance.now() - t;
}
const commands = await deps.commands.receive(10, 1);
console.log(
  JSON.stringify({
    totalMs: performance.now() - started,
    lastPageMs: lastMs,
    startRssMb: startRss / 2 ** 20,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    commands: commands.map((c) => c.body.type),
  }),
);
