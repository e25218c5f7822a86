import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { openDatabase } from '../../local/sqlite.ts';
import { SqliteQueue } from '../../local/sqlite-queue.ts';
import { SqliteStore } from '../../local/sqlite-store.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { reportDeadLetters } from '../../service/dead-letters.ts';
import { mintToken } from '../../service/tokens.ts';
import { testDeps } from '../support/deps.ts';
import { someEvent as event } from '../support/events.ts';

// What the service gave up on is visible, with why, and can be tried again: the local queues keep each
// message's last error; the status API shows and replays dead letters for administrators only.

const SECRET = 'dead-letters-secret-of-32-bytes-at-least';
const setup = () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-dead-')), 'db'));
  const events = new SqliteQueue<Event>(db, 'events', { maxReceives: 2 });
  const commands = new SqliteQueue<Command>(db, 'commands', { maxReceives: 2 });
  const store = new SqliteStore(db);
  const app = createApp({
    events,
    store,
    config: parseServiceConfig({}),
    secret: SECRET,
    deadLetters: {
      list: async () => ({ events: events.deadLetterList(), commands: commands.deadLetterList() }),
      replay: (queue, id) => (queue === 'events' ? events : commands).replay(id),
    },
  });
  return { db, events, commands, store, app };
};

/** Receives and fails a message until the queue buries it (maxReceives 2). */
async function kill(queue: SqliteQueue<Event>, reason: (n: number) => string) {
  for (let n = 1; n <= 2; n++) {
    const [m] = await queue.receive(1, 0);
    await queue.fail(m!.receipt, reason(n));
  }
  expect(await queue.receive(1, 0)).toEqual([]);
}

describe('dead letters', () => {
  it('keep their last error, and a replay puts one back as new', async () => {
    const { events } = setup();
    await events.send([{ id: 'e1', body: event('e1') }]);
    await kill(events, (n) => `results of job(s) 5 of run 1 not recorded yet (try ${n})`);
    expect(events.deadLetterList()).toEqual([
      expect.objectContaining({
        id: 'e1',
        receives: 2,
        lastError: 'results of job(s) 5 of run 1 not recorded yet (try 2)',
      }),
    ]);
    expect(events.stats().dead).toBe(1);
    expect(await events.replay('e1')).toBe(true);
    expect(await events.replay('e1')).toBe(false);
    const [again] = await events.receive(1, 0);
    expect(again?.body.id).toBe('e1');
    expect(again?.receiveCount).toBe(1);
  });

  it('a 0.2 database gets the last-error column on start', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rebound-dead-')), 'db');
    const old = new Database(file);
    old.exec(`CREATE TABLE q_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, grp TEXT,
      body TEXT NOT NULL, visible_at INTEGER NOT NULL, receives INTEGER NOT NULL DEFAULT 0,
      state TEXT NOT NULL DEFAULT 'ready', created_at INTEGER NOT NULL)`);
    old.close();
    const queue = new SqliteQueue<Event>(openDatabase(file), 'events');
    expect(queue.deadLetterList()).toEqual([]);
  });

  it('the status API shows and replays them for administrators only', async () => {
    const { events, store, app } = setup();
    await events.send([{ id: 'e2', body: event('e2') }]);
    await kill(events, () => 'boom');
    const admin = await mintToken(store, { user: 'root', uid: 0, admin: true }, new Date());
    const alice = await mintToken(store, { user: 'alice', uid: 1501, admin: false }, new Date());
    const as = (token: string, path = '/v1/dead-letters', method = 'GET') =>
      app.request(path, { method, headers: { authorization: `Bearer ${token}` } });
    expect((await as(alice)).status).toBe(403);
    const listed = (await (await as(admin)).json()) as { events: { id: string; lastError: string }[] };
    expect(listed.events).toEqual([expect.objectContaining({ id: 'e2', lastError: 'boom' })]);
    expect((await as(admin, '/v1/dead-letters/bogus/e2/replay', 'POST')).status).toBe(400);
    expect((await as(admin, '/v1/dead-letters/commands/e2/replay', 'POST')).status).toBe(404);
    expect((await as(alice, '/v1/dead-letters/events/e2/replay', 'POST')).status).toBe(403);
    expect(await (await as(admin, '/v1/dead-letters/events/e2/replay', 'POST')).json()).toEqual({
      replayed: true,
    });
    expect(events.stats()).toMatchObject({ dead: 0, ready: 1 });
  });

  it('in AWS the API says where they are instead', async () => {
    const { events, store } = setup();
    const app = createApp({ events, store, config: parseServiceConfig({}), secret: SECRET });
    const admin = await mintToken(store, { user: 'root', uid: 0, admin: true }, new Date());
    const res = await app.request('/v1/dead-letters', { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(501);
    expect((await res.json()).error).toMatch(/redrive them from the console/);
  });

  it('make their workload need attention, once, with why and how to try again', async () => {
    const deps = testDeps();
    const letters = {
      events: [
        {
          id: 'e3',
          receives: 5,
          lastError: 'results of job(s) 5 of run 1 not recorded yet',
          createdAt: 't',
          body: event('e3'),
        },
        {
          id: 'census-7',
          receives: 5,
          createdAt: 't',
          body: {
            ...event('census-7'),
            type: 'torc.workflow.census',
            data: {
              workflowId: 7,
              observedAt: '2026-11-30T12:00:00Z',
              liveAllocations: 0,
              ready: [],
              resourceRequirements: [],
            },
          },
        },
      ],
      commands: [
        {
          id: 'lab:7:a1',
          receives: 5,
          lastError: 'sbatch exited 1',
          createdAt: 't',
          body: { workload: 'nightly' },
        },
      ],
    };
    expect(await reportDeadLetters(deps, letters)).toBe(3);
    expect(await reportDeadLetters(deps, letters)).toBe(0);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
    expect((await deps.store.listHistory('nightly')).map((h) => h.line)).toEqual([
      'Command lab:7:a1 was given up after 5 tries: sbatch exited 1. Fix the cause, then: rebound dead-letters --replay lab:7:a1',
    ]);
    expect(await deps.store.getWorkload('torc-wf7')).toMatchObject({
      kind: 'torc',
      status: 'needs-attention',
    });
    // An event of a job nobody recorded belongs to ~untagged: still somebody's to look at.
    expect((await deps.store.listHistory('~untagged')).map((h) => h.line)).toEqual([
      'Event e3 was given up after 5 tries: results of job(s) 5 of run 1 not recorded yet. Fix the cause, then: rebound dead-letters --replay e3',
    ]);
  });
});
