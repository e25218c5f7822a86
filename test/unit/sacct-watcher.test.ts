import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventSchema } from '../../core/events.ts';
import { parseEndedJobs } from '../../core/sacct.ts';
import { jobcompEvent, selectNew, type WatcherState } from '../../relay/sacct-watcher.ts';

// Lines as `sacct -X -n -P --format=JobIDRaw,State,ExitCode,Partition,Timelimit,End,JobName,NodeList,JobID`
// prints them on the lab Slurm (22.05), plus a cancelled, a running, a pending and a heterogeneous job; the
// relay asks with a fresh random delimiter (core/slurm-records.ts), the fixture has `|`.
const output = readFileSync(
  join(import.meta.dirname, '..', 'events', 'sacct-list', 'kestrel-mixed.txt'),
  'utf8',
);
const at = (s: string) => new Date(s).getTime();

describe('the sacct watcher', () => {
  it('lists only jobs in a final state with a plain job id', () => {
    const jobs = parseEndedJobs(output, '|');
    expect(jobs.map((j) => `${j.jobId} ${j.state}`)).toEqual([
      '49 TIMEOUT',
      '50 FAILED',
      '51 OUT_OF_MEMORY',
      '57 CANCELLED by 0',
    ]);
    expect(jobs[0]).toEqual({
      jobId: '49',
      rawId: '49',
      jobName: 'slow-job',
      state: 'TIMEOUT',
      exitCode: '0:0',
      partition: 'short',
      timeLimit: '00:01:00',
      end: '2026-11-25T15:50:11',
      nodes: 'vm',
    });
  });

  it('posts each job once, across overlapping polls and a restart (state through JSON)', () => {
    const jobs = parseEndedJobs(output, '|');
    const first = selectNew(
      jobs.slice(0, 2),
      { since: 0, polledAt: 0, posted: {} },
      at('2026-11-25T15:51:00'),
    );
    expect(first.fresh.map((j) => j.jobId)).toEqual(['49', '50']);
    const restarted = JSON.parse(JSON.stringify(first.next)) as WatcherState;
    const second = selectNew(jobs, restarted, at('2026-11-25T15:54:00'));
    expect(second.fresh.map((j) => j.jobId)).toEqual(['51', '57']);
    expect(selectNew(jobs, second.next, at('2026-11-25T15:55:00')).fresh).toEqual([]);
  });

  it('forgets ids that ended before the next window, so its state stays small', () => {
    const jobs = parseEndedJobs(output, '|');
    const { next } = selectNew(jobs, { since: 0, polledAt: 0, posted: {} }, at('2026-11-25T16:30:00'));
    expect(next).toEqual({ since: 0, polledAt: at('2026-11-25T16:30:00'), posted: {} });
  });

  it('posts nothing that ended before its first start', () => {
    const since = at('2026-11-25T15:49:00');
    const { fresh } = selectNew(parseEndedJobs(output, '|'), { since, polledAt: since, posted: {} }, since);
    expect(fresh.map((j) => j.jobId)).toEqual(['49', '57']);
  });

  it('turns a job into the jobcomp event the hook would send (same id, so the service keeps one)', () => {
    const [job] = parseEndedJobs(output, '|').filter((j) => j.jobId === '57');
    const event = EventSchema.parse(jobcompEvent('lab', job!, new Date('2026-11-25T15:54:00Z')));
    expect(event).toMatchObject({
      // The hook's id: its own number and when the run ended (sacct prints local time; END is epoch).
      id: `jobcomp:lab:57:e${new Date('2026-11-25T15:53:02').getTime() / 1000}`,
      source: 'relay:sacct-watcher',
      type: 'slurm.jobcomp',
      data: { jobId: '57', state: 'CANCELLED', exitCode: '0:15', timeLimit: '00:01:00' },
    });
  });
});
