import type Database from 'better-sqlite3';
import {
  AttemptAlreadyClaimedError,
  type AttemptRecord,
  type HistoryEntry,
  type JobRecord,
  type StateStore,
  type WorkloadRecord,
} from '../core/ports.ts';

/** The state store in SQLite: one table per record kind, JSON for nested values. */
export class SqliteStore implements StateStore {
  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS workloads (key TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, workload TEXT, json TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS jobs_workload ON jobs (workload);
      CREATE TABLE IF NOT EXISTS attempts (lineage TEXT NOT NULL, attempt INTEGER NOT NULL, workload TEXT NOT NULL,
        json TEXT NOT NULL, PRIMARY KEY (lineage, attempt));
      CREATE INDEX IF NOT EXISTS attempts_workload ON attempts (workload);
      CREATE TABLE IF NOT EXISTS attempt_commands (command_id TEXT PRIMARY KEY, lineage TEXT NOT NULL, attempt INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT, workload TEXT NOT NULL, at TEXT NOT NULL, line TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS history_workload ON history (workload, seq);
      CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);`);
  }

  async getWorkload(key: string) {
    return this.one<WorkloadRecord>('SELECT json FROM workloads WHERE key = ?', key);
  }
  async putWorkload(r: WorkloadRecord) {
    this.db
      .prepare('INSERT OR REPLACE INTO workloads (key, json) VALUES (?, ?)')
      .run(r.key, JSON.stringify(r));
  }
  async listWorkloads() {
    return this.all<WorkloadRecord>('SELECT json FROM workloads ORDER BY key');
  }
  async getJob(key: string) {
    return this.one<JobRecord>('SELECT json FROM jobs WHERE key = ?', key);
  }
  async putJob(r: JobRecord) {
    this.db
      .prepare('INSERT OR REPLACE INTO jobs (key, workload, json) VALUES (?, ?, ?)')
      .run(r.key, r.workload, JSON.stringify(r));
  }
  async listJobs(workload: string) {
    return this.all<JobRecord>('SELECT json FROM jobs WHERE workload = ? ORDER BY key', workload);
  }
  async countAttempts(lineage: string) {
    return (
      this.db.prepare('SELECT count(*) n FROM attempts WHERE lineage = ?').get(lineage) as { n: number }
    ).n;
  }
  async claimAttempt(r: AttemptRecord) {
    const claim = this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT OR IGNORE INTO attempts (lineage, attempt, workload, json) VALUES (?, ?, ?, ?)')
        .run(r.lineage, r.attempt, r.workload, JSON.stringify(r));
      if (info.changes === 0) return false;
      const link = this.db.prepare(
        'INSERT OR IGNORE INTO attempt_commands (command_id, lineage, attempt) VALUES (?, ?, ?)',
      );
      for (const id of r.commandIds) link.run(id, r.lineage, r.attempt);
      return true;
    });
    if (!claim()) {
      const existing = this.one<AttemptRecord>(
        'SELECT json FROM attempts WHERE lineage = ? AND attempt = ?',
        r.lineage,
        r.attempt,
      )!;
      throw new AttemptAlreadyClaimedError(existing);
    }
  }
  async listAttempts(workload: string) {
    return this.all<AttemptRecord>(
      'SELECT json FROM attempts WHERE workload = ? ORDER BY lineage, attempt',
      workload,
    );
  }
  async findAttemptByCommand(commandId: string) {
    return this.one<AttemptRecord>(
      'SELECT a.json FROM attempt_commands c JOIN attempts a USING (lineage, attempt) WHERE c.command_id = ?',
      commandId,
    );
  }
  async appendHistory(entries: HistoryEntry[]) {
    const insert = this.db.prepare('INSERT INTO history (workload, at, line) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) insert.run(e.workload, e.at, e.line);
    })();
  }
  async listHistory(workload: string) {
    return this.db
      .prepare('SELECT workload, at, line FROM history WHERE workload = ? ORDER BY seq')
      .all(workload) as HistoryEntry[];
  }
  async markProcessed(id: string, expiresAt: Date) {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO processed (id, expires_at) VALUES (?, ?)')
        .run(id, expiresAt.getTime()).changes === 1
    );
  }

  /** Housekeeping: drops expired processed-ids (DynamoDB's TTL does this by itself). */
  purgeExpired(): number {
    return this.db.prepare('DELETE FROM processed WHERE expires_at < ?').run(Date.now()).changes;
  }

  async wasProcessed(id: string) {
    return (
      this.db.prepare('SELECT 1 FROM processed WHERE id = ? AND expires_at >= ?').get(id, Date.now()) !==
      undefined
    );
  }

  private one<T>(sql: string, ...params: unknown[]): T | undefined {
    const row = this.db.prepare(sql).get(...params) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as T) : undefined;
  }
  private all<T>(sql: string, ...params: unknown[]): T[] {
    return (this.db.prepare(sql).all(...params) as { json: string }[]).map((r) => JSON.parse(r.json) as T);
  }
}
