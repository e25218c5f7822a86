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
    // A crash after the claim: the job is not marked decided, the command not sent.
    store.crashOnPutJob((job) => job.decided);
    await expect(handleEvent(deps, sacct)).rejects.toThrow('injected crash');
    expect(await store.wasProcessed(sacct.id)).toBe(false);
    expect(deps.commands.offered).toEqual([]);
    await handleEvent(deps, sacct);
    expect(deps.commands.offered).toEqual(['lab:77:a1']);
    // A third delivery finds the job decided and no result yet: the same command again, which the queue
    // (and the relay's intent journal) keeps once.
    await handleEvent(deps, sacct);
    expect((await store.listAttempts('nightly')).map((a) => a.attempt)).toEqual([1]);
    expect(deps.commands.offered).toEqual(['lab:77:a1', 'lab:77:a1']);
    expect(deps.commands.sent().map((c) => c.id)).toEqual(['lab:77:a1']);
    expect(await store.getJob('lab:77')).toMatchObject({ decided: true });
  });

  it('a racer that claims between the look for a prior attempt and the count: still one attempt', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    const count = deps.store.countAttempts.bind(deps.store);
    let raced = false;
    deps.store.countAttempts = async (lineage) => {
      // The other worker, on the same reading, decides in full between this one's two reads.
      if (!raced) {
        raced = true;
        await handleEvent({ ...deps }, sacct);
      }
      return count(lineage);
    };
    await handleEvent(deps, sacct);
    expect(raced).toBe(true);
    expect((await deps.store.listAttempts('nightly')).map((a) => a.attempt)).toEqual([1]);
    expect(new Set(deps.commands.offered)).toEqual(new Set(['lab:77:a1']));
  });

  it('a stop between the decided record and the send: the redelivery finds it decided and sends', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    const send = deps.commands.send.bind(deps.commands);
    let stopped = false;
    deps.commands.send = async (messages) => {
      if (!stopped) {
        stopped = true;
        throw new Error('the worker stopped here');
      }
      return send(messages);
    };
    await expect(handleEvent(deps, sacct)).rejects.toThrow('stopped here');
    expect(await deps.store.getJob('lab:77')).toMatchObject({ decided: true });
    expect(deps.commands.sent()).toEqual([]);
    await handleEvent(deps, sacct);
    expect(deps.commands.sent()).toMatchObject([{ id: 'lab:77:a1', type: 'slurm.resubmit' }]);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('recovering');
    expect(await deps.store.listAttempts('nightly')).toHaveLength(1);
  });

  it('after a failed submission, a redelivered reading does not submit again', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    await handleEvent(deps, sacct);
    const [resubmit] = deps.commands.sent();
    await handleEvent(
      deps,
      resultEvent(resubmit as CommandOf<'slurm.resubmit'>, {
        ok: false,
        error: 'sbatch: error: invalid partition',
      }),
    );
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
    await handleEvent(deps, sacct);
    expect(deps.commands.offered).toEqual(['lab:77:a1']);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
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
