import type Database from 'better-sqlite3';
import type { DeadLetter, MessageQueue, QueueMessage } from '../core/ports.ts';
import { type GroupCommit, groupCommit } from './group-commit.ts';

export interface SqliteQueueOptions {
  /** After this many receives a message moves to the dead letters (SQS maxReceiveCount). */
  maxReceives?: number;
  /** Delivered ids are kept this long so a repeat is still recognised. */
  retainSeconds?: number;
}

/**
 * A durable at-least-once queue in SQLite. Sends, leases and deletes are group-committed with every other
 * write to the database in the same event-loop turn (group-commit.ts).
 */
export class SqliteQueue<T> implements MessageQueue<T> {
  private readonly writer: GroupCommit;
  private readonly maxReceives: number;
  private readonly retainMs: number;
  /** Statements prepared once: receive and delete run for every message. */
  private readonly sql;

  constructor(
    private readonly db: Database.Database,
    private readonly name: string,
    options: SqliteQueueOptions = {},
  ) {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`bad queue name ${name}`);
    this.maxReceives = options.maxReceives ?? 5;
    this.retainMs = (options.retainSeconds ?? 86_400) * 1000;
    db.exec(`CREATE TABLE IF NOT EXISTS q_${name} (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, grp TEXT, body TEXT NOT NULL,
      visible_at INTEGER NOT NULL, receives INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'ready',
      created_at INTEGER NOT NULL);
      DROP INDEX IF EXISTS q_${name}_ready;
      CREATE INDEX IF NOT EXISTS q_${name}_next ON q_${name} (state, seq);`);
    // 0.3: why a message last failed (a database from 0.2 gets the column on start).
    const columns = db.prepare(`PRAGMA table_info(q_${name})`).all() as { name: string }[];
    if (!columns.some((c) => c.name === 'last_error'))
      db.exec(`ALTER TABLE q_${name} ADD COLUMN last_error TEXT`);
    this.writer = groupCommit(db);
    const t = `q_${name}`;
    this.sql = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO ${t} (id, grp, body, visible_at, created_at) VALUES (?, ?, ?, ?, ?)`,
      ),
      bury: db.prepare(`UPDATE ${t} SET state = 'dead' WHERE seq = ?`),
      purge: db.prepare(`DELETE FROM ${t} WHERE state = 'done' AND visible_at < ?`),
      // Walks the ready messages in order and stops at `max` visible ones: no sort of the whole backlog
      // (an index on visible_at made every receive sort it).
      ready: db.prepare(
        `SELECT seq, body, receives FROM ${t} WHERE state = 'ready' AND visible_at <= ? ORDER BY seq LIMIT ?`,
      ),
      lease: db.prepare(`UPDATE ${t} SET visible_at = ?, receives = receives + 1 WHERE seq = ?`),
      // Only the latest receive may delete: a receipt from before a redelivery is stale.
      done: db.prepare(
        `UPDATE ${t} SET state = 'done', visible_at = ? WHERE seq = ? AND receives = ? AND state = 'ready'`,
      ),
      fail: db.prepare(`UPDATE ${t} SET last_error = ? WHERE seq = ? AND receives = ?`),
      replay: db.prepare(
        `UPDATE ${t} SET state = 'ready', receives = 0, visible_at = ?, last_error = NULL WHERE id = ? AND state = 'dead'`,
      ),
    };
  }

  send(messages: { id: string; body: T; group?: string }[]): Promise<void> {
    const rows = messages.map((m) => [m.id, m.group ?? null, JSON.stringify(m.body)] as const);
    return this.writer.run(() => {
      const now = Date.now();
      for (const [id, group, body] of rows) this.sql.insert.run(id, group, body, now, now);
    });
  }

  receive(max: number, visibilitySeconds: number): Promise<QueueMessage<T>[]> {
    return this.writer.run(() => {
      const now = Date.now();
      const rows = this.sql.ready.all(now, max) as { seq: number; body: string; receives: number }[];
      // A message received maxReceives times without a delete is dead-lettered when it comes up again
      // (checked here, per row, rather than by scanning a backlog on every receive).
      const live = rows.filter((r) => {
        if (r.receives < this.maxReceives) return true;
        this.sql.bury.run(r.seq);
        return false;
      });
      for (const r of live) this.sql.lease.run(now + visibilitySeconds * 1000, r.seq);
      return live.map((r) => ({
        body: JSON.parse(r.body) as T,
        receipt: `${r.seq}:${r.receives + 1}`,
        receiveCount: r.receives + 1,
      }));
    });
  }

  delete(receipt: string): Promise<void> {
    const [seq, receives] = receipt.split(':').map(Number);
    return this.writer.run(() => {
      this.sql.done.run(Date.now(), seq, receives);
    });
  }

  /** Why the receive behind `receipt` did not succeed: kept for the dead letters, if it comes to that. */
  fail(receipt: string, reason: string): Promise<void> {
    const [seq, receives] = receipt.split(':').map(Number);
    return this.writer.run(() => {
      this.sql.fail.run(reason.slice(0, 2000), seq, receives);
    });
  }

  /** The dead letters with their last error, oldest first. */
  deadLetterList(): DeadLetter[] {
    const rows = this.db
      .prepare(
        `SELECT id, body, receives, last_error, created_at FROM q_${this.name} WHERE state = 'dead' ORDER BY seq`,
      )
      .all() as {
      id: string;
      body: string;
      receives: number;
      last_error: string | null;
      created_at: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      receives: r.receives,
      ...(r.last_error ? { lastError: r.last_error } : {}),
      createdAt: new Date(r.created_at).toISOString(),
      body: JSON.parse(r.body) as unknown,
    }));
  }

  /** Puts a dead letter back in the queue, as new (its receives start again). False when there is none. */
  replay(id: string): Promise<boolean> {
    return this.writer.run(() => this.sql.replay.run(Date.now(), id).changes === 1);
  }

  /** Forgets delivered ids older than the retention (housekeeping; a repeat after that is new again). */
  purge(): number {
    return this.sql.purge.run(Date.now() - this.retainMs).changes;
  }

  async deadLetters(): Promise<T[]> {
    const rows = this.db
      .prepare(`SELECT body FROM q_${this.name} WHERE state = 'dead' ORDER BY seq`)
      .all() as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as T);
  }

  /** What /healthz shows: messages waiting, leased (being handled), and dead-lettered. */
  stats(now = Date.now()): { ready: number; leased: number; dead: number } {
    const row = this.db
      .prepare(
        `SELECT coalesce(sum(state = 'ready' AND visible_at <= ?), 0) ready,
                coalesce(sum(state = 'ready' AND visible_at > ?), 0) leased,
                coalesce(sum(state = 'dead'), 0) dead
         FROM q_${this.name} WHERE state IN ('ready', 'dead')`,
      )
      .get(now, now) as { ready: number; leased: number; dead: number };
    return row;
  }
}
