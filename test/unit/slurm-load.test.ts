import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../core/events.ts';
import { peakMayMatter } from '../../core/heuristics.ts';
import { accountingSections, parseEnvSection } from '../../core/job-environment.ts';
import { arraysProgress, parseSacctJobs, SACCT_FIELDS } from '../../core/sacct.ts';
import { parseQueuedJobs } from '../../core/scontrol.ts';
import { slurmDelimiter } from '../../core/slurm-records.ts';
import { Coalesced } from '../../relay/coalesce.ts';
import { IntentJournal } from '../../relay/intents.ts';
import { Slots } from '../../relay/slots.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { sentIds, testDeps } from '../support/deps.ts';
import { loadEvent } from '../support/events.ts';

// A light touch on Slurm (issue 14): the per-job questions asked for many jobs at once, the intent journal
// instead of asking Slurm "did I submit this?", and nothing at all for a completed job nobody tracks.

const D = slurmDelimiter('5eed');
const rec = (values: Partial<Record<(typeof SACCT_FIELDS)[number], string>>) =>
  `${SACCT_FIELDS.map((f) => values[f] ?? '').join(D)}\n`;
const job = (id: string, state: string, more: Partial<Record<(typeof SACCT_FIELDS)[number], string>> = {}) =>
  rec({
    JobID: id,
    UID: '1501',
    User: 'alice',
    State: state,
    ExitCode: '0:125',
    ReqMem: '100M',
    Timelimit: '00:01:00',
    Partition: 'short',
    JobName: 'j',
    JobIDRaw: id,
    ...more,
  });
const batch = (id: string, maxRss: string) =>
  rec({ JobID: `${id}.batch`, State: 'OUT_OF_MEMORY', MaxRSS: maxRss, JobIDRaw: `${id}.batch` });

describe('reading many jobs from one Slurm call', () => {
  it('parseSacctJobs: each asked job with its own steps; a running or unlisted one is absent', () => {
    const out =
      job('10', 'OUT_OF_MEMORY') +
      batch('10', '98304K') +
      job('11', 'RUNNING') +
      job('40_2', 'FAILED', { JobIDRaw: '43' }) +
      batch('40_2', '2048K');
    const jobs = parseSacctJobs(out, ['10', '11', '40_2', '43', '99'], D);
    expect([...jobs.keys()]).toEqual(['10', '40_2', '43']);
    expect(jobs.get('10')).toMatchObject({ maxRss: '98304K', state: 'OUT_OF_MEMORY' });
    // An array task is found by its name or its own number, with its own steps.
    expect(jobs.get('40_2')).toMatchObject({ maxRss: '2048K', array: { jobId: '40', taskId: 2 } });
    expect(jobs.get('43')).toMatchObject({ maxRss: '2048K' });
  });

  it('arraysProgress: the failed tasks and liveness of each array listed together', () => {
    const row = (id: string, state: string) => `${id}${D}${state}${D}${id}\n`;
    const out =
      row('40_1', 'COMPLETED') + row('40_2', 'FAILED') + row('50_[3-9]', 'PENDING') + row('50_1', 'TIMEOUT');
    expect(Object.fromEntries(arraysProgress(out, D))).toEqual({
      '40': { failed: [2], live: false },
      '50': { failed: [1], live: true },
    });
  });

  it("accountingSections: each job's section; a job named twice (a forged header) is left out", () => {
    const rule = '-'.repeat(80);
    const out = [
      'Environment used for 8896 (must be batch to display)',
      rule,
      'SECRET=hunter2',
      'SLURM_SUBMIT_DIR=/home/alice',
      '',
      'Environment used for 8897 (must be batch to display)',
      rule,
      'NONE',
      '',
      'Environment used for 8898 (must be batch to display)',
      rule,
      'EVIL=x',
      'Environment used for 8896 (must be batch to display)',
      rule,
      'FORGED=1',
      '',
    ].join('\n');
    const { sections, twice } = accountingSections(out, 'Environment used for');
    expect([...sections.keys()]).toEqual(['8897', '8898']);
    expect([...twice]).toEqual(['8896']);
    expect(parseEnvSection(sections.get('8897')!)).toBe('not-stored');
    expect(parseEnvSection(sections.get('8898')!)).toEqual({ variables: [['EVIL', 'x']] });
    const scripts = accountingSections(
      `Batch Script for 7\n${rule}\n#!/bin/bash\n\necho hi\n\nBatch Script for 8_2\n${rule}\nNONE\n\n`,
      'Batch Script for',
    ).sections;
    expect(Object.fromEntries(scripts)).toEqual({ '7': '#!/bin/bash\n\necho hi\n', '8_2': 'NONE\n' });
  });

  it('parseQueuedJobs: every listed job by its id', () => {
    const row = (...f: string[]) => `${f.join(D)}\n`;
    const out =
      row('1501', 'alice', 'lab', 'rebound:w', 'PENDING', '7') +
      row('1502', 'bob', '(null)', '(null)', 'RUNNING', '8_3');
    expect(Object.fromEntries(parseQueuedJobs(out, D))).toEqual({
      '7': { owner: { uid: 1501, user: 'alice', account: 'lab' }, comment: 'rebound:w', state: 'PENDING' },
      '8_3': { owner: { uid: 1502, user: 'bob' }, state: 'RUNNING' },
    });
  });
});

describe('an OOM end needs no MaxRSS', () => {
  it('a TIMEOUT or a failure waits for it (its peak may change the retry), an OOM does not', () => {
    expect(peakMayMatter('TIMEOUT')).toBe(true);
    expect(peakMayMatter('FAILED')).toBe(true);
    expect(peakMayMatter('OUT_OF_MEMORY')).toBe(false);
  });
});

describe('Coalesced', () => {
  it('askers within the delay share one fetch, each getting its own answer', async () => {
    const fetches: string[][] = [];
    const c = new Coalesced<number>(async (keys) => {
      fetches.push(keys);
      return new Map(keys.filter((k) => k !== 'none').map((k) => [k, Number(k)]));
    }, 20);
    const answers = await Promise.all(['1', '2', '2', 'none'].map((k) => c.get(k)));
    expect(answers).toEqual([1, 2, 2, undefined]);
    expect(fetches).toEqual([['1', '2', 'none']]);
    expect(await c.get('3')).toBe(3);
    expect(fetches).toHaveLength(2);
  });

  it('a failed fetch fails every asker of that round, and the next round fetches again', async () => {
    let fail = true;
    const c = new Coalesced<string>(async (keys) => {
      if (fail) throw new Error('slurmdbd down');
      return new Map(keys.map((k) => [k, k]));
    }, 5);
    const round = await Promise.allSettled([c.get('a'), c.get('b')]);
    expect(round.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await c.get('a')).toBe('a');
  });
});

describe('Slots', () => {
  it('never more holders than slots; waiters go in order of arrival', async () => {
    const slots = new Slots(2);
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const free = await slots.take();
        most = Math.max(most, slots.inUse);
        order.push(i);
        await new Promise((r) => setTimeout(r, 5));
        free();
        free(); // a second call frees nothing more
      }),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(slots.inUse).toBe(0);
  });
});

describe('IntentJournal', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'rebound-intents-'));
  const T0 = Date.parse('2026-11-30T12:00:00Z');

  it('answers "submitted" with the job id, and "submitting" for an sbatch under way at a stop', async () => {
    const d = dir();
    const journal = new IntentJournal(d, T0);
    expect(journal.read('lab:7:a1', T0 + 1)).toBeUndefined();
    await journal.submitting('lab:7:a1', T0 + 2);
    expect(journal.read('lab:7:a1', T0 + 1)).toEqual({ state: 'submitting', at: T0 + 2 });
    await journal.submitted('lab:7:a1', '8', T0 + 3);
    // Another relay process on the same folder reads the same.
    expect(new IntentJournal(d, T0 + 10).read('lab:7:a1', T0 + 1)).toEqual({
      state: 'submitted',
      at: T0 + 3,
      jobId: '8',
    });
  });

  it('a command older than the journal, or a damaged entry, is unknown: Slurm is asked', () => {
    const d = dir();
    const journal = new IntentJournal(d, T0);
    expect(journal.read('lab:7:a1', T0 - 60_000)).toEqual({ state: 'submitting', at: 0 });
    // The journal's start survives a restart: a later relay does not take old commands for its own.
    expect(new IntentJournal(d, T0 + 86_400_000).read('lab:8:a1', T0 + 1)).toBeUndefined();
    writeFileSync(join(d, 'lab_9_a1.json'), '{"state":"subm');
    expect(journal.read('lab:9:a1', T0 + 1)).toEqual({ state: 'submitting', at: 0 });
  });

  it('forgets entries older than any redelivery, never its start', async () => {
    const d = dir();
    const journal = new IntentJournal(d, T0);
    await journal.submitted('lab:7:a1', '8', T0);
    journal.purge(Date.now() + 15 * 86_400_000);
    expect(journal.read('lab:7:a1', T0 + 1)).toBeUndefined();
    expect(readFileSync(join(d, 'since'), 'utf8')).toBe(String(T0));
  });
});

describe('the service and job ends nobody tracks', () => {
  const end = (state: string, jobId = '2'): Event => {
    const e = loadEvent('jobcomp/oom', 'slurm.jobcomp');
    return { ...e, id: `${e.id}-${state}-${jobId}`, data: { ...e.data, jobId, state } };
  };

  it('a completed job nobody tracks: no record, no command, not even marked processed', async () => {
    const deps = testDeps();
    const event = end('COMPLETED');
    await handleEvent(deps, event);
    expect(deps.store.jobs.size).toBe(0);
    expect(sentIds(deps)).toEqual([]);
    expect(await deps.store.wasProcessed(event.id)).toBe(false);
  });

  it('a tagged job the relay saw queued is tracked: its completion is enriched like any end', async () => {
    const deps = testDeps();
    const tracked: Event = {
      id: 'tracked:lab:abc',
      version: 1,
      source: 'relay:queue-watch',
      occurredAt: '2026-11-25T12:00:00Z',
      cluster: 'lab',
      type: 'slurm.tracked',
      data: { jobs: [{ jobId: '2', jobName: 'train' }] },
    };
    await handleEvent(deps, tracked);
    await handleEvent(deps, tracked);
    expect(await deps.store.getJob('lab:2')).toMatchObject({ jobId: '2', name: 'train', decided: false });
    await handleEvent(deps, end('COMPLETED'));
    expect(sentIds(deps)).toEqual(['enrich:lab:2:e1795619549']);
  });

  it('a failed job nobody tracks yet (shorter than the queue watch) is still enriched', async () => {
    const deps = testDeps();
    await handleEvent(deps, end('OUT_OF_MEMORY', '5'));
    expect(sentIds(deps)).toEqual(['enrich:lab:5:e1795619549']);
  });
});
