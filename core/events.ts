import * as z from 'zod';
import { CommandTypeSchema, LOG_BYTES_MAX } from './commands.ts';
import { ARRAY_TASKS_NAMED, IdSchema as Id, SlurmJobIdSchema as SlurmJobId } from './ids.ts';
import {
  LogsRequestSchema,
  ManualMarkSchema,
  ManualRecoverySchema,
  ResourcesRequestSchema,
} from './manual.ts';
import { OwnerSchema, UserNameSchema } from './owner.ts';
import { parseProfile } from './profiles.ts';
import { TorcResultStatusSchema } from './torc-model.ts';

// Canonical events: everything that enters Rebound is one of these, whatever sent it. Raw strings from
// Slurm (states, "exit:signal", "200M") are kept as Slurm wrote them; diagnosis reads them with core/units.

const Text = z.string().max(4096);

const EnvelopeSchema = z.object({
  /** Idempotency key: a repeated id is accepted and ignored. */
  id: Id,
  version: z.literal(1),
  /** Who sent it: "jobcomp", "epilog-ctld", "relay:sacct", "relay:torc", "relay:executor". */
  source: z.string().min(1).max(100),
  occurredAt: z.iso.datetime({ offset: true }),
  cluster: z.string().min(1).max(100),
});

/** What every Slurm source knows about a job that ended. */
const SlurmJobBase = z.object({
  jobId: SlurmJobId,
  jobName: Text.optional(),
  partition: Text.optional(),
  /** What the hook said (its environment's USERNAME): kept for people to read, never used as the owner. */
  user: Text.optional(),
  account: Text.optional(),
  workDir: Text.optional(),
});

/** jobcomp/script: final state and exit code, once per job; no MaxRSS, no comment. */
const SlurmJobcompEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.jobcomp'),
  data: SlurmJobBase.extend({
    state: z.string().min(1),
    exitCode: Text,
    derivedExitCode: Text.optional(),
    timeLimit: Text.optional(),
    startedAt: z.number().int().nonnegative().optional(),
    endedAt: z.number().int().nonnegative().optional(),
    /** The nodes it ran on (a node failure's retry keeps off them). */
    nodes: Text.optional(),
  }),
});

/** EpilogSlurmctld / Epilog: no state; raw wait status and "exit:signal". Incomplete evidence by design. */
const SlurmEpilogEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.epilog'),
  data: SlurmJobBase.extend({
    rawExitStatus: z.number().int().nonnegative().optional(),
    exitCode: Text.optional(),
    restartCount: z.number().int().nonnegative().optional(),
  }),
});

/** The relay's sacct watcher (and enrichment): the only source of MaxRSS. */
const SlurmSacctEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.sacct'),
  data: SlurmJobBase.extend({
    state: z.string().min(1),
    exitCode: Text,
    reason: Text.optional(),
    maxRss: Text.optional(),
    reqMem: Text.optional(),
    elapsed: Text.optional(),
    timeLimit: Text.optional(),
    /** CPU time its processes used (sacct's TotalCPU): with its CPUs and elapsed time, its efficiency. */
    totalCpu: Text.optional(),
    comment: Text.optional(),
    /** The owner as Slurm accounts it (sacct's UID), read by the relay. */
    owner: OwnerSchema.optional(),
    /** Why the relay will not act for this owner (core/owner.ts): the job is recorded, never recovered. */
    foreign: Text.optional(),
    /**
     * Whether the cluster kept the environment the job was submitted with (`sacct --env-vars`, with
     * AccountingStoreFlags=job_env): its retry runs with exactly that. Only this word travels; the
     * variables (users' secrets among them) stay with Slurm and the relay.
     */
    environment: z.enum(['stored', 'not-stored']).optional(),
    /** The nodes it ran on (sacct's NodeList). */
    nodes: Text.optional(),
    /** Its QOS (a partition may admit some QOS only). */
    qos: Text.optional(),
    /** Its owner's Unix groups, as the relay read them (`id -Gn`): a partition may admit some only. */
    groups: z.array(z.string().max(100)).max(200).optional(),
    /** What it waited on, as captured (`afterok:40`): a dependent Slurm cancelled follows its prerequisite. */
    dependency: Text.optional(),
    /** What one of its nodes held (from the relay's capture): planned with these, not with one CPU. */
    cpus: z.number().int().positive().optional(),
    gpus: z.number().int().nonnegative().optional(),
    /**
     * Slurm requeued the job itself (a node failure, a preemption): this end is one run's, the job is
     * queued again under the same id, and Rebound follows it instead of resubmitting it.
     */
    requeued: z.boolean().optional(),
    /**
     * The end of the run this reading is of (epoch seconds, jobcomp's word, echoed from the enrichment): a
     * job Slurm runs again ends more than once, and the service keeps each run's reading to its run.
     */
    endedAt: z.number().int().positive().optional(),
    /**
     * An array task (`jobId` is `123_4`): its array, and — for a task that did not complete — where the
     * whole array stood when the relay read it: the tasks that did not complete, and whether any is still
     * pending or running, so the service resubmits the failed tasks together once none is left
     * (service/slurm-arrays.ts).
     */
    array: z
      .object({
        jobId: z.string().regex(/^\d+$/),
        taskId: z.number().int().nonnegative(),
        progress: z
          .object({
            failed: z.array(z.number().int().nonnegative()).max(ARRAY_TASKS_NAMED),
            live: z.boolean(),
          })
          .optional(),
      })
      .optional(),
  }),
});

const DependentSchema = z.object({
  jobId: SlurmJobId,
  user: UserNameSchema,
  /** Its dependency with the new job in place of the old one. */
  dependency: z.string().max(1000),
});

/** What a resubmission did to the jobs waiting on the job it replaced (relay/dependents.ts). */
const DependentsReportSchema = z.object({
  rewired: z.array(DependentSchema).max(1000),
  /** Dependents of owners this relay does not act for: not changed, and why. */
  reported: z.array(DependentSchema.extend({ reason: Text })).max(1000),
  /** Why the dependents could not be found or changed (squeue or scontrol failed): a person must look. */
  error: Text.optional(),
});
export type DependentsReport = z.infer<typeof DependentsReportSchema>;

/** The relay saw a job Rebound submitted pending for a reason that never resolves (core/pending.ts). */
const SlurmJobStuckEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.job.stuck'),
  data: z.object({
    jobId: SlurmJobId,
    /** Slurm's pending reason, as squeue prints it (%r). */
    reason: z.string().min(1).max(100),
  }),
});

/**
 * Tagged jobs the relay saw queued or running (one squeue per poll): the jobs whose end Rebound tracks.
 * The end of a job nobody tracks costs nothing when it completed (service/slurm-recovery.ts); the owner
 * and the tag are read again from Slurm when the job ends, so this event grants nothing.
 */
/** Jobs named in one `slurm.tracked` event (a poll that finds more posts several). */
export const TRACKED_PER_EVENT = 1000;

const SlurmTrackedEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.tracked'),
  data: z.object({
    jobs: z
      .array(z.object({ jobId: SlurmJobId, jobName: z.string().max(200).optional() }))
      .min(1)
      .max(TRACKED_PER_EVENT),
  }),
});

/**
 * The cluster's partitions as its relay read them from Slurm (core/cluster-profile.ts), at start and
 * hourly: the profile plans use unless the config names one. A profile in its JSON form ("UNLIMITED").
 */
const SlurmClusterDiscoveredEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.cluster.discovered'),
  data: z.object({
    profile: z.unknown().superRefine((value, ctx) => {
      try {
        parseProfile(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
    /** What was left out, and why (a partition down, hidden, without nodes). */
    notes: z.array(Text).max(200).default([]),
  }),
});

/** A Torc resource-requirements row as events carry it (memory and runtime in Torc's own formats). */
const TorcRrSchema = z.object({
  id: z.number().int().positive(),
  name: Text,
  memory: Text,
  runtime: Text,
  // Torc's server takes 0 CPUs or nodes in a row: one odd row must not reject a whole completion (the
  // planner counts it as 1: core/torc-state.ts).
  numCpus: z.number().int().nonnegative(),
  numGpus: z.number().int().nonnegative().default(0),
  numNodes: z.number().int().nonnegative().default(1),
});

export type TorcRr = z.infer<typeof TorcRrSchema>;

/** A Torc job reached a terminal status, enriched by the forwarder with its result and resources. */
const TorcJobFinishedEventSchema = EnvelopeSchema.extend({
  type: z.literal('torc.job.finished'),
  data: z.object({
    workflowId: z.number().int().positive(),
    jobId: z.number().int().positive(),
    jobName: Text,
    status: TorcResultStatusSchema,
    runId: z.number().int().nonnegative(),
    returnCode: z.number().int(),
    execTimeMinutes: z.number().nonnegative(),
    peakMemoryBytes: z.number().int().nonnegative().optional(),
    attemptId: z.number().int().positive().default(1),
    /** Absent when Torc gives the job no row: that job alone needs attention (core/planner.ts). */
    resourceRequirements: TorcRrSchema.optional(),
  }),
});

/** Each resource-requirements row's number of jobs: whether a change covers a whole row (core/torc-actions.ts). */
const RrSizesSchema = z.record(z.string().regex(/^\d+$/), z.number().int().nonnegative());

/**
 * Torc emits no such event; the forwarder detects completion (is_complete) and sends it after the
 * torc.job.finished events of that run. It carries what recovery needs besides those: which jobs failed,
 * which were cancelled behind them, and how many jobs use each resource-requirements row. A large
 * workflow's completion comes in pages (each small enough for a queue message: relay/torc-events.ts);
 * every page repeats the row sizes, carries its share of the job lists and the rows its cancelled jobs use,
 * and the worker plans once it holds them all (service/torc-recovery.ts).
 */
const TorcWorkflowCompletedEventSchema = EnvelopeSchema.extend({
  type: z.literal('torc.workflow.completed'),
  data: z.preprocess(
    // Relays before 0.4 listed every member of each row (a 100,000-job workflow did not fit an event):
    // their completions are still read, as the sizes they imply.
    (d) =>
      d && typeof d === 'object' && 'rrMembers' in d && !('rrSizes' in d)
        ? {
            ...d,
            rrSizes: Object.fromEntries(
              Object.entries((d as { rrMembers: Record<string, unknown> }).rrMembers).map(([k, v]) => [
                k,
                Array.isArray(v) ? v.length : v,
              ]),
            ),
          }
        : d,
    z.object({
      workflowId: z.number().int().positive(),
      runId: z.number().int().nonnegative(),
      isCanceled: z.boolean().default(false),
      page: z
        .object({ index: z.number().int().positive(), count: z.number().int().positive().max(1000) })
        .refine((p) => p.index <= p.count, { message: 'index must be at most count' })
        .default({ index: 1, count: 1 }),
      failedJobIds: z.array(z.number().int().positive()).max(50_000),
      canceled: z
        .array(z.object({ id: z.number().int().positive(), rrId: z.number().int().positive() }))
        .max(20_000)
        .default([]),
      rrSizes: RrSizesSchema,
      resourceRequirements: z.array(TorcRrSchema).max(1000),
      /** Allocations Torc still counts as pending or running: recovery waits for them (as Torc's does). */
      liveAllocations: z.number().int().nonnegative().default(0),
    }),
  ),
});

export type TorcCompletionPage = EventOf<'torc.workflow.completed'>['data'];

/**
 * What auto-schedule decides on, posted by the forwarder when it changes: the jobs ready to run (with
 * their attempt: > 1 means a failure handler retried them) and how many allocations are pending or active.
 */
const TorcWorkflowCensusEventSchema = EnvelopeSchema.extend({
  type: z.literal('torc.workflow.census'),
  data: z.object({
    workflowId: z.number().int().positive(),
    /** The user the workflow's allocations run as (the relay's watch list), for who may read it. */
    owner: UserNameSchema.optional(),
    observedAt: z.iso.datetime({ offset: true }),
    liveAllocations: z.number().int().nonnegative(),
    /** Every ready job; `ready` lists at most CENSUS_READY of them (the lowest ids). */
    readyTotal: z.number().int().nonnegative().optional(),
    /** Jobs Torc holds as `pending_failed` (they keep the workflow incomplete until someone decides). */
    pendingFailed: z.number().int().nonnegative().default(0),
    /** Jobs claimed by a runner or running. */
    active: z.number().int().nonnegative().default(0),
    ready: z
      .array(
        z.object({
          id: z.number().int().positive(),
          rrId: z.number().int().positive(),
          attemptId: z.number().int().positive(),
        }),
      )
      .max(10_000),
    resourceRequirements: z.array(TorcRrSchema).max(1000),
  }),
});

/** A Slurm allocation that ran Torc's job runner is gone (from squeue/sacct or the allocation's jobcomp). */
const SlurmAllocationEndedEventSchema = EnvelopeSchema.extend({
  type: z.literal('slurm.allocation.ended'),
  data: z.object({
    workflowId: z.number().int().positive(),
    slurmJobId: SlurmJobId,
    scheduledComputeNodeId: z.number().int().positive().optional(),
    state: Text,
  }),
});

/**
 * A person's request (`rebound recover`, `rebound sync`, an MCP write tool), put on the queue by the API
 * after their token was checked — never accepted on the webhook (service/ingest.ts): who asked comes from
 * the token, and the worker acts on it through the same claims as on any event.
 */
const PersonRequestEventSchema = EnvelopeSchema.extend({
  type: z.literal('person.request'),
  data: z.discriminatedUnion('action', [
    z.object({
      action: z.literal('recover'),
      workload: z.string().min(1).max(200),
      mark: ManualMarkSchema,
      request: ManualRecoverySchema,
    }),
    z.object({
      action: z.literal('sync'),
      workload: z.string().min(1).max(200),
      mark: ManualMarkSchema,
      dryRun: z.boolean().default(false),
    }),
    z.object({
      action: z.literal('set-resources'),
      workload: z.string().min(1).max(200),
      mark: ManualMarkSchema,
      /** The record the API found for the job it names: the worker reads it, and checks it is the workload's. */
      jobKey: Id,
      request: ResourcesRequestSchema,
    }),
    z.object({
      action: z.literal('logs'),
      workload: z.string().min(1).max(200),
      mark: ManualMarkSchema,
      /** The record the API found for the job it names: the worker reads it, and checks it is the workload's. */
      jobKey: Id,
      request: LogsRequestSchema,
    }),
  ]),
});

/** Event types only the service itself makes: the webhook refuses them. */
export const SERVICE_ONLY_EVENTS: ReadonlySet<string> = new Set(['person.request']);

/** The relay's report on a command it executed. */
const CommandResultEventSchema = EnvelopeSchema.extend({
  type: z.literal('relay.command.result'),
  data: z.object({
    commandId: Id,
    /** Echoed from the command, so the worker routes the result without taking its id apart. */
    commandType: CommandTypeSchema,
    workload: z.string().min(1).max(200),
    ok: z.boolean(),
    /** For submissions: the Slurm job id(s) created (or found already submitted). */
    slurmJobIds: z.array(SlurmJobId).default([]),
    alreadyDone: z.boolean().default(false),
    output: Text.default(''),
    error: Text.optional(),
    /** A resubmission's pending dependents: made to wait on the new job, or (another's) reported. */
    dependents: DependentsReportSchema.optional(),
    /** `job.logs`: the tail of the file, where it was read, and whether more lines were there. */
    log: z.object({ path: Text, text: z.string().max(LOG_BYTES_MAX), truncated: z.boolean() }).optional(),
  }),
});

export const EventSchema = z.discriminatedUnion('type', [
  SlurmJobcompEventSchema,
  SlurmEpilogEventSchema,
  SlurmSacctEventSchema,
  SlurmJobStuckEventSchema,
  SlurmTrackedEventSchema,
  SlurmClusterDiscoveredEventSchema,
  TorcJobFinishedEventSchema,
  TorcWorkflowCompletedEventSchema,
  TorcWorkflowCensusEventSchema,
  SlurmAllocationEndedEventSchema,
  CommandResultEventSchema,
  PersonRequestEventSchema,
]);

export type Event = z.infer<typeof EventSchema>;
export type EventType = Event['type'];
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;
export type SlurmJobEvent = EventOf<'slurm.jobcomp' | 'slurm.epilog' | 'slurm.sacct'>;
