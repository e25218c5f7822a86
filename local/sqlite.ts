import { closeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { groupCommit, walFileOf } from './group-commit.ts';

/**
 * One database file per data folder, in WAL mode. SQLite itself does not fsync at commit
 * (synchronous=NORMAL): the group commit (local/group-commit.ts) syncs the WAL off the event loop and
 * resolves a write only then, so a resolved write still survives a power cut.
 */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Closes the database once its writes are settled, and the WAL handle its group commit syncs through. */
export async function closeDatabase(db: Database.Database): Promise<void> {
  await groupCommit(db).drained();
  const wal = walFileOf(db);
  db.close();
  if (wal !== undefined) closeSync(wal);
}
