import { dependencyJobIds, type Replacement } from '../core/dependency.ts';
import { jobKey } from '../core/ids.ts';
import type { JobRecord, WorkloadRecord } from '../core/ports.ts';
import type { ServiceDeps } from './deps.ts';
import { updateWorkload } from './effects.ts';

// A job Slurm cancelled because a job it waited on failed (SchedulerParameters=kill_invalid_depend, or
// sbatch --kill-on-invalid-dep) is resubmitted once that job is, waiting on the new one (core/planner.ts).
// Until then it waits on its workload's record; the prerequisite's resubmission result takes it from
// there (service/slurm-results.ts). Each side looks again after writing, so neither can miss the other.

/** The resubmissions so far of the jobs its dependency names (40 → 43), from their job records. */
export async function prerequisitesOf(
  deps: ServiceDeps,
  cluster: string,
  job: JobRecord,
): Promise<Replacement[]> {
  if (!job.dependency) return [];
  const named = await Promise.all(
    dependencyJobIds(job.dependency).map(async (id) => ({
      from: id,
      to: (await deps.store.getJob(jobKey(cluster, id)))?.retriedAs,
    })),
  );
  return named.flatMap((r) => (r.to ? [{ from: r.from, to: r.to }] : []));
}

/** The dependent waits on its workload's record for one of the jobs it names to be resubmitted. */
export async function waitForPrerequisite(deps: ServiceDeps, workload: string, job: JobRecord) {
  const on = dependencyJobIds(job.dependency ?? '');
  await updateWorkload(deps, workload, (w) =>
    w && !w.waitingDependents?.some((d) => d.key === job.key)
      ? { ...w, waitingDependents: [...(w.waitingDependents ?? []), { key: job.key, on }] }
      : undefined,
  );
}

type Waiting = NonNullable<WorkloadRecord['waitingDependents']>[number];

/** The dependents `pick` chooses (those that waited on a job now resubmitted), taken off the record. */
export async function takeWaitingDependents(
  deps: ServiceDeps,
  workload: string,
  pick: (w: Waiting) => boolean,
): Promise<string[]> {
  let taken: string[] = [];
  await updateWorkload(deps, workload, (w) => {
    const waiting = w?.waitingDependents ?? [];
    taken = waiting.filter(pick).map((d) => d.key);
    return w && taken.length
      ? { ...w, waitingDependents: waiting.filter((d) => !taken.includes(d.key)) }
      : undefined;
  });
  return taken;
}
