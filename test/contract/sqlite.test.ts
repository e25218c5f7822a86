import { fstatSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupCommit, walFileOf } from '../../local/group-commit.ts';
import { closeDatabase, openDatabase } from '../../local/sqlite.ts';
import { SqliteQueue } from '../../local/sqlite-queue.ts';
import { SqliteStore } from '../../local/sqlite-store.ts';
import { queueContract } from './queue.contract.ts';
import { storeContract } from './store.contract.ts';

const freshDb = () => openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-db-')), 'rebound.db'));

storeContract('SQLite', async () => new SqliteStore(freshDb()));
queueContract('SQLite', async (maxReceives) => new SqliteQueue(freshDb(), 'test', { maxReceives }));

describe('SQLite durability', () => {
  it('keeps accepted messages and state across a restart (reopened database)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rebound-db-')), 'rebound.db');
    const db = openDatabase(path);
    await new SqliteQueue(db, 'events').send([{ id: 'kept', body: { n: 1 } }]);
    await new SqliteStore(db).appendHistory([{ workload: 'w', at: 't', line: 'before restart' }]);
    await closeDatabase(db);
    const again = openDatabase(path);
    const [m] = await new SqliteQueue<{ n: number }>(again, 'events').receive(1, 30);
    expect(m?.body).toEqual({ n: 1 });
    expect((await new SqliteStore(again).listHistory('w')).map((h) => h.line)).toEqual(['before restart']);
  });
});

describe('SQLite migrations', () => {
  it("a database from before attempts had a source column gets it, filled from each attempt's record", async () => {
    const db = freshDb();
    db.exec(`CREATE TABLE attempts (lineage TEXT NOT NULL, attempt INTEGER NOT NULL, workload TEXT NOT NULL,
      json TEXT NOT NULL, PRIMARY KEY (lineage, attempt))`);
    const old = { lineage: 'torc:7', attempt: 1, workload: 'torc-wf7', source: 'torc-completed:7:r1' };
    db.prepare('INSERT INTO attempts (lineage, attempt, workload, json) VALUES (?, ?, ?, ?)').run(
      old.lineage,
      old.attempt,
      old.workload,
      JSON.stringify(old),
    );
    const store = new SqliteStore(db);
    expect(await store.findAttemptBySource('torc-wf7', 'torc-completed:7:r1')).toEqual(old);
  });
});

describe('SQLite housekeeping', () => {
  it('forgets delivered ids only after the retention, and expired processed-ids', async () => {
    const db = freshDb();
    const kept = new SqliteQueue<number>(db, 'kept');
    const short = new SqliteQueue<number>(db, 'short', { retainSeconds: -1 });
    for (const q of [kept, short]) {
      await q.send([{ id: 'a', body: 1 }]);
      const [m] = await q.receive(1, 30);
      await q.delete(m!.receipt);
    }
    expect(kept.purge()).toBe(0);
    expect(short.purge()).toBe(1);
    await kept.send([{ id: 'a', body: 2 }]);
    await short.send([{ id: 'a', body: 2 }]);
    expect(await kept.receive(1, 30)).toEqual([]);
    expect((await short.receive(1, 30)).map((m) => m.body)).toEqual([2]);

    const store = new SqliteStore(db);
    await store.markProcessed('old', new Date(Date.now() - 1));
    await store.markProcessed('new', new Date(Date.now() + 60_000));
    expect(store.purgeExpired()).toBe(1);
    expect(await store.wasProcessed('new')).toBe(true);
  });
});

describe('SQLite group commit', () => {
  it('commits the writes of one turn together; a failing write rolls back and rejects alone', async () => {
    const db = freshDb();
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    const writer = groupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.allSettled([
      writer.run(() => insert.run('a')),
      writer.run(() => {
        insert.run('b');
        insert.run('a'); // duplicate key: this write (b included) is undone
      }),
      writer.run(() => db.inTransaction && insert.run('c').changes),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[2]).toMatchObject({ value: 1 });
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual(['a', 'c']);
    expect(groupCommit(db)).toBe(writer);
  });

  it('resolves a committed write only once the log is synced, and not at all when the sync fails', async () => {
    const db = freshDb();
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    const syncs: ((error?: Error) => void)[] = [];
    const writer = groupCommit(db, (done) => syncs.push(done));
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const count = () => db.prepare('SELECT count(*) FROM t').pluck().get();
    let first = 'pending';
    const one = writer.run(() => insert.run('a')).then(() => (first = 'resolved'));
    await until(() => syncs.length === 1);
    // Committed (a reader sees it) but not yet durable: not resolved.
    expect(count()).toBe(1);
    // Writes committed while a sync runs wait for the next one, which starts when it ends.
    const two = writer.run(() => insert.run('b'));
    const three = writer.run(() => insert.run('c'));
    await until(() => count() === 3);
    expect([first, syncs.length]).toEqual(['pending', 1]);
    // Closing waits for this: nothing is settled yet.
    let drained = false;
    void writer.drained().then(() => (drained = true));
    syncs[0]!();
    await one;
    expect([first, drained]).toEqual(['resolved', false]);
    await until(() => syncs.length === 2);
    syncs[1]!(new Error('EIO'));
    await expect(two).rejects.toThrow("the database's write-ahead log could not be synced: EIO");
    await expect(three).rejects.toThrow('EIO');
    await until(() => drained);
  });

  it("syncs the database's WAL file itself, and closes its handle with the database", async () => {
    const db = freshDb();
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    await new SqliteQueue(db, 'events').send([{ id: 'x', body: 1 }]);
    const fd = walFileOf(db);
    expect(fd).toBeTypeOf('number');
    expect(fstatSync(fd!).size).toBeGreaterThan(0);
    await closeDatabase(db);
    expect(() => fstatSync(fd!)).toThrow(/EBADF/);
  });
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setImmediate(r));
  if (!done()) throw new Error('condition never held');
}

describe('SQLite queue stats (/healthz)', () => {
  it('counts waiting, leased and dead-lettered messages', async () => {
    const q = new SqliteQueue<number>(freshDb(), 'stats', { maxReceives: 1 });
    expect(q.stats()).toEqual({ ready: 0, leased: 0, dead: 0 });
    await q.send([
      { id: 'a', body: 1 },
      { id: 'b', body: 2 },
    ]);
    expect(q.stats()).toEqual({ ready: 2, leased: 0, dead: 0 });
    const [leased] = await q.receive(1, 30);
    expect(q.stats()).toEqual({ ready: 1, leased: 1, dead: 0 });
    await q.delete(leased!.receipt);
    await q.receive(1, 0);
    await new Promise((r) => setTimeout(r, 5));
    await q.receive(1, 30);
    expect(q.stats()).toEqual({ ready: 0, leased: 0, dead: 1 });
  });
});
