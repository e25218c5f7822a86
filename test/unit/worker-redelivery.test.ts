import { describe, expect, it } from 'vitest';
import type { CommandOf } from '../../core/commands.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';

// At-least-once delivery: an event can come back after its attempt was claimed but before the worker
// recorded it as handled (a crash in between). It must not become a second attempt or a second sbatch.

const sacct = sacctEvent('77', { partition: 'short' });

describe('a failure redelivered after its attempt was claimed', () => {
  it('re-sends the same command and never claims a second attempt', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    const { store } = deps;
    // A crash after the claim and the send: the job is not marked decided, the event not marked handled.
    store.crashOnPutJob((job) => job.decided);
    await expect(handleEvent(deps, sacct)).rejects.toThrow('injected crash');
    expect(await store.wasProcessed(sacct.id)).toBe(false);
    await handleEvent(deps, sacct);
    // Even without its processed mark (expired, say), a third delivery finds the job decided.
    store.processed.clear();
    await handleEvent(deps, sacct);
    expect((await store.listAttempts('nightly')).map((a) => a.attempt)).toEqual([1]);
    // The crash came after the send (the job's record, decided, is the decision's last write): the
    // redelivery sent the same command again, which the queue keeps once; the third sent nothing.
    expect(deps.commands.offered).toEqual(['lab:77:a1', 'lab:77:a1']);
    expect(deps.commands.sent().map((c) => c.id)).toEqual(['lab:77:a1']);
    expect(await store.getJob('lab:77')).toMatchObject({ decided: true });
  });
});

// Events whose handling ends with the write a redelivery finds carry no processed mark (a write each in
// AWS): the reading that decides (the job's record, decided), the resubmission's result (the failed job's
// link to its retry). A repeat of either must change nothing but figures.
describe('events settled by their last write', () => {
  it('a deciding reading and a resubmission result are not marked, and their repeats change nothing', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    const { store } = deps;
    await handleEvent(deps, sacct);
    const [resubmit] = deps.commands.sent();
    expect(resubmit).toMatchObject({ type: 'slurm.resubmit', id: 'lab:77:a1' });
    const result = resultEvent(resubmit as CommandOf<'slurm.resubmit'>, { slurmJobIds: ['78'] });
    await handleEvent(deps, result);
    expect(store.processed.size).toBe(0);
    const lines = (await store.listHistory('nightly')).map((h) => h.line);
    const jobs = { failed: await store.getJob('lab:77'), retry: await store.getJob('lab:78') };
    expect(jobs.failed).toMatchObject({ decided: true, retriedAs: '78' });
    expect(jobs.retry).toMatchObject({ lineage: 'lab:77', attempt: 1 });

    await handleEvent(deps, sacct);
    await handleEvent(deps, result);
    expect((await store.listHistory('nightly')).map((h) => h.line)).toEqual(lines);
    expect(deps.commands.offered).toEqual(['lab:77:a1']);
    expect(await store.listAttempts('nightly')).toHaveLength(1);
    expect(await store.getJob('lab:78')).toEqual(jobs.retry);
    expect(await store.getJob('lab:77')).toEqual({ ...jobs.failed, updatedAt: expect.any(String) });
  });

  it('a reading that is not settled by its last write (Slurm requeued the job) is still marked', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    const requeued = sacctEvent('79', { state: 'NODE_FAIL', exitCode: '0:0', requeued: true });
    await handleEvent(deps, requeued);
    expect(await deps.store.wasProcessed(requeued.id)).toBe(true);
  });
});
