import Database from 'better-sqlite3';

/** One database file per data folder; WAL + synchronous=FULL: a resolved write survives a power cut. */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  return db;
}
