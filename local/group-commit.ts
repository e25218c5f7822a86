import { fdatasync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';

interface Pending {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Makes what was committed so far durable, then calls back (an error: it may not be). */
export type Sync = (done: (error?: Error | null) => void) => void;

/**
 * Group commit for one database: every write started in the same event-loop turn, by any request or loop
 * (webhook enqueues, the worker's state writes, leases, deletes), runs in one transaction. Each write is a
 * savepoint of its own: one that throws is rolled back and rejects alone. A write's promise resolves only
 * once it is durable: the commit writes the WAL (synchronous=NORMAL, local/sqlite.ts), and the WAL's
 * fdatasync runs on libuv's thread pool, one for all the batches committed while the previous one ran — the
 * event loop never waits on the disk (it did: ~37 % of the webhook's time at saturation was the commit's
 * fsync).
 */
export class GroupCommit {
  private pending: Pending[] = [];
  /** Committed batches whose durability is not yet known, with their outcomes. */
  private unsynced: { batch: Pending[]; outcomes: Outcome[] }[] = [];
  private syncing = false;
  /** Called when nothing is pending, committed unsynced or syncing (see drained). */
  private idle: (() => void)[] = [];
  private readonly commit;
  private readonly commitEach;

  constructor(
    private readonly db: Database.Database,
    private readonly sync: Sync,
  ) {
    // Fast path: the batch as one transaction. Writes rarely throw (inserts are OR IGNORE/REPLACE), and a
    // savepoint per write costs two more statements each; so only when one throws is the batch rolled back
    // and redone write by write, each in its own savepoint.
    this.commit = db.transaction((batch: Pending[]): Outcome[] =>
      batch.map((p) => ({ ok: true, value: p.write() })),
    );
    this.commitEach = db.transaction((batch: Pending[]): Outcome[] =>
      batch.map((p) => {
        try {
          return { ok: true, value: this.db.transaction(p.write)() };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ write, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    let outcomes: Outcome[];
    try {
      try {
        outcomes = this.commit(batch);
      } catch {
        outcomes = this.commitEach(batch);
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
      this.syncNext();
      return;
    }
    this.unsynced.push({ batch, outcomes });
    this.syncNext();
  }

  /** Resolves once every write started so far is settled (before the database is closed). */
  drained(): Promise<void> {
    if (!this.pending.length && !this.unsynced.length && !this.syncing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** One sync at a time; the batches committed before it started are settled when it ends. */
  private syncNext(): void {
    if (!this.syncing && !this.unsynced.length && !this.pending.length) {
      for (const done of this.idle.splice(0)) done();
      return;
    }
    if (this.syncing || this.unsynced.length === 0) return;
    const covered = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    this.sync((error) => {
      this.syncing = false;
      for (const { batch, outcomes } of covered)
        batch.forEach((p, i) => {
          const o = outcomes[i]!;
          // Committed but perhaps not on disk: the caller must not take it as accepted.
          if (error)
            p.reject(new Error(`the database's write-ahead log could not be synced: ${error.message}`));
          else if (o.ok) p.resolve(o.value);
          else p.reject(o.error);
        });
      this.syncNext();
    });
  }
}

const writers = new WeakMap<Database.Database, GroupCommit>();
const walFiles = new WeakMap<Database.Database, number>();

/** The open handle on the database's WAL file, if its group commit opened one (closeDatabase closes it). */
export const walFileOf = (db: Database.Database) => walFiles.get(db);

/**
 * How a database's commits become durable: its WAL file fdatasynced on the thread pool when SQLite leaves that
 * to us (WAL mode, synchronous=NORMAL); otherwise SQLite's own commit did it, or there is no disk.
 */
function syncOf(db: Database.Database): Sync {
  const walMode = db.pragma('journal_mode', { simple: true }) === 'wal';
  const normal = db.pragma('synchronous', { simple: true }) === 1;
  if (db.memory || !walMode || !normal) return (done) => done();
  return (done) => {
    // Opened at the first sync: by then a commit has created the file. The file stays while the database
    // is open (SQLite only resets it, in place), so one handle serves its life.
    let fd = walFiles.get(db);
    if (fd === undefined) {
      try {
        fd = openSync(`${db.name}-wal`, 'r');
      } catch (error) {
        done(error as Error);
        return;
      }
      walFiles.set(db, fd);
    }
    fdatasync(fd, done);
  };
}

/** The database's one group committer, shared by its queues and its store. */
export function groupCommit(db: Database.Database, sync: Sync = syncOf(db)): GroupCommit {
  let writer = writers.get(db);
  if (!writer) {
    writer = new GroupCommit(db, sync);
    writers.set(db, writer);
  }
  return writer;
}
