import { describe, expect, it } from 'vitest';
import { handleEvent } from '../../service/dispatch.ts';
import { testDeps } from '../support/deps.ts';
import { sacctEvent } from '../support/events.ts';

// At-least-once delivery: an event can come back after its attempt was claimed but before the worker
// recorded it as handled (a crash in between). It must not become a second attempt or a second sbatch.

const sacct = sacctEvent('77', { partition: 'short' });

describe('a failure redelivered after its attempt was claimed', () => {
  it('re-sends the same command and never claims a second attempt', async () => {
    const deps = testDeps({ profile: 'kestrel' });
    const { store } = deps;
    // A crash after the claim: the job is not marked decided, the event not marked handled.
    store.crashOnPutJob((job) => job.decided);
    await expect(handleEvent(deps, sacct)).rejects.toThrow('injected crash');
    expect(await store.wasProcessed(sacct.id)).toBe(false);
    await handleEvent(deps, sacct);
    // Even without its processed mark (expired, say), a third delivery finds the job decided.
    store.processed.clear();
    await handleEvent(deps, sacct);
    expect((await store.listAttempts('nightly')).map((a) => a.attempt)).toEqual([1]);
    expect(deps.commands.offered).toEqual(['lab:77:a1']);
    expect(await store.getJob('lab:77')).toMatchObject({ decided: true });
  });
});
