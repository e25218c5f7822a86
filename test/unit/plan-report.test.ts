import { describe, expect, it } from 'vitest';
import type { Plan } from '../../core/plan.ts';
import { planReport } from '../../core/plan-report.ts';

// The report is rendered from the typed actions: a limit the plan does not change is left out, never
// printed as "undefined".

const plan = (resources: Record<string, string>): Plan => ({
  workload: 'w',
  kind: 'slurm',
  attempt: 1,
  createdAt: '2026-11-25T12:00:00Z',
  outcome: 'recover',
  decisions: [],
  actions: [{ type: 'resubmit-job', jobId: '7', resources }],
  report: [],
});

describe('plan report', () => {
  it.each([
    [{ time: '2' }, 'Resubmitting job 7 with --time=2'],
    [{ mem: '300M' }, 'Resubmitting job 7 with --mem=300M'],
    [
      { mem: '300M', time: '2', partition: 'long' },
      'Resubmitting job 7 with --mem=300M --time=2 --partition=long',
    ],
    [{}, 'Resubmitting job 7 with its own options unchanged'],
  ])('renders %j without unknown values', (resources, line) => {
    const lines = planReport(plan(resources), 3, 0);
    expect(lines).toEqual(['Recovery attempt 1/3 for w', line]);
    expect(lines.join('\n')).not.toContain('undefined');
  });

  it.each([
    ['max-retries', 'Max retries (3) exceeded. Manual intervention required.'],
    ['nothing-recoverable', 'No recoverable jobs found. 2 job(s) failed with unknown causes.'],
    ['nothing-failed', 'Nothing to recover: no job failed.'],
  ] as const)('says why it stops: %s', (stopReason, line) => {
    expect(planReport({ ...plan({}), outcome: 'stop', stopReason, actions: [] }, 3, 2)).toEqual([line]);
  });
});
