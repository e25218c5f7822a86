import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandOf } from '../../core/commands.ts';
import { arrayProgress, arrayTaskOf, parseEndedJobs, parseSacct } from '../../core/sacct.ts';
import { outputPattern, plainJobResubmission } from '../../core/sbatch-script.ts';
import { capturedJobFromScontrol, parseScontrolRecord } from '../../core/scontrol.ts';
import { handleEvent, handleEvents } from '../../service/dispatch.ts';
import { recheckWaitingArrays } from '../../service/slurm-arrays.ts';
import { workloadView } from '../../service/status.ts';
import { type TestDeps, testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';

// Array tasks: each task's end is its own decision; the failed tasks that need the same resources are
// resubmitted as one array of just their indexes once nothing of the array is left to run.

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '..', 'events', 'sacct-list', name), 'utf8');

describe('array tasks as Slurm shows them (lab, Slurm 22.05)', () => {
  it('finds a task by its name or its own number, with its array', () => {
    // `sacct -j 3747` for task 2 of array 3745 (its own number is 3747).
    const out = fixture('array-task-lab.txt');
    for (const asked of ['3745_2', '3747'])
      expect(parseSacct(out, asked, '|')).toMatchObject({
        jobId: asked,
        state: 'OUT_OF_MEMORY',
        maxRss: '4788K',
        array: { jobId: '3745', taskId: 2 },
      });
    expect(arrayTaskOf('3745_[4-5%3]')).toBeUndefined();
    expect(arrayTaskOf('77')).toBeUndefined();
  });

  it('reads where an array stands: the tasks that failed, and whether any is left', () => {
    expect(arrayProgress(fixture('array-ended-lab.txt'), '|')).toEqual({ failed: [2, 4], live: false });
    expect(arrayProgress(fixture('array-live-lab.txt'), '|')).toEqual({ failed: [2], live: true });
    expect(arrayProgress('9_[3-9%2]|PENDING|9\n', '|')).toEqual({ failed: [], live: true });
  });

  it('the watcher names a task as Slurm does and keeps its own number for the event id', () => {
    const out = '3747|OUT_OF_MEMORY|0:125|long|UNLIMITED|2026-11-30T13:49:15|arr.sh|vm|3745_2\n';
    expect(parseEndedJobs(out, '|')).toMatchObject([{ jobId: '3745_2', rawId: '3747' }]);
  });

  it('resubmits just the failed indexes under the array throttle, with %A/%a put back', () => {
    // As `scontrol show job -o 3745_2` printed it on the lab (shortened).
    const line =
      'JobId=3747 ArrayJobId=3745 ArrayTaskId=2 ArrayTaskThrottle=3 JobName=arr.sh UserId=alice(1501) ' +
      'Partition=long TRES=cpu=1,mem=200M,node=1 StdOut=/tmp/probe/arr-3745_2.out StdErr=/tmp/probe/arr-3745_2.out';
    const job = capturedJobFromScontrol(
      parseScontrolRecord(line),
      { owner: { uid: 1501, user: 'alice' } },
      'x',
    );
    expect(job.array).toEqual({ jobId: '3745', taskId: 2, throttle: 3 });
    const argv = plainJobResubmission(job, { mem: '300M' }, 'rebound:w/c', { tasks: [2, 4] }).argv;
    expect(argv).toContain('--array=2,4%3');
    expect(argv).toContain('--output=/tmp/probe/arr-%A_%a.out');
    expect(argv).toContain('--mem=300M');
  });

  it.each([
    ['/o/slurm-40_2.out', '/o/slurm-%A_%a.out'],
    ['/o/run-40-2.out', '/o/run-%A-2.out'],
    ['/o/t2/job41.log', '/o/t2/job%j.log'],
    ['/o/r140_2.out', '/o/r140_2.out'],
  ])('puts an array task back as a pattern (array 40, task 2, own number 41): %s', (path, pattern) => {
    expect(outputPattern(path, '41', { jobId: '40', taskId: 2 })).toBe(pattern);
  });
});

const task = (
  id: string,
  progress: { failed: number[]; live: boolean },
  data: Parameters<typeof sacctEvent>[1] = {},
) => {
  const [array, index] = id.split('_');
  return sacctEvent(id, { array: { jobId: array!, taskId: Number(index), progress }, ...data });
};
const resubmits = (deps: TestDeps) =>
  deps.commands.sent().filter((c) => c.type === 'slurm.resubmit') as CommandOf<'slurm.resubmit'>[];
const lines = async (deps: TestDeps, w: string) => (await deps.store.listHistory(w)).map((h) => h.line);

describe('array tasks in the service', () => {
  it('tasks 2 and 4 out of memory → one resubmission of just 2 and 4, once; the new tasks join their chains', async () => {
    const deps = testDeps();
    // Task 2's relay saw task 4 still running; task 4's saw nothing left.
    await handleEvent(deps, task('40_2', { failed: [2], live: true }));
    expect(resubmits(deps)).toEqual([]);
    expect(await lines(deps, 'nightly')).toContain("Job 40_2's retry waits for the other tasks of array 40");
    await handleEvents(deps, [
      sacctEvent('40_1', { state: 'COMPLETED', exitCode: '0:0', array: { jobId: '40', taskId: 1 } }),
      task('40_4', { failed: [2, 4], live: false }),
      task('40_4', { failed: [2, 4], live: false }),
    ]);
    expect(resubmits(deps)).toMatchObject([
      { id: 'lab:40:g2', jobId: '40_2', tasks: [2, 4], resources: { mem: '375M' }, protocol: 3 },
    ]);
    const c = resubmits(deps)[0]!;
    expect(c.comment).toMatch(/^rebound:nightly\/lab:40:g2\.[0-9a-f]{16}$/);
    // Each task used an attempt of its own chain.
    expect(await deps.store.countAttempts('lab:40_2')).toEqual({ claimed: 1, manual: 0 });
    expect(await deps.store.countAttempts('lab:40_4')).toEqual({ claimed: 1, manual: 0 });
    expect((await workloadView(deps, 'nightly'))?.arrays?.['lab:40']).toMatchObject({
      decided: [2, 4],
      groups: [{ commandId: 'lab:40:g2', tasks: [2, 4] }],
    });

    await handleEvent(deps, resultEvent(c, { slurmJobIds: ['50'], output: 'submitted 50' }));
    expect(await deps.store.getJob('lab:50_2')).toMatchObject({ lineage: 'lab:40_2', attempt: 1 });
    expect(await deps.store.getJob('lab:50_4')).toMatchObject({ lineage: 'lab:40_4', attempt: 1 });
    expect(await deps.store.getJob('lab:50_1')).toBeUndefined();
    expect(await lines(deps, 'nightly')).toContain('Array 40 tasks 2,4 resubmitted as array 50');
    expect((await deps.store.getWorkload('nightly'))?.arrays).toEqual({});

    // The retried task 2 fails again: retry 2 of its own chain, sent alone once array 50 is done.
    await handleEvent(deps, task('50_2', { failed: [2], live: false }, { reqMem: '375M' }));
    expect(resubmits(deps).at(-1)).toMatchObject({ id: 'lab:50:g2', tasks: [2], resources: { mem: '563M' } });
    expect(await deps.store.countAttempts('lab:40_2')).toEqual({ claimed: 2, manual: 0 });
    const view = await workloadView(deps, 'nightly');
    expect(view?.jobs.map((j) => `${j.array}:${j.jobId}`)).toEqual([
      '40:40_1',
      '40:40_2',
      '40:40_4',
      '50:50_2',
      '50:50_4',
    ]);
  });

  it('tasks that need different resources go in separate arrays; tasks not retried are left out', async () => {
    const deps = testDeps();
    await handleEvents(deps, [
      task('60_1', { failed: [1, 2, 3], live: false }),
      task(
        '60_2',
        { failed: [1, 2, 3], live: false },
        { state: 'TIMEOUT', exitCode: '0:0', maxRss: '10M', elapsed: '00:10:00' },
      ),
      task('60_3', { failed: [1, 2, 3], live: false }, { state: 'CANCELLED by 1501', maxRss: '1M' }),
    ]);
    expect(resubmits(deps)).toMatchObject([
      { id: 'lab:60:g1', tasks: [1], resources: { mem: '375M', time: '10' } },
      { id: 'lab:60:g2', tasks: [2], resources: { mem: '200M', time: '14' } },
    ]);
    expect(await lines(deps, 'nightly')).toContain(
      'Array 60: no task left to run; resubmitting tasks 1 and tasks 2 (one array per set of equal resources)',
    );
  });

  it('after slurm.arrayWaitSeconds, the decided tasks go without the ones that never came', async () => {
    const deps = testDeps({ slurm: { arrayWaitSeconds: 600 } });
    await handleEvent(deps, task('70_3', { failed: [3, 5], live: false }));
    await recheckWaitingArrays(deps);
    expect(resubmits(deps)).toEqual([]);
    deps.advance(601);
    await recheckWaitingArrays(deps);
    await recheckWaitingArrays(deps);
    expect(resubmits(deps).map((c) => c.tasks)).toEqual([[3]]);
    expect(await lines(deps, 'nightly')).toContain(
      'Array 70: waited 601 s for task(s) 5; resubmitting tasks 3',
    );
  });
});
