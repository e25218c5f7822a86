import { describe, expect, it } from 'vitest';
import type { CommandOf } from '../../core/commands.ts';
import { dependentLines, rewiredDependency } from '../../core/dependency.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';

// A job others wait on is resubmitted: each pending dependent waiting on the old id waits on the new one,
// every other term and type kept (scontrol update replaces the whole expression).

describe('rewiring a dependency', () => {
  const to = (expression: string) => rewiredDependency(expression, [{ from: '33', to: '43' }]);

  it.each([
    // As scontrol/squeue show them on the lab (22.05): each term with its state.
    ['afterok:33(failed)', 'afterok:43'],
    ['afterok:33(failed),afterany:34(unfulfilled)', 'afterok:43,afterany:34'],
    ['afterany:34(unfulfilled)?afterok:33(failed)', 'afterany:34?afterok:43'],
    ['afterok:32:33:35', 'afterok:32:43:35'],
    ['after:33+10(unfulfilled)', 'after:43+10'],
    ['afternotok:33(unfulfilled)', 'afternotok:43'],
  ])('%s → %s', (expression, rewired) => expect(to(expression)).toBe(rewired));

  it('leaves what names another job, a job whose id merely contains it, or nothing at all', () => {
    for (const e of [
      'afterok:34(unfulfilled)',
      'afterok:330(failed)',
      'afterok:133',
      'singleton(unfulfilled)',
      '(null)',
      '',
    ])
      expect(to(e)).toBeUndefined();
  });

  it('rewires an array and its tasks together', () => {
    const replacements = [
      { from: '40', to: '50' },
      { from: '40_2', to: '50_2' },
    ];
    expect(rewiredDependency('afterok:40_2(failed),afterok:40_3(unfulfilled)', replacements)).toBe(
      'afterok:50_2,afterok:40_3',
    );
    expect(rewiredDependency('afterany:40(unfulfilled)', replacements)).toBe('afterany:50');
  });

  it('says what changed, and what could not be changed and how its owner can', () => {
    expect(
      dependentLines(
        {
          rewired: [{ jobId: '44', user: 'alice', dependency: 'afterok:43' }],
          reported: [
            { jobId: '45', user: 'mallory', dependency: 'afterok:43', reason: 'owned by mallory (uid 1502)' },
          ],
        },
        'job 33',
        'job 43',
      ),
    ).toEqual([
      'Job 44 (alice) waited on job 33: it now waits on job 43 (Dependency=afterok:43)',
      'Job 45 of mallory waits on job 33, now resubmitted as job 43, and was not changed: it is owned by mallory (uid 1502). Its owner can run: scontrol update JobId=45 Dependency=afterok:43',
    ]);
  });
});

/** Job 33 runs out of memory and is resubmitted as 43; the relay's result says this of its dependents. */
async function resubmittedWith(result: Parameters<typeof resultEvent>[1]) {
  const deps = testDeps();
  await handleEvent(deps, sacctEvent('33'));
  const c = deps.commands.sent().at(-1) as CommandOf<'slurm.resubmit'>;
  await handleEvent(deps, resultEvent(c, { slurmJobIds: ['43'], ...result }));
  return { deps, lines: (await deps.store.listHistory('nightly')).map((h) => h.line) };
}

describe('the rewiring in history', () => {
  it("a resubmission's result names the dependents the relay rewired", async () => {
    const { lines } = await resubmittedWith({
      dependents: { rewired: [{ jobId: '44', user: 'alice', dependency: 'afterok:43' }], reported: [] },
    });
    expect(lines).toContain(
      'Job 44 (alice) waited on job 33: it now waits on job 43 (Dependency=afterok:43)',
    );
  });
});

describe('a rewiring that failed', () => {
  it('is said in history with what to look at, and the workload needs attention', async () => {
    const { deps, lines } = await resubmittedWith({
      output: 'submitted 43 with its original environment',
      dependents: { rewired: [], reported: [], error: 'squeue exited 1: Socket timed out' },
    });
    expect(lines).toContain('Relay: submitted 43 with its original environment');
    expect(lines).toContain(
      "The jobs waiting on job 33 could not all be made to wait on job 43 (squeue exited 1: Socket timed out): look with squeue -t PENDING -o '%i %E'",
    );
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
  });
});

describe('dependents Slurm cancelled (kill_invalid_depend)', () => {
  // B waited on A (afterok:33), C on B (afterok:44); A ran out of memory, so Slurm cancelled B, then C.
  const cancelled = (id: string, dependency: string) =>
    sacctEvent(id, {
      jobName: `dep${id}`,
      state: 'CANCELLED',
      exitCode: '0:0',
      // As sacct shows a job Slurm cancelled under kill_invalid_depend (lab, 22.05): no uid, reason Dependency.
      reason: 'Dependency',
      maxRss: '0',
      dependency,
    });
  const resubmits = (deps: ReturnType<typeof testDeps>) =>
    deps.commands.sent().filter((c) => c.type === 'slurm.resubmit') as CommandOf<'slurm.resubmit'>[];

  it('each is resubmitted, as its own chain, once the job it waited on is, waiting on the new one', async () => {
    const deps = testDeps();
    await handleEvent(deps, cancelled('44', 'afterok:33'));
    await handleEvent(deps, cancelled('55', 'afterok:44'));
    expect(resubmits(deps)).toEqual([]);
    expect((await deps.store.getWorkload('nightly'))?.waitingDependents).toEqual([
      { key: 'lab:44', on: ['33'] },
      { key: 'lab:55', on: ['44'] },
    ]);
    expect((await deps.store.listHistory('nightly')).map((h) => h.line)).toContain(
      'Job 44 (dep44): Cancelled (cancelled by Slurm: a job it depended on failed); cancelled by Slurm because a job it waited on (afterok:33) failed: resubmitted once that job is',
    );

    // A fails and is resubmitted as 43: B goes, waiting on 43.
    await handleEvent(deps, sacctEvent('33'));
    const a = resubmits(deps)[0]!;
    await handleEvent(deps, resultEvent(a, { slurmJobIds: ['43'] }));
    const b = resubmits(deps)[1]!;
    expect(b).toMatchObject({
      id: 'lab:44:a1',
      jobId: '44',
      resources: { dependency: 'afterok:43' },
      protocol: 3,
    });
    // B is resubmitted as 45: C goes, waiting on 45.
    await handleEvent(deps, resultEvent(b, { slurmJobIds: ['45'] }));
    expect(resubmits(deps)[2]).toMatchObject({ id: 'lab:55:a1', resources: { dependency: 'afterok:45' } });
    expect((await deps.store.getWorkload('nightly'))?.waitingDependents).toEqual([]);
    expect(resubmits(deps)).toHaveLength(3);
  });

  it('one cancelled after its prerequisite was already resubmitted goes at once', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacctEvent('33'));
    await handleEvent(deps, resultEvent(resubmits(deps)[0]!, { slurmJobIds: ['43'] }));
    await handleEvent(deps, cancelled('44', 'afterok:33'));
    expect(resubmits(deps)[1]).toMatchObject({ jobId: '44', resources: { dependency: 'afterok:43' } });
  });
});
