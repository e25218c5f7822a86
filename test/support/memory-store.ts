import type { TorcCompletionPage } from '../../core/events.ts';
import {
  AttemptAlreadyClaimedError,
  type AttemptRecord,
  type ClusterRecord,
  type HistoryEntry,
  type JobRecord,
  type RequestAnswer,
  type StateStore,
  type TokenRecord,
  type WorkloadRecord,
} from '../../core/ports.ts';

// The StateStore in memory, for service tests that cost milliseconds. It passes the same contract suite
// as SQLite and DynamoDB (test/contract/memory.test.ts). Records are copied in and out, as a real store
// serialises them, so a test cannot pass by mutating what it got back.

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryStore implements StateStore {
  readonly workloads = new Map<string, WorkloadRecord>();
  readonly jobs = new Map<string, JobRecord>();
  readonly attempts = new Map<string, AttemptRecord>();
  readonly commandLinks = new Map<string, string>();
  readonly history: HistoryEntry[] = [];
  readonly processed = new Map<string, number>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly pages = new Map<string, TorcCompletionPage>();
  readonly clusters = new Map<string, ClusterRecord>();
  readonly answers = new Map<string, { answer: RequestAnswer; expiresAt: number }>();
  private crash?: (job: JobRecord) => boolean;

  /** A fault to inject: the next job write that matches throws, as a crash in the middle of a handler. */
  crashOnPutJob(when: (job: JobRecord) => boolean): void {
    this.crash = when;
  }

  async getWorkload(key: string) {
    const w = this.workloads.get(key);
    return w && copy(w);
  }
  async putWorkload(record: WorkloadRecord, expected: number | undefined) {
    const stored = this.workloads.get(record.key);
    if ((stored ? (stored.version ?? 0) : undefined) !== expected) return false;
    this.workloads.set(record.key, copy({ ...record, version: (expected ?? 0) + 1 }));
    return true;
  }
  async listWorkloads() {
    return [...this.workloads.values()].sort((a, b) => a.key.localeCompare(b.key)).map(copy);
  }
  async getJob(key: string) {
    const j = this.jobs.get(key);
    return j && copy(j);
  }
  async putJob(record: JobRecord) {
    if (this.crash?.(record)) {
      this.crash = undefined;
      throw new Error('injected crash');
    }
    this.jobs.set(record.key, copy(record));
  }
  async listJobs(workload: string) {
    return [...this.jobs.values()]
      .filter((j) => j.workload === workload)
      .sort((a, b) => a.key.localeCompare(b.key))
      .map(copy);
  }
  async countAttempts(lineage: string) {
    const chain = [...this.attempts.values()].filter((a) => a.lineage === lineage);
    return { claimed: chain.length, manual: chain.filter((a) => a.manual).length };
  }
  async claimAttempt(record: AttemptRecord) {
    const key = `${record.lineage}\u0000${record.attempt}`;
    const existing = this.attempts.get(key);
    if (existing) throw new AttemptAlreadyClaimedError(copy(existing));
    this.attempts.set(key, copy(record));
    for (const id of record.commandIds) if (!this.commandLinks.has(id)) this.commandLinks.set(id, key);
  }
  async listAttempts(workload: string) {
    return [...this.attempts.values()]
      .filter((a) => a.workload === workload)
      .sort((a, b) => a.lineage.localeCompare(b.lineage) || a.attempt - b.attempt)
      .map(copy);
  }
  async findAttemptBySource(workload: string, source: string) {
    return (await this.listAttempts(workload)).find((a) => a.source === source);
  }
  async findAttemptByCommand(commandId: string) {
    const key = this.commandLinks.get(commandId);
    const a = key === undefined ? undefined : this.attempts.get(key);
    return a && copy(a);
  }
  async appendHistory(entries: HistoryEntry[]) {
    this.history.push(...entries.map(copy));
  }
  async listHistory(workload: string) {
    return this.history.filter((h) => h.workload === workload).map(copy);
  }
  async putAnswer(answer: RequestAnswer, expiresAt: Date) {
    this.answers.set(answer.requestId, { answer: copy(answer), expiresAt: expiresAt.getTime() });
  }
  async getAnswer(requestId: string) {
    const kept = this.answers.get(requestId);
    return kept && kept.expiresAt >= Date.now() ? copy(kept.answer) : undefined;
  }
  async markProcessed(id: string, expiresAt: Date) {
    if (await this.wasProcessed(id)) return false;
    this.processed.set(id, expiresAt.getTime());
    return true;
  }
  async wasProcessed(id: string) {
    return (this.processed.get(id) ?? Number.NEGATIVE_INFINITY) >= Date.now();
  }
  async putToken(r: TokenRecord) {
    this.tokens.set(r.user, copy(r));
  }
  async getToken(user: string) {
    return copy(this.tokens.get(user));
  }
  async putCluster(r: ClusterRecord) {
    this.clusters.set(r.cluster, copy(r));
  }
  async getCluster(cluster: string) {
    return copy(this.clusters.get(cluster));
  }
  async putCompletionPage(workload: string, page: TorcCompletionPage) {
    this.pages.set(`${workload}\0${page.runId}\0${page.page.index}`, copy(page));
  }
  async listCompletionPages(workload: string, runId: number) {
    return [...this.pages.entries()]
      .filter(([k]) => k.startsWith(`${workload}\0${runId}\0`))
      .map(([, p]) => copy(p));
  }
}
