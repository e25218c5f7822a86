import type Database from 'better-sqlite3';
import type { MessageQueue, QueueMessage } from '../core/ports.ts';

export interface SqliteQueueOptions {
  /** After this many receives a message moves to the dead letters (SQS maxReceiveCount). */
  maxReceives?: number;
  /** Delivered ids are kept this long so a repeat is still recognised. */
  retainSeconds?: number;
}

/**
 * A durable at-least-once queue in SQLite. Concurrent sends are group-committed: every send of one event-loop
 * turn goes into a single transaction, so one fsync serves many requests.
 */
export class SqliteQueue<T> implements MessageQueue<T> {
  private pending: {
    rows: { id: string; body: T; group?: string }[];
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  private readonly maxReceives: number;
  private readonly retainMs: number;
  private readonly insert;
  private readonly flushAll;
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
      CREATE INDEX IF NOT EXISTS q_${name}_ready ON q_${name} (state, visible_at);`);
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO q_${name} (id, grp, body, visible_at, created_at) VALUES (?, ?, ?, ?, ?)`,
    );
    const t = `q_${name}`;
    this.sql = {
      bury: db.prepare(
        `UPDATE ${t} SET state = 'dead' WHERE state = 'ready' AND visible_at <= ? AND receives >= ?`,
      ),
      purge: db.prepare(`DELETE FROM ${t} WHERE state = 'done' AND visible_at < ?`),
      ready: db.prepare(
        `SELECT seq, body, receives FROM ${t} WHERE state = 'ready' AND visible_at <= ? ORDER BY seq LIMIT ?`,
      ),
      lease: db.prepare(`UPDATE ${t} SET visible_at = ?, receives = receives + 1 WHERE seq = ?`),
      // Only the latest receive may delete: a receipt from before a redelivery is stale.
      done: db.prepare(
        `UPDATE ${t} SET state = 'done', visible_at = ? WHERE seq = ? AND receives = ? AND state = 'ready'`,
      ),
    };
    this.flushAll = db.transaction((rows: { id: string; body: T; group?: string }[]) => {
      const now = Date.now();
      for (const r of rows) this.insert.run(r.id, r.group ?? null, JSON.stringify(r.body), now, now);
    });
  }

  send(messages: { id: string; body: T; group?: string }[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ rows: messages, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    try {
      this.flushAll(batch.flatMap((b) => b.rows));
      for (const b of batch) b.resolve();
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  async receive(max: number, visibilitySeconds: number): Promise<QueueMessage<T>[]> {
    const now = Date.now();
    return this.db.transaction(() => {
      this.sql.bury.run(now, this.maxReceives);
      const rows = this.sql.ready.all(now, max) as { seq: number; body: string; receives: number }[];
      for (const r of rows) this.sql.lease.run(now + visibilitySeconds * 1000, r.seq);
      return rows.map((r) => ({
        body: JSON.parse(r.body) as T,
        receipt: `${r.seq}:${r.receives + 1}`,
        receiveCount: r.receives + 1,
      }));
    })();
  }

  async delete(receipt: string): Promise<void> {
    const [seq, receives] = receipt.split(':').map(Number);
    this.sql.done.run(Date.now(), seq, receives);
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

  /** Messages not yet deleted (waiting or in flight), for status and tests. */
  depth(): number {
    return (
      this.db.prepare(`SELECT count(*) n FROM q_${this.name} WHERE state = 'ready'`).get() as { n: number }
    ).n;
  }
}
