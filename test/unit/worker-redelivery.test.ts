import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../core/events.ts';
import { openDatabase } from '../../local/sqlite.ts';
import { SqliteStore } from '../../local/sqlite-store.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { handleEvent } from '../../service/worker.ts';

// At-least-once delivery: an event can come back after its attempt was claimed but before the worker
// recorded it as handled (a crash in between). It must not become a second attempt or a second sbatch.

const sacct: Event = {
  id: 'sacct:lab:77',
  version: 1,
  source: 'relay:sacct',
  occurredAt: '2026-11-25T12:00:00Z',
  cluster: 'lab',
  type: 'slurm.sacct',
  data: {
    jobId: '77',
    jobName: 'hog',
    state: 'OUT_OF_MEMORY',
    exitCode: '0:125',
    maxRss: '250M',
    reqMem: '200M',
    elapsed: '00:00:03',
    timeLimit: '00:10:00',
    comment: 'rebound:nightly',
    partition: 'short',
  },
};

describe('a failure redelivered after its attempt was claimed', () => {
  it('re-sends the same command and never claims a second attempt', async () => {
    const store = new SqliteStore(
      openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-redeliver-')), 'db')),
    );
    // The crash happened before the event was marked handled, and before the job was marked decided.
    store.wasProcessed = async () => false;
    const putJob = store.putJob.bind(store);
    let crashed = false;
    store.putJob = async (job) => {
      if (job.decided && !crashed) {
        crashed = true;
        throw new Error('crash after the claim');
      }
      return putJob(job);
    };
    const sent: string[] = [];
    const deps = {
      store,
      commands: { send: async (m: { id: string }[]) => void sent.push(...m.map((x) => x.id)) } as never,
      config: parseServiceConfig({}),
      now: () => new Date('2026-11-25T12:00:01Z'),
    };
    await expect(handleEvent(deps, sacct)).rejects.toThrow('crash after the claim');
    await handleEvent(deps, sacct);
    await handleEvent(deps, sacct);
    expect((await store.listAttempts('nightly')).map((a) => a.attempt)).toEqual([1]);
    expect(sent).toEqual(['lab:77:a1']);
    expect(await store.getJob('lab:77')).toMatchObject({ decided: true });
  });
});
