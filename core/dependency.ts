// A pending job's dependency as Slurm shows it (`squeue -o %E`, `scontrol show job`'s `Dependency=`):
// terms such as `afterok:4000(failed)` joined by `,` (all must hold) or `?` (any may), each naming one or
// more jobs (`afterany:40:41`, `afterok:40_2`, `after:40+10`), each with its state in brackets. When a
// prerequisite is resubmitted under a new id, a dependent waiting on the old one is given the same
// expression with the new id in its place (`scontrol update JobId=<dependent> Dependency=<expression>`
// replaces the whole expression: every other term and every dependency type is kept as it was).

import type { DependentsReport } from './events.ts';

/** A resubmission's dependents in words (history, status): which wait on the new job, which could not. */
export function dependentLines(report: DependentsReport | undefined, from: string, to: string): string[] {
  if (!report) return [];
  return [
    ...(report.error
      ? [
          `The jobs waiting on ${from} could not all be made to wait on ${to} (${report.error}): look with squeue -t PENDING -o '%i %E'`,
        ]
      : []),
    ...report.rewired.map(
      (d) =>
        `Job ${d.jobId} (${d.user}) waited on ${from}: it now waits on ${to} (Dependency=${d.dependency})`,
    ),
    ...report.reported.map(
      (d) =>
        `Job ${d.jobId} of ${d.user} waits on ${from}, now resubmitted as ${to}, and was not changed: it is ${d.reason}. Its owner can run: scontrol update JobId=${d.jobId} Dependency=${d.dependency}`,
    ),
  ];
}

/** The expression as `sbatch --dependency` takes it: Slurm's states in brackets dropped. */
export const plainDependency = (expression: string) => expression.replace(/\([^)]*\)/g, '').trim();

/** The jobs an expression names (`afterok:40:41_2,afterany:42+5` → 40, 41_2, 42). */
export function dependencyJobIds(expression: string): string[] {
  return [...plainDependency(expression).matchAll(/:([\d_:+]+)/g)].flatMap((m) =>
    m[1]!
      .split(':')
      .map((job) => job.split('+')[0]!)
      .filter((id) => /^\d+(_\d+)?$/.test(id)),
  );
}

/** What a dependency names, one id in place of another: a job, or an array task (`40_2`). */
export interface Replacement {
  from: string;
  to: string;
}

const TERM = /^([a-z_]+)(?::(.+))?$/;

/**
 * The expression with each replaced id in its place, the states Slurm shows dropped (scontrol takes no
 * brackets); undefined when it names none of them (nothing to change) or is not one Slurm writes.
 */
export function rewiredDependency(expression: string, replacements: Replacement[]): string | undefined {
  const plain = plainDependency(expression);
  if (!plain || plain === '(null)') return undefined;
  const by = new Map(replacements.map((r) => [r.from, r.to]));
  let changed = false;
  const parts = plain.split(/([,?])/);
  for (let i = 0; i < parts.length; i += 2) {
    const m = TERM.exec(parts[i]!);
    if (!m) return undefined;
    const [, type, jobs] = m;
    if (!jobs) continue;
    const ids = jobs.split(':').map((job) => {
      const [id, delay] = job.split('+') as [string, string | undefined];
      const to = by.get(id);
      if (!to) return job;
      changed = true;
      return delay === undefined ? to : `${to}+${delay}`;
    });
    parts[i] = `${type}:${ids.join(':')}`;
  }
  return changed ? parts.join('') : undefined;
}
