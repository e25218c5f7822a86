import * as z from 'zod';

// Commands to the relay are typed records, never command strings: the relay validates them again and maps
// each to argument vectors of its own. Hooks are names the relay's own config resolves.

const Id = z.string().min(1).max(200);
const HookName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a hook name (letters, digits, _ . -)');
const SlurmJobId = z.string().regex(/^\d+(_\d+)?$/);

export const CommandBaseSchema = z.object({
  /** Idempotency key, also the message-deduplication id on the FIFO queue. */
  id: Id,
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
});

export const ResubmitSlurmJobCommandSchema = CommandBaseSchema.extend({
  type: z.literal('slurm.resubmit'),
  /** The job whose captured script and options are resubmitted. */
  jobId: SlurmJobId,
  /** Carried into the new job's comment so a retried command finds the job it already submitted. */
  tag: z.string().regex(/^[A-Za-z0-9_.:-]{1,120}$/),
  resources: SlurmResourcesSchema,
});

export const SubmitBatchScriptCommandSchema = CommandBaseSchema.extend({
  type: z.literal('slurm.submit-script'),
  tag: z.string().regex(/^[A-Za-z0-9_.:-]{1,120}$/),
  /** sbatch options as --name → value; the relay turns them into "--name=value" arguments. */
  options: z.record(z.string().regex(/^[a-z][a-z-]*$/), z.string().max(1024)),
  script: z.string().max(256 * 1024),
});

export const EnrichFromSacctCommandSchema = CommandBaseSchema.extend({
  type: z.literal('slurm.enrich'),
  jobId: SlurmJobId,
  /** The event whose evidence is incomplete; the relay posts a slurm.sacct event in its place. */
  eventId: Id,
});

export const UpdateTorcResourcesCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.update-resources'),
  workflowId: z.number().int().positive(),
  resourceRequirementsId: z.number().int().positive(),
  /** Set when only some jobs of a shared group change: the relay creates this copy and moves them onto it. */
  cloneAs: z.string().max(200).optional(),
  jobIds: z.array(z.number().int().positive()),
  memory: z.string().regex(/^\d+[kmgt]?$/),
  runtime: z.string().min(2),
});

export const ResetTorcJobsCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.reset-jobs'),
  workflowId: z.number().int().positive(),
  jobIds: z.array(z.number().int().positive()).min(1),
  reinitialize: z.boolean().default(true),
});

/** One group of identical allocations, as core/allocation.ts plans it (sbatch values are checked formats). */
export const PlannedAllocationSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,120}$/),
  rr: z.string(),
  deferred: z.boolean(),
  partition: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  count: z.number().int(),
  nodes: z.number().int(),
  walltime: z.string().regex(/^(\d+-)?\d+(:\d+){0,2}$/),
  mem: z.string().regex(/^\d+[KMGT]?$/),
  cpusPerTask: z.number().int(),
  gres: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]{1,64}$/)
    .optional(),
  jobsPerAllocation: z.number().int(),
  jobIds: z.array(z.number().int()),
});

export const SubmitTorcAllocationsCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.submit-allocations'),
  workflowId: z.number().int().positive(),
  /** Deterministic names (`<rr>_a<attempt>`): a repeated command finds what it already submitted. */
  allocations: z.array(PlannedAllocationSchema).min(1),
});

/** Orphan cleanup for one ended allocation: its jobs still marked running become failed (−128). */
export const CleanupTorcAllocationCommandSchema = CommandBaseSchema.extend({
  type: z.literal('torc.cleanup-allocation'),
  workflowId: z.number().int().positive(),
  slurmJobId: SlurmJobId,
});

export const RunHookCommandSchema = CommandBaseSchema.extend({
  type: z.literal('hook.run'),
  hook: HookName,
  workflowId: z.number().int().positive().optional(),
});

export const CommandSchema = z.discriminatedUnion('type', [
  ResubmitSlurmJobCommandSchema,
  SubmitBatchScriptCommandSchema,
  EnrichFromSacctCommandSchema,
  UpdateTorcResourcesCommandSchema,
  ResetTorcJobsCommandSchema,
  SubmitTorcAllocationsCommandSchema,
  CleanupTorcAllocationCommandSchema,
  RunHookCommandSchema,
]);

export type Command = z.infer<typeof CommandSchema>;
export type CommandType = Command['type'];
export type SlurmResources = z.infer<typeof SlurmResourcesSchema>;
