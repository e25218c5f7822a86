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
    [
      'max-retries',
      [
        'Max retries (3) exceeded. Manual intervention required.',
        "By hand: `rebound recover w` (--memory-multiplier, --runtime-multiplier; --dry-run shows the plan first), or an AI assistant's MCP tool resubmit_workflow (/v1/mcp; `rebound mcp`)",
      ],
    ],
    [
      'nothing-recoverable',
      [
        'No recoverable jobs found. 2 job(s) failed with unknown causes.',
        "By hand: `rebound recover w --retry-unknown` (--memory-multiplier, --runtime-multiplier; --dry-run shows the plan first), or an AI assistant's MCP tool resubmit_workflow (/v1/mcp; `rebound mcp`)",
      ],
    ],
    ['nothing-failed', ['Nothing to recover: no job failed.']],
  ] as const)('says why it stops, and what a person can run: %s', (stopReason, lines) => {
    expect(planReport({ ...plan({}), outcome: 'stop', stopReason, actions: [] }, 3, 2)).toEqual(lines);
  });

  it('names a manual attempt, who asked for it and how, and that it is not counted', () => {
    const manual = { by: 'alice', via: 'cli' as const, requestId: 'r-12345678', automaticUsed: 2 };
    expect(planReport({ ...plan({}), attempt: 3, manual }, 2, 0)[0]).toBe(
      'Manual recovery attempt 3 for w, by alice via the CLI (request r-12345678; automatic retries used 2 of 2, this one not counted)',
    );
  });
});
