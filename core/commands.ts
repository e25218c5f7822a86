import * as z from 'zod';
import { PlannedAllocationSchema } from './allocation.ts';
import { HookNameSchema } from './hook-name.ts';
import { AnyJobIdSchema, ARRAY_TASKS_NAMED, CommandIdSchema, IdSchema, SlurmJobIdSchema } from './ids.ts';
import { parseTag } from './tag.ts';

// Commands to the relay are typed records, never command strings: the relay validates them again and maps
// each to argument vectors of its own. Hooks are names the relay's own config resolves.

/**
 * The relay protocol this release speaks. The relay runs on a login node and the service may run in AWS:
 * they are upgraded separately. A command whose protocol is newer than the relay's, or whose type the
 * relay does not know, is answered with a failed result (relay/relay.ts), never dropped.
 */
export const PROTOCOL = 4;

/** `rebound logs --tail`: at most this many lines, and at most LOG_BYTES_MAX of them, come back. */
export const LOG_LINES_MAX = 10_000;
export const LOG_BYTES_MAX = 64 * 1024;

const CommandBaseSchema = z.object({
  /** Idempotency key, also the message-deduplication id on the FIFO queue. */
  id: CommandIdSchema,
  /**
   * The relay protocol the command needs (commands from before versioning are protocol 1; 2 since 0.3:
   * a resubmission carries its whole comment, nonce included; 3 since 0.4: a resubmission of array tasks,
   * which an older relay would submit as one plain job, or one kept off failed nodes; 4 since 0.5: a
   * person's requests through the relay, `torc.sync` and `job.logs`).
   */
  protocol: z.number().int().positive().default(1),
  /** The workload it belongs to (one FIFO message group each). */
  workload: z.string().min(1).max(200),
  createdAt: z.iso.datetime({ offset: true }),
});

/** Escalated Slurm options: only these may change on a resubmission. */
export const SlurmResourcesSchema = z.object({
  mem: z
    .string()
    .regex(/^\d+[KMGT]?$/)
    .optional(),
  time: z
    .string()
    .regex(/^(\d+-)?\d+(:\d+){0,2}$/)
    .optional(),
  partition: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .optional(),
  /**
   * What the retry waits on (`afterok:43`): a dependent Slurm cancelled because a job it waited on
   * failed (kill_invalid_depend), resubmitted to wait on that job's resubmission.
   */
  dependency: z
    .string()
    .regex(/^[a-z_]+(:[0-9_+]+)*([,?][a-z_]+(:[0-9_+]+)*)*$/)
    .max(1000)
    .optional(),
  /** Nodes to keep off (a node failure's retry): a Slurm host list such as `node[01-03],gpu7`. */
  exclude: z
    .string()
    .regex(/^[A-Za-z0-9_.,[\]-]{1,1000}$/)
    .optional(),
});

const ResubmitSlurmJobCommandSchema = CommandBaseSchema.extend({
  type: z.literal('slurm.resubmit'),
  /** The job whose captured script and options are resubmitted. */
  jobId: SlurmJobIdSchema,
  /**
   * The new job's comment: the opt-in tag and this command's own tag, with the chain's nonce, so a
   * retried command finds the job it already submitted and nobody else can predict it.
   */
  comment: z
    .string()
    .refine(
      (c) => parseTag(c)?.kind === 'workload' && parseTag(c)?.commandTag !== undefined,
      'a tag "rebound:<workload>/<command tag>"',
    ),
  resources: SlurmResourcesSchema,
  /**
   * For an array task (`jobId` is `123_4`): the indexes resubmitted together as one new array
   * (`--array=2,4`), each with these resources (service/slurm-arrays.ts groups them).
   */
  tasks: z.array(z.number().int().nonnegative()).min(1).max(ARRAY_TASKS_NAMED).optional(),
});

const EnrichFromSacctCommandSchema = CommandBaseSchema.extend({
  type: z.literal('slurm.enrich'),
  jobId: SlurmJobIdSchema,
  /** The event whose evidence is incomplete; the relay posts a slurm.sacct event in its place. */
  eventId: IdSchema,
  /** When the run that ended did (epoch seconds), where the event said: the sacct event names that run. */
  endedAt: z.number().int().positive().optional(),
  /** Slurm's state for that run as the event said, for a run of a job Slurm has queued again. */
  state: z.string().max(100).optional(),
  /**
   * What else the end said, for a reading the relay makes without accounting (a job Slurm queued again, one
   * the queue watch saw untagged): the end itself is not stored (service/slurm-recovery.ts).
   */
  jobName: z.string().max(4096).optional(),
  exitCode: z.string().max(100).optional(),
  nodes: z.string().max(4096).optional(),
});

const UpdateTorcResourcesCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.update-resources'),
  workflowId: z.number().int().positive(),
  resourceRequirementsId: z.number().int().positive(),
  /** Set when only some jobs of a shared group change: the relay creates this copy and moves them onto it. */
  cloneAs: z.string().max(200).optional(),
  jobIds: z.array(z.number().int().positive()),
  memory: z.string().regex(/^\d+[kmgt]?$/),
  runtime: z.string().min(2),
});

const ResetTorcJobsCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.reset-jobs'),
  workflowId: z.number().int().positive(),
  jobIds: z.array(z.number().int().positive()).min(1),
  reinitialize: z.boolean().default(true),
});

const SubmitTorcAllocationsCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.submit-allocations'),
  workflowId: z.number().int().positive(),
  /** Deterministic names (`<rr>_a<attempt>`): a repeated command finds what it already submitted. */
  allocations: z.array(PlannedAllocationSchema).min(1),
});

/** Orphan cleanup for one ended allocation: its jobs still marked running become failed (−128). */
const CleanupTorcAllocationCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.cleanup-allocation'),
  workflowId: z.number().int().positive(),
  slurmJobId: SlurmJobIdSchema,
});

/**
 * `rebound sync` (like `torc workflows sync-status`): every allocation Torc still counts as live that
 * Slurm no longer knows is cleaned up as one that ended; with dryRun, only named.
 */
const SyncTorcWorkflowCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.sync'),
  workflowId: z.number().int().positive(),
  dryRun: z.boolean().default(false),
});

/**
 * A person's `rebound logs`: the tail of a job's standard output or error, read by the relay from the path
 * its own records give (a plain job's capture; Torc's output folder) — never a path from the wire.
 */
const JobLogsCommandSchema = CommandBaseSchema.extend({
  type: z.literal('job.logs'),
  /** A plain Slurm job id, or (with `torc`) a Torc job id. */
  jobId: AnyJobIdSchema,
  stream: z.enum(['stdout', 'stderr']),
  lines: z.number().int().min(1).max(LOG_LINES_MAX),
  /** A Torc job: which run and attempt wrote the file (`job_stdio/job_wf<W>_j<job>_r<run>_a<attempt>`). */
  torc: z
    .object({
      workflowId: z.number().int().positive(),
      runId: z.number().int().nonnegative(),
      attempt: z.number().int().positive(),
    })
    .optional(),
});

const RunHookCommandSchema = CommandBaseSchema.extend({
  type: z.literal('hook.run'),
  hook: HookNameSchema,
  workflowId: z.number().int().positive().optional(),
});

export const CommandSchema = z.discriminatedUnion('type', [
  ResubmitSlurmJobCommandSchema,
  EnrichFromSacctCommandSchema,
  UpdateTorcResourcesCommandSchema,
  ResetTorcJobsCommandSchema,
  SubmitTorcAllocationsCommandSchema,
  CleanupTorcAllocationCommandSchema,
  SyncTorcWorkflowCommandSchema,
  JobLogsCommandSchema,
  RunHookCommandSchema,
]);

export type Command = z.infer<typeof CommandSchema>;
export const CommandTypeSchema = z.enum(CommandSchema.options.map((o) => o.shape.type.value));
export type CommandType = Command['type'];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;
export type SlurmResources = z.infer<typeof SlurmResourcesSchema>;

/**
 * Whether a command delivered twice, days apart, would act twice — so that the AWS sender must remember its
 * id past the FIFO queue's five minutes (a DynamoDB write each). A reading does no harm twice, and a
 * resubmission is answered from the relay's intent journal (kept 14 days, longer than any queue keeps a
 * message: relay/intents.ts); every other action is remembered.
 */
export const REMEMBERED_BY_SERVICE = {
  'slurm.enrich': false,
  'slurm.resubmit': false,
  'job.logs': false,
  'torc.update-resources': true,
  'torc.reset-jobs': true,
  'torc.submit-allocations': true,
  'torc.cleanup-allocation': true,
  'torc.sync': true,
  'hook.run': true,
} as const satisfies Record<CommandType, boolean>;
