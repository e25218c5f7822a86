import type { Cause } from './diagnose.ts';
import { assertNever } from './never.ts';
import type { Decision, Plan, PlanAction, StopReason } from './plan.ts';

const STOP_TEXT = {
  'max-retries': (maxRetries) => `Max retries (${maxRetries}) exceeded. Manual intervention required.`,
  'nothing-recoverable': (_, unknown) =>
    `No recoverable jobs found. ${unknown} job(s) failed with unknown causes.`,
  'limits-unknown': () =>
    'No recoverable jobs found: the limits to raise are unknown. Resubmit by hand with a larger request.',
  'exceeds-partitions': () => 'No recoverable jobs found: every retry would exceed the largest partition.',
  'records-incomplete': () =>
    'No recoverable jobs found: Rebound lacks what a retry needs for each failed job (reasons above).',
  'nothing-failed': () => 'Nothing to recover: no job failed.',
  'cancelled-by-owner': () => 'Nothing to recover: cancelled by its owner.',
  'waits-for-prerequisite': () =>
    'Nothing to submit yet: it is resubmitted once the job it waited on is (history says when).',
} satisfies Record<StopReason, (maxRetries: number, unknown: number) => string>;

/**
 * How many jobs a report names one by one. A 10,000-failure workflow's history must stay readable (and
 * storable): past this, jobs are counted by what happens to them, and `rebound plan --json` lists them all.
 * Jobs not retried are named first: they are the ones a person must look at.
 */
export const REPORT_JOBS = 50;

/** The plan in words: a decision line per job, then what recovery does (or why it stops). */
export function planReport(plan: Plan, maxRetries: number, unknown: number): string[] {
  const lines: string[] = decisionLines(plan.decisions);
  if (plan.outcome === 'stop') {
    const reason = plan.stopReason ?? 'nothing-recoverable';
    return [...lines, STOP_TEXT[reason](maxRetries, unknown), ...byHand(reason, plan.workload, unknown)];
  }
  for (const a of plan.actions) lines.push(...actionLines(a, unknown));
  const m = plan.manual;
  lines.unshift(
    m
      ? `Manual recovery attempt ${plan.attempt} for ${plan.workload}, by ${m.by} via ${m.via === 'mcp' ? 'MCP' : 'the CLI'} (request ${m.requestId}; automatic retries used ${m.automaticUsed} of ${maxRetries}, this one not counted)`
      : `Recovery attempt ${plan.attempt}/${maxRetries} for ${plan.workload}`,
  );
  return lines;
}

/** What an action does, in words, rendered from its typed fields (an unknown value is left out, never "undefined"). */
function actionLines(a: PlanAction, unknown: number): string[] {
  switch (a.type) {
    case 'update-resources':
      return [
        a.cloneAs
          ? `Resource requirements "${a.rrName}" copied to "${a.cloneAs}" for job(s) ${idList(a.jobIds)}: memory ${a.memory}, runtime ${a.runtime}`
          : `Resource requirements "${a.rrName}" updated in place: memory ${a.memory}, runtime ${a.runtime}`,
      ];
    case 'run-hook':
      return [`Running recovery hook "${a.hook}" for ${unknown} unknown failure(s)`];
    case 'reset-jobs':
      return [`Resetting ${a.jobIds.length} job(s): ${idList(a.jobIds)}`];
    case 'submit-allocations': {
      const total = a.allocations.reduce((n, x) => n + x.count, 0);
      return [
        `Submitting ${total} allocation(s) in ${a.allocations.length} group(s)`,
        ...a.allocations.map(
          (x) =>
            `  ${x.name}: ${x.count} x ${x.nodes} node(s) on ${x.partition}, ${x.walltime}, --mem=${x.mem}, ${x.jobIds.length} job(s)${x.deferred ? ', deferred until ready' : ''}`,
        ),
      ];
    }
    case 'resubmit-job': {
      const r = a.resources;
      const options = [
        r.mem && `--mem=${r.mem}`,
        r.time && `--time=${r.time}`,
        r.partition && `--partition=${r.partition}`,
      ].filter(Boolean);
      return [
        `Resubmitting job ${a.jobId} with ${options.length ? options.join(' ') : 'its own options unchanged'}`,
      ];
    }
    default:
      return assertNever(a, 'plan action');
  }
}

/**
 * Where automatic recovery ends on purpose, what a person can run (as Torc names its own recover command):
 * one attempt by hand, past max retries, with other multipliers or unknown causes included.
 */
function byHand(reason: StopReason, workload: string, unknown: number): string[] {
  if (reason !== 'max-retries' && reason !== 'nothing-recoverable') return [];
  const flags = reason === 'nothing-recoverable' && unknown > 0 ? ' --retry-unknown' : '';
  return [
    `By hand: \`rebound recover ${workload}${flags}\` (--memory-multiplier, --runtime-multiplier; --dry-run shows the plan first), or an AI assistant's MCP tool resubmit_workflow (/v1/mcp; \`rebound mcp\`)`,
  ];
}

/** Which try of a job's chain a resubmitted job is, counted as a person counts: "retry 1 of 3 for job 77's chain". */
export const chainWords = (attempt: number, maxRetries: number, rootJobId: string, byHand = 0) =>
  byHand
    ? `retry ${attempt} for job ${rootJobId}'s chain, ${byHand} of them by hand (not counted against max retries ${maxRetries})`
    : `retry ${attempt} of ${maxRetries} for job ${rootJobId}'s chain`;

/** At most REPORT_JOBS ids, then how many more (history lines and command outputs stay short). */
export const idList = (ids: (number | string)[]) =>
  ids.length > REPORT_JOBS
    ? `${ids.slice(0, REPORT_JOBS).join(', ')} and ${ids.length - REPORT_JOBS} more`
    : ids.join(', ');

function decisionLines(decisions: Decision[]): string[] {
  if (decisions.length <= REPORT_JOBS) return decisions.map(decisionLine);
  const ordered = [...decisions.filter((d) => !d.retry), ...decisions.filter((d) => d.retry)];
  const rest = new Map<string, number>();
  for (const d of ordered.slice(REPORT_JOBS)) {
    const what = `${CAUSE_TEXT[d.cause]}, ${d.retry ? d.note : 'not retried'}`;
    rest.set(what, (rest.get(what) ?? 0) + 1);
  }
  return [
    ...ordered.slice(0, REPORT_JOBS).map(decisionLine),
    `… and ${decisions.length - REPORT_JOBS} more job(s) (\`rebound plan --json\` lists each):`,
    ...[...rest].map(([what, n]) => `  ${n} x ${what}`),
  ];
}

const CAUSE_TEXT = {
  oom: 'OOM detected',
  timeout: 'Timeout detected',
  transient: 'Transient failure',
  unknown: 'Unknown failure',
  cancelled: 'Cancelled',
  success: 'Completed',
} as const satisfies Record<Cause, string>;

function decisionLine(d: Decision): string {
  const head = `Job ${d.jobId} (${d.jobName}): ${CAUSE_TEXT[d.cause]}`;
  const change = d.changes
    .map(
      (c) => `${c.what === 'partition' ? 'moving partition' : `increasing ${c.what}`} ${c.from} -> ${c.to}`,
    )
    .join(', ');
  const caveats = d.caveats?.length ? `; ${d.caveats.join('; ')}` : '';
  if (d.retry) return `${change ? `${head}, ${change}` : `${head} (${d.summary}), ${d.note}`}${caveats}`;
  return `${head} (${d.summary}); ${d.note}`;
}
