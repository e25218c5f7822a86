import type Database from 'better-sqlite3';

interface Pending {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for one database: every write started in the same event-loop turn, by any request or loop
 * (webhook enqueues, the worker's state writes, leases, deletes), runs in one transaction, so one fsync
 * (synchronous=FULL) serves them all. Each write is a savepoint of its own: one that throws is rolled back
 * and rejects alone. A write's promise resolves only after the commit, i.e. once it is durable.
 */
export class GroupCommit {
  private pending: Pending[] = [];
  private readonly commit;
  private readonly commitEach;

  constructor(private readonly db: Database.Database) {
    // Fast path: the batch as one transaction. Writes rarely throw (inserts are OR IGNORE/REPLACE), and a
    // savepoint per write costs two more statements each; so only when one throws is the batch rolled back
    // and redone write by write, each in its own savepoint.
    this.commit = db.transaction((batch: Pending[]) =>
      batch.map((p) => ({ ok: true as const, value: p.write() })),
    );
    this.commitEach = db.transaction((batch: Pending[]) =>
      batch.map((p) => {
        try {
          return { ok: true as const, value: this.db.transaction(p.write)() };
        } catch (error) {
          return { ok: false as const, error };
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
    let outcomes: ReturnType<typeof this.commitEach>;
    try {
      try {
        outcomes = this.commit(batch);
      } catch {
        outcomes = this.commitEach(batch);
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}

const writers = new WeakMap<Database.Database, GroupCommit>();

/** The database's one group committer, shared by its queues and its store. */
export function groupCommit(db: Database.Database): GroupCommit {
  let writer = writers.get(db);
  if (!writer) {
    writer = new GroupCommit(db);
    writers.set(db, writer);
  }
  return writer;
}
