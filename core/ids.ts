import * as z from 'zod';

// Every id Rebound makes is built here and nowhere else; the one that is read back (a plain job's key) is
// parsed here too, with round-trip tests (test/unit/ids.test.ts). Ids are idempotency keys: the same fact
// must always get the same id, whoever builds it (hooks/jobcomp.sh builds the jobcomp id in shell, in the
// same form as `jobcompEventId`). Command results echo the command's type and workload, so nothing in the
// service takes a command id apart.
//
// An array task is a job id `123_4` (SlurmJobIdSchema); a requeued job ends once per run, so the ids of
// its ends carry when that run ended (the epilog id carries its restart count).

export const IdSchema = z.string().min(1).max(200);
/** A command's id: the relay names files after it, so it is one token that cannot be a path. */
export const CommandIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,199}$/, 'a command id (letters, digits and _ . : -, not a path)');
export const SlurmJobIdSchema = z.string().regex(/^\d+(_\d+)?$/, 'a Slurm job id such as "1234" or "1234_5"');
/** A job a person names: a plain Slurm job id (`123`, `123_4`) or a Torc job id. */
export const AnyJobIdSchema = z.union([SlurmJobIdSchema, z.string().regex(/^[1-9]\d{0,17}$/)]);
/** Of the most tasks of one array an event or command names (Slurm's MaxArraySize defaults to 1001). */
export const ARRAY_TASKS_NAMED = 10_000;

/** Jobs without the opt-in tag are recorded under this workload; "~" cannot start a tag's workload. */
export const UNTAGGED = '~untagged';
/** Jobs of owners the relay does not act for (core/owner.ts) are recorded here, never recovered. */
export const FOREIGN = '~foreign';
/** Where what concerns a whole cluster is recorded (its partitions, when they cannot be read). */
export const CLUSTER = '~cluster';
const TORC_PREFIX = 'torc-wf';

/** Workload names a plain job's tag may not use: they belong to Rebound's own records. */
export const isReservedWorkload = (name: string) => name.startsWith('~') || name.startsWith(TORC_PREFIX);

/** The characters of a workload name in a tag (`--comment=rebound:<workload>`). */
export const WORKLOAD_NAME = '[A-Za-z0-9_.-]{1,100}';

/** A workload key a person may name (policy overrides): a plain workload's name, or `torc-wf<id>`. */
export const WorkloadKeySchema = z
  .string()
  .refine(
    (k) =>
      torcWorkflowOf(k) !== undefined || (new RegExp(`^${WORKLOAD_NAME}$`).test(k) && !isReservedWorkload(k)),
    "not a workload: a tag's name (letters, digits, _ . -; not starting with torc-wf or ~) or torc-wf<workflow id>",
  );

export const torcWorkload = (workflowId: number) => `${TORC_PREFIX}${workflowId}`;

/**
 * A plain workload's key: the tag's name, and in site mode its owner's name too (`train@alice`), so two
 * users' tags of the same name never share a workload. "@" cannot occur in a tag's name.
 */
export const plainWorkload = (name: string, owner?: string) => (owner ? `${name}@${owner}` : name);

/** The tag name a plain workload's jobs carry (`train@alice` → `train`). */
export const tagNameOf = (workload: string) => workload.split('@')[0]!;

/** Whose workload it is, when its key says (`train@alice` → `alice`; a name has no "@", a user may). */
export function workloadOwner(workload: string): string | undefined {
  const at = workload.indexOf('@');
  return at > 0 ? workload.slice(at + 1) : undefined;
}

/** The workflow id of a Torc workload key, or undefined for a plain Slurm workload. */
export function torcWorkflowOf(workload: string): number | undefined {
  const m = /^torc-wf([1-9]\d*)$/.exec(workload);
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------- records

/** A plain Slurm job's record, and the lineage of a chain that starts with it. */
export const jobKey = (cluster: string, jobId: string) => `${cluster}:${jobId}`;

/** A cluster name may hold ':'; a Slurm job id never does: the job id is what follows the last ':'. */
export function parseJobKey(key: string): { cluster: string; jobId: string } {
  const at = key.lastIndexOf(':');
  const jobId = key.slice(at + 1);
  if (at <= 0 || !SlurmJobIdSchema.safeParse(jobId).success) throw new Error(`not a job key: "${key}"`);
  return { cluster: key.slice(0, at), jobId };
}

export const torcJobKey = (cluster: string, workflowId: number, jobId: number) =>
  `torc:${cluster}:${workflowId}:${jobId}`;

// ---------------------------------------------------------------- commands

export const commandIds = {
  /**
   * Enrichment of one end of a job: of its run that ended at `endedAt` (epoch seconds; a job Slurm requeues
   * ends once per run), or of its end where the source does not say when (an epilog).
   */
  enrich: (key: string, endedAt?: number) => (endedAt ? `enrich:${key}:e${endedAt}` : `enrich:${key}`),
  /** Attempt `n` of a plain job's chain: deterministic, so a redelivery re-sends the same command. */
  resubmit: (lineage: string, attempt: number) => `${lineage}:a${attempt}`,
  /**
   * The failed tasks of array `arrayJobId` that need the same resources, resubmitted as one array: named by
   * its first task (no two such sets share one), the same id however often it is sent.
   */
  resubmitArray: (cluster: string, arrayJobId: string, firstTask: number) =>
    `${cluster}:${arrayJobId}:g${firstTask}`,
  /**
   * The command tag a resubmission's job carries: the command id and the chain's random nonce, so nobody
   * can queue a job with it in advance (the lookup that finds it is the owner's own jobs only, too).
   */
  resubmitTag: (commandId: string, nonce: string) => `${commandId}.${nonce}`,
  /** Step `step` of a Torc recovery attempt. */
  torcStep: (workload: string, attempt: number, step: number, kind: string) =>
    `${workload}:a${attempt}:${step}-${kind}`,
  /** Orphan cleanup of one allocation: the same id whichever source saw it end. */
  cleanup: (workload: string, slurmJobId: string) => `${workload}:cleanup:${slurmJobId}`,
  /**
   * A person's orphan clean-up (`rebound sync`) and log request (`rebound logs`), named by their request
   * alone (a site-mode workload's key holds '@', which no command id may).
   */
  sync: (requestId: string) => `sync:${requestId}`,
  logs: (requestId: string) => `logs:${requestId}`,
  /** The n-th auto-schedule of a workflow. */
  schedule: (workload: string, n: number) => `${workload}:sched:s${n}`,
} as const;

// ---------------------------------------------------------------- events

/** A Torc run's completion: the id of its one page, and the source of the attempt it makes. */
const torcCompleted = (workflowId: number, runId: number) => `torc-complete:${workflowId}:${runId}`;

export const eventIds = {
  /**
   * A job's end as jobcomp reports it (hooks/jobcomp.sh and the sacct watcher: one id, counted once): its
   * own number and when that run ended (epoch seconds), since a job Slurm requeues ends once per run.
   */
  jobcomp: (cluster: string, rawId: string, endedAt: number) => `jobcomp:${cluster}:${rawId}:e${endedAt}`,
  /** The relay's reading of one end of a job (of the run the enrichment names, when it does). */
  sacct: (cluster: string, jobId: string, endedAt?: number) =>
    endedAt ? `sacct:${cluster}:${jobId}:e${endedAt}` : `sacct:${cluster}:${jobId}`,
  /** Tagged jobs first seen together (the same jobs posted again, after a restart, are one event). */
  tracked: (cluster: string, digest: string) => `tracked:${cluster}:${digest}`,
  /** A job stuck for one reason: reported once (another reason later is news). */
  stuck: (cluster: string, jobId: string, reason: string) => `stuck:${cluster}:${jobId}:${reason}`,
  result: (commandId: string) => `result:${commandId}`,
  torcJob: (workflowId: number, resultKey: string) => `torc-job:${workflowId}:${resultKey}`,
  torcCompleted,
  /** One page of a paged completion (a one-page completion keeps the run's own id). */
  torcCompletedPage: (workflowId: number, runId: number, index: number, count: number) =>
    count === 1
      ? torcCompleted(workflowId, runId)
      : `${torcCompleted(workflowId, runId)}:p${index}of${count}`,
  torcCensus: (workflowId: number, observedAtMs: number) => `torc-census:${workflowId}:${observedAtMs}`,
  /** The same partitions discovered again are the same event (`digest`: of the profile's JSON). */
  clusterDiscovered: (cluster: string, digest: string) => `cluster:${cluster}:${digest}`,
  allocationEnded: (workflowId: number, slurmJobId: string) => `allocation-ended:${workflowId}:${slurmJobId}`,
  /** A person's request (core/manual.ts): its own random id, so a retried POST is a new request. */
  personRequest: (requestId: string) => `request:${requestId}`,
} as const;
