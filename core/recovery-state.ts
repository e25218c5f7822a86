import type { PendingJob, ResourceGroup } from './allocation.ts';
import type { Replacement } from './dependency.ts';
import type { Diagnosis } from './diagnose.ts';
import type { JobEvidence } from './evidence.ts';
import type { Limits } from './heuristics.ts';
import type { Admission } from './partition.ts';
import type { Profile } from './profiles.ts';

// What the planner takes (core/planner.ts): the failed jobs of a workload with what they ran with, and for
// Torc the rows they share and what is already pending.

export type JobEnvironment = 'stored' | 'not-stored';

export interface FailedJob {
  id: string;
  name: string;
  evidence: JobEvidence;
  /** Given when already made (e.g. stored with the job); otherwise the planner diagnoses. */
  diagnosis?: Diagnosis;
  /** What it ran with; absent when the source did not say (then that limit cannot be scaled). */
  limits: Partial<Limits>;
  cpus: number;
  gpus: number;
  /** Plain Slurm: the partition it ran in. */
  partition?: string;
  /** Torc: its resource requirements row. */
  rr?: { id: number; name: string };
  /** Torc: it depends on a job that is not complete, so its allocation is deferred. */
  waits?: boolean;
  /** Why it cannot be retried whatever its cause (core/torc-state.ts, JOB_PROBLEMS): it needs a person. */
  problem?: string;
  /** Plain Slurm: whose job it is (a cancellation by its owner is their decision, not a failure). */
  owner?: { uid: number; user: string };
  /**
   * Plain Slurm: what it waited on (`afterok:40`), and the resubmissions so far of the jobs that names
   * (40 → 43): a dependent Slurm cancelled because one of them failed is resubmitted to wait on the new one.
   */
  dependency?: string;
  prerequisites?: Replacement[];
  /** Plain Slurm: the account and QOS it ran under: partitions that admit others only are not for it. */
  admission?: Admission;
  /**
   * Plain Slurm: whether the cluster kept the environment it was submitted with (sacct --env-vars), which
   * its retry then runs with exactly; unknown for a relay that did not say.
   */
  environment?: JobEnvironment;
  /**
   * The limits a person set for its next retry (MCP `update_job_resources`): used instead of escalating
   * them, and a failure of unknown cause with them is retried (the person looked at it).
   */
  nextLimits?: { memoryBytes?: number; runtimeSeconds?: number; by: string };
}

export interface RecoveryState {
  kind: 'slurm' | 'torc';
  workload: string;
  profile: Profile;
  /** Jobs that ended since the last attempt, successes included (they are reported, never retried). */
  jobs: FailedJob[];
  /** Torc: how many jobs use each resource-requirements row, to know whether a change covers the row. */
  rrSizes?: Record<number, number>;
  /** Torc: jobs already pending and their rows, planned into allocations together with the reset jobs. */
  pending?: { jobs: PendingJob[]; groups: ResourceGroup[] };
  /** Torc: allocation time the runner cannot use for jobs (default 180 s). */
  runnerBufferSeconds?: number;
}

/** A job the plan retries, with its next limits and the partition they fit. */
export interface Candidate {
  job: FailedJob;
  diagnosis: Diagnosis;
  next: Limits;
  partition?: string;
  /** A dependent resubmitted to wait on its prerequisite's resubmission: what it waits on now. */
  dependency?: string;
}

/** An unknown limit as 0: never escalated (its cause is another), never changed, never requested. */
export const known = (limits: Partial<Limits>): Limits => ({
  memoryBytes: limits.memoryBytes ?? 0,
  runtimeSeconds: limits.runtimeSeconds ?? 0,
});
