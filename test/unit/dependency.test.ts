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

describe('the rewiring in history', () => {
  it("a resubmission's result names the dependents the relay rewired", async () => {
    const deps = testDeps();
    await handleEvent(deps, sacctEvent('33'));
    const c = deps.commands.sent().at(-1) as CommandOf<'slurm.resubmit'>;
    await handleEvent(
      deps,
      resultEvent(c, {
        slurmJobIds: ['43'],
        dependents: { rewired: [{ jobId: '44', user: 'alice', dependency: 'afterok:43' }], reported: [] },
      }),
    );
    expect((await deps.store.listHistory('nightly')).map((h) => h.line)).toContain(
      'Job 44 (alice) waited on job 33: it now waits on job 43 (Dependency=afterok:43)',
    );
  });
});
