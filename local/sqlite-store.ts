import type Database from 'better-sqlite3';
import type { TorcCompletionPage } from '../core/events.ts';
import {
  AttemptAlreadyClaimedError,
  type AttemptCount,
  type AttemptRecord,
  type ClusterRecord,
  type HistoryEntry,
  type JobRecord,
  type RequestAnswer,
  type StateStore,
  type TokenRecord,
  type WorkloadRecord,
} from '../core/ports.ts';
import { type GroupCommit, groupCommit } from './group-commit.ts';

/**
 * The state store in SQLite: one table per record kind, JSON for nested values. Writes are group-committed
 * with the queues' (group-commit.ts); reads see what is committed.
 */
export class SqliteStore implements StateStore {
  private readonly writer: GroupCommit;
  private readonly sql;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS workloads (key TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, workload TEXT, json TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS jobs_workload ON jobs (workload);
      CREATE TABLE IF NOT EXISTS attempts (lineage TEXT NOT NULL, attempt INTEGER NOT NULL, workload TEXT NOT NULL,
        source TEXT, json TEXT NOT NULL, PRIMARY KEY (lineage, attempt));
      CREATE INDEX IF NOT EXISTS attempts_workload ON attempts (workload);
      CREATE TABLE IF NOT EXISTS attempt_commands (command_id TEXT PRIMARY KEY, lineage TEXT NOT NULL, attempt INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT, workload TEXT NOT NULL, at TEXT NOT NULL, line TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS history_workload ON history (workload, seq);
      CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS answers (id TEXT PRIMARY KEY, json TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS tokens (user TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS clusters (name TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS completion_pages (workload TEXT NOT NULL, run INTEGER NOT NULL,
        page INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (workload, run, page));`);
    // 0.4: the event that made an attempt, a column of its own (a database from before gets it, filled in).
    const attemptColumns = db.prepare('PRAGMA table_info(attempts)').all() as { name: string }[];
    if (!attemptColumns.some((c) => c.name === 'source'))
      db.exec(`ALTER TABLE attempts ADD COLUMN source TEXT;
        UPDATE attempts SET source = json_extract(json, '$.source');`);
    this.writer = groupCommit(db);
    // The worker's hot path runs these for every event: prepared once.
    this.sql = {
      getJob: db.prepare('SELECT json FROM jobs WHERE key = ?'),
      putJob: db.prepare('INSERT OR REPLACE INTO jobs (key, workload, json) VALUES (?, ?, ?)'),
      putWorkload: db.prepare('INSERT OR REPLACE INTO workloads (key, json) VALUES (?, ?)'),
      getWorkload: db.prepare('SELECT json FROM workloads WHERE key = ?'),
      history: db.prepare('INSERT INTO history (workload, at, line) VALUES (?, ?, ?)'),
      mark: db.prepare('INSERT OR IGNORE INTO processed (id, expires_at) VALUES (?, ?)'),
      processed: db.prepare('SELECT 1 FROM processed WHERE id = ? AND expires_at >= ?'),
      claim: db.prepare(
        'INSERT OR IGNORE INTO attempts (lineage, attempt, workload, source, json) VALUES (?, ?, ?, ?, ?)',
      ),
      link: db.prepare(
        'INSERT OR IGNORE INTO attempt_commands (command_id, lineage, attempt) VALUES (?, ?, ?)',
      ),
    };
  }

  async getWorkload(key: string) {
    return this.one<WorkloadRecord>('SELECT json FROM workloads WHERE key = ?', key);
  }
  async putWorkload(r: WorkloadRecord, expected: number | undefined) {
    const json = JSON.stringify({ ...r, version: (expected ?? 0) + 1 });
    return this.writer.run(() => {
      const row = this.sql.getWorkload.get(r.key) as { json: string } | undefined;
      const stored = row ? ((JSON.parse(row.json) as WorkloadRecord).version ?? 0) : undefined;
      if (stored !== expected) return false;
      this.sql.putWorkload.run(r.key, json);
      return true;
    });
  }
  async listWorkloads() {
    return this.all<WorkloadRecord>('SELECT json FROM workloads ORDER BY key');
  }
  async getJob(key: string) {
    const row = this.sql.getJob.get(key) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as JobRecord) : undefined;
  }
  async putJob(r: JobRecord) {
    const json = JSON.stringify(r);
    await this.writer.run(() => this.sql.putJob.run(r.key, r.workload, json));
  }
  async listJobs(workload: string) {
    return this.all<JobRecord>('SELECT json FROM jobs WHERE workload = ? ORDER BY key', workload);
  }
  async countAttempts(lineage: string) {
    const row = this.db
      .prepare(
        "SELECT count(*) claimed, count(json_extract(json, '$.manual')) manual FROM attempts WHERE lineage = ?",
      )
      .get(lineage) as AttemptCount;
    return { claimed: row.claimed, manual: row.manual };
  }
  async claimAttempt(r: AttemptRecord) {
    const json = JSON.stringify(r);
    const won = await this.writer.run(() => {
      if (this.sql.claim.run(r.lineage, r.attempt, r.workload, r.source ?? null, json).changes === 0)
        return false;
      for (const id of r.commandIds) this.sql.link.run(id, r.lineage, r.attempt);
      return true;
    });
    if (!won) {
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
  async findAttemptBySource(workload: string, source: string) {
    return this.one<AttemptRecord>(
      'SELECT json FROM attempts WHERE workload = ? AND source = ?',
      workload,
      source,
    );
  }
  async findAttemptByCommand(commandId: string) {
    return this.one<AttemptRecord>(
      'SELECT a.json FROM attempt_commands c JOIN attempts a USING (lineage, attempt) WHERE c.command_id = ?',
      commandId,
    );
  }
  async appendHistory(entries: HistoryEntry[]) {
    await this.writer.run(() => {
      for (const e of entries) this.sql.history.run(e.workload, e.at, e.line);
    });
  }
  async listHistory(workload: string) {
    return this.db
      .prepare('SELECT workload, at, line FROM history WHERE workload = ? ORDER BY seq')
      .all(workload) as HistoryEntry[];
  }
  async markProcessed(id: string, expiresAt: Date) {
    return this.writer.run(() => this.sql.mark.run(id, expiresAt.getTime()).changes === 1);
  }

  /** Housekeeping: drops expired processed-ids and answers (DynamoDB's TTL does this by itself). */
  purgeExpired(): number {
    const now = Date.now();
    return (
      this.db.prepare('DELETE FROM processed WHERE expires_at < ?').run(now).changes +
      this.db.prepare('DELETE FROM answers WHERE expires_at < ?').run(now).changes
    );
  }

  async putAnswer(a: RequestAnswer, expiresAt: Date) {
    const json = JSON.stringify(a);
    await this.writer.run(() =>
      this.db
        .prepare('INSERT OR REPLACE INTO answers (id, json, expires_at) VALUES (?, ?, ?)')
        .run(a.requestId, json, expiresAt.getTime()),
    );
  }
  async getAnswer(requestId: string) {
    return this.one<RequestAnswer>(
      'SELECT json FROM answers WHERE id = ? AND expires_at >= ?',
      requestId,
      Date.now(),
    );
  }

  async wasProcessed(id: string) {
    return this.sql.processed.get(id, Date.now()) !== undefined;
  }

  async putToken(r: TokenRecord) {
    const json = JSON.stringify(r);
    await this.writer.run(() =>
      this.db.prepare('INSERT OR REPLACE INTO tokens (user, json) VALUES (?, ?)').run(r.user, json),
    );
  }
  async getToken(user: string) {
    return this.one<TokenRecord>('SELECT json FROM tokens WHERE user = ?', user);
  }

  async putCluster(r: ClusterRecord) {
    const json = JSON.stringify(r);
    await this.writer.run(() =>
      this.db.prepare('INSERT OR REPLACE INTO clusters (name, json) VALUES (?, ?)').run(r.cluster, json),
    );
  }
  async getCluster(cluster: string) {
    return this.one<ClusterRecord>('SELECT json FROM clusters WHERE name = ?', cluster);
  }
  async putCompletionPage(workload: string, page: TorcCompletionPage) {
    const json = JSON.stringify(page);
    await this.writer.run(() =>
      this.db
        .prepare('INSERT OR REPLACE INTO completion_pages (workload, run, page, json) VALUES (?, ?, ?, ?)')
        .run(workload, page.runId, page.page.index, json),
    );
  }
  async listCompletionPages(workload: string, runId: number) {
    return this.all<TorcCompletionPage>(
      'SELECT json FROM completion_pages WHERE workload = ? AND run = ? ORDER BY page',
      workload,
      runId,
    );
  }

  private one<T>(sql: string, ...params: unknown[]): T | undefined {
    const row = this.db.prepare(sql).get(...params) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as T) : undefined;
  }
  /** Row by row: a workflow's 10,000 job records never sit in memory as text and as objects at once. */
  private all<T>(sql: string, ...params: unknown[]): T[] {
    const out: T[] = [];
    for (const r of this.db.prepare(sql).iterate(...params) as IterableIterator<{ json: string }>)
      out.push(JSON.parse(r.json) as T);
    return out;
  }
}
