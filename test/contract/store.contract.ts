import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../core/plan.ts';
import { AttemptAlreadyClaimedError, type AttemptRecord, type StateStore } from '../../core/ports.ts';

const plan: Plan = {
  workload: 'w',
  kind: 'slurm',
  attempt: 1,
  createdAt: '',
  outcome: 'recover',
  decisions: [],
  actions: [],
  report: [],
};
const attempt = (lineage: string, n: number, commandIds = [`${lineage}:a${n}`]): AttemptRecord => ({
  lineage,
  attempt: n,
  workload: 'w',
  plan: { ...plan, attempt: n },
  commandIds,
  createdAt: '2026-11-25T00:00:00Z',
});

/** The StateStore contract: every adapter runs this same suite. */
export function storeContract(name: string, make: () => Promise<StateStore>) {
  describe(`StateStore contract: ${name}`, () => {
    it('stores and lists workloads and jobs', async () => {
      const s = await make();
      expect(
        await s.putWorkload({ key: 'w', kind: 'slurm', status: 'watching', updatedAt: 't' }, undefined),
      ).toBe(true);
      expect(await s.putWorkload({ key: 'w', kind: 'slurm', status: 'healthy', updatedAt: 't2' }, 1)).toBe(
        true,
      );
      expect(await s.getWorkload('w')).toMatchObject({ status: 'healthy', version: 2 });
      expect(await s.getWorkload('nope')).toBeUndefined();
      expect((await s.listWorkloads()).map((w) => w.key)).toEqual(['w']);
      const job = {
        key: 'lab:1',
        workload: 'w',
        jobId: '1',
        name: 'a',
        evidence: { exitCode: 3 },
        lineage: 'lab:1',
        attempt: 0,
        decided: false,
        updatedAt: 't',
      };
      await s.putJob(job);
      await s.putJob({ ...job, key: 'lab:2', jobId: '2', workload: null });
      expect(await s.getJob('lab:1')).toEqual(job);
      expect((await s.listJobs('w')).map((j) => j.key)).toEqual(['lab:1']);
    });

    it('keeps one token record per user, the newest replacing the old', async () => {
      const s = await make();
      expect(await s.getToken('alice')).toBeUndefined();
      const token = { user: 'alice', uid: 1501, admin: false, hash: 'a'.repeat(64), createdAt: 't' };
      await s.putToken(token);
      await s.putToken({ ...token, user: 'mallory', uid: 1502, hash: 'b'.repeat(64) });
      expect(await s.getToken('alice')).toEqual(token);
      await s.putToken({ ...token, hash: '', revokedAt: 't2' });
      expect(await s.getToken('alice')).toEqual({ ...token, hash: '', revokedAt: 't2' });
      expect((await s.getToken('mallory'))?.uid).toBe(1502);
    });

    it('writes a workload only over the version it read: of two racing writers one wins', async () => {
      const s = await make();
      const w = { key: 'race', kind: 'torc' as const, status: 'watching' as const, updatedAt: 't' };
      const created = await Promise.all([s.putWorkload(w, undefined), s.putWorkload(w, undefined)]);
      expect(created.sort()).toEqual([false, true]);
      const updated = await Promise.all([
        s.putWorkload({ ...w, status: 'recovering' }, 1),
        s.putWorkload({ ...w, status: 'healthy' }, 1),
      ]);
      expect(updated.sort()).toEqual([false, true]);
      expect(await s.putWorkload({ ...w, status: 'needs-attention' }, 1)).toBe(false);
      expect(await s.getWorkload('race')).toMatchObject({ version: 2 });
    });

    it('claims an attempt exactly once, even when raced', async () => {
      const s = await make();
      const results = await Promise.allSettled([
        s.claimAttempt(attempt('L', 1)),
        s.claimAttempt(attempt('L', 1, ['other'])),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(AttemptAlreadyClaimedError);
      expect(lost.reason.existing.attempt).toBe(1);
      await s.claimAttempt(attempt('L', 2));
      expect(await s.countAttempts('L')).toEqual({ claimed: 2, manual: 0 });
      expect(await s.countAttempts('M')).toEqual({ claimed: 0, manual: 0 });
      expect((await s.findAttemptByCommand('L:a2'))?.attempt).toBe(2);
      expect(await s.findAttemptByCommand('missing')).toBeUndefined();
      expect((await s.listAttempts('w')).map((a) => a.attempt)).toEqual([1, 2]);
    });

    it("keeps a request's answer until it expires", async () => {
      const s = await make();
      const answer = {
        requestId: 'r-1',
        workload: 'w',
        at: 't',
        ok: true,
        text: 'MemoryError\n',
        path: '/tmp/x.err',
        truncated: false,
      };
      await s.putAnswer(answer, new Date(Date.now() + 60_000));
      expect(await s.getAnswer('r-1')).toEqual(answer);
      await s.putAnswer({ ...answer, requestId: 'r-old' }, new Date(Date.now() - 60_000));
      expect(await s.getAnswer('r-old')).toBeUndefined();
      expect(await s.getAnswer('r-none')).toBeUndefined();
    });

    it('counts a manual attempt apart (it uses up no automatic retry) and keeps who asked', async () => {
      const s = await make();
      await s.claimAttempt(attempt('N', 1));
      const manual = { by: 'alice', via: 'cli' as const, requestId: 'r-12345678' };
      await s.claimAttempt({ ...attempt('N', 2), manual });
      expect(await s.countAttempts('N')).toEqual({ claimed: 2, manual: 1 });
      expect((await s.listAttempts('w')).find((a) => a.lineage === 'N' && a.attempt === 2)?.manual).toEqual(
        manual,
      );
    });

    it('keeps a 10,000-job plan whole (larger than one DynamoDB item, even zipped)', async () => {
      const s = await make();
      const decisions = Array.from({ length: 10_000 }, (_, i) => ({
        jobId: String(i),
        jobName: `job ${i}`,
        cause: 'oom' as const,
        confidence: 'high' as const,
        // Random text zips badly: the plan needs several parts where an adapter has a size limit.
        summary: randomBytes(48).toString('hex'),
        retry: true,
        changes: [],
        note: 'retried with more resources',
      }));
      const big = { ...attempt('BIG', 1), plan: { ...plan, decisions } };
      await s.claimAttempt(big);
      expect(await s.countAttempts('BIG')).toEqual({ claimed: 1, manual: 0 });
      expect((await s.findAttemptByCommand('BIG:a1'))?.plan).toEqual(big.plan);
      // Found by the event that made it, whole, among the workload's others.
      await s.claimAttempt({ ...attempt('BIG', 2), source: 'torc-completed:7:r2' });
      expect(await s.findAttemptBySource('w', 'torc-completed:7:r2')).toMatchObject({ attempt: 2 });
      expect((await s.findAttemptBySource('w', 'torc-completed:7:r2'))?.plan).toEqual({
        ...plan,
        attempt: 2,
      });
      expect(await s.findAttemptBySource('w', 'torc-completed:7:r9')).toBeUndefined();
      expect(await s.findAttemptBySource('other', 'torc-completed:7:r2')).toBeUndefined();
      expect((await s.listAttempts('w')).find((a) => a.lineage === 'BIG')?.plan.decisions).toEqual(decisions);
    });

    it("keeps the pages of a run's completion, one per index, per run", async () => {
      const s = await make();
      const page = (runId: number, index: number, failedJobIds: number[]) => ({
        workflowId: 7,
        runId,
        isCanceled: false,
        page: { index, count: 2 },
        failedJobIds,
        canceled: [],
        rrSizes: { '3': 2 },
        liveAllocations: 0,
        resourceRequirements: [],
      });
      await s.putCompletionPage('torc-wf7', page(1, 2, [2]));
      await s.putCompletionPage('torc-wf7', page(1, 1, [1]));
      await s.putCompletionPage('torc-wf7', page(1, 1, [1]));
      await s.putCompletionPage('torc-wf7', page(2, 1, [9]));
      const run1 = await s.listCompletionPages('torc-wf7', 1);
      expect(run1.map((p) => p.failedJobIds).sort()).toEqual([[1], [2]]);
      expect(await s.listCompletionPages('torc-wf7', 3)).toEqual([]);
      expect(await s.listCompletionPages('torc-wf8', 1)).toEqual([]);
    });

    it("keeps each cluster's discovered partitions, the newest replacing the old", async () => {
      const s = await make();
      const record = (maxWalltimeSeconds: number | 'UNLIMITED') => ({
        cluster: 'lab',
        profile: {
          name: 'discovered:lab',
          displayName: 'lab',
          partitions: [{ name: 'long', maxWalltimeSeconds }],
        },
        notes: ['partition old is DOWN: left out'],
        observedAt: '2026-11-30T12:00:00Z',
      });
      expect(await s.getCluster('lab')).toBeUndefined();
      await s.putCluster(record(60));
      await s.putCluster(record('UNLIMITED'));
      expect(await s.getCluster('lab')).toEqual(record('UNLIMITED'));
      expect(await s.getCluster('other')).toBeUndefined();
    });

    it('keeps history in order', async () => {
      const s = await make();
      await s.appendHistory([
        { workload: 'w', at: '1', line: 'first' },
        { workload: 'w', at: '2', line: 'second' },
      ]);
      await s.appendHistory([{ workload: 'x', at: '3', line: 'other' }]);
      expect((await s.listHistory('w')).map((h) => h.line)).toEqual(['first', 'second']);
    });

    it("keeps a decision's many lines together and in order, however long, with their moment and workload", async () => {
      const s = await make();
      // 3,000 lines of 100 bytes: more than one DynamoDB item holds.
      const lines = Array.from(
        { length: 3000 },
        (_, i) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(90)}`,
      );
      await s.appendHistory([
        ...lines.map((line) => ({ workload: 'big', at: '2026-01-01T00:00:00.000Z', line })),
        { workload: 'other', at: '2026-01-01T00:00:00.000Z', line: 'elsewhere' },
        { workload: 'big', at: '2026-01-01T00:00:01.000Z', line: 'a second later' },
      ]);
      const history = await s.listHistory('big');
      expect(history.map((h) => h.line)).toEqual([...lines, 'a second later']);
      expect(history[0]).toEqual({ workload: 'big', at: '2026-01-01T00:00:00.000Z', line: lines[0] });
      expect(history.at(-1)?.at).toBe('2026-01-01T00:00:01.000Z');
      expect((await s.listHistory('other')).map((h) => h.line)).toEqual(['elsewhere']);
    });

    it('marks an id processed once and remembers it until it expires', async () => {
      const s = await make();
      const later = new Date(Date.now() + 60_000);
      expect(await s.wasProcessed('e1')).toBe(false);
      expect(await s.markProcessed('e1', later)).toBe(true);
      expect(await s.markProcessed('e1', later)).toBe(false);
      expect(await s.wasProcessed('e1')).toBe(true);
      await s.markProcessed('e2', new Date(Date.now() - 1000));
      expect(await s.wasProcessed('e2')).toBe(false);
    });
  });
}
