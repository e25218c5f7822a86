import * as z from 'zod';

// Torc's wire models, the recovery subset, written by hand from torc-openapi.yaml with the server's real
// behaviour where the spec drifts: `pending_failed` exists, status fields are the
// enum, resource requirements need every field, optional fields are left out rather than
// null. Unknown fields pass through (`looseObject`): a newer server must not break the relay.

const TorcJobStatusSchema = z.enum([
  'uninitialized',
  'blocked',
  'ready',
  'pending',
  'running',
  'completed',
  'failed',
  'canceled',
  'terminated',
  'disabled',
  'pending_failed',
]);
export type TorcJobStatus = z.infer<typeof TorcJobStatusSchema>;

export const TorcJobSchema = z.looseObject({
  id: z.number().int(),
  workflow_id: z.number().int(),
  name: z.string(),
  command: z.string(),
  status: TorcJobStatusSchema.optional(),
  resource_requirements_id: z.number().int().optional(),
  scheduler_id: z.number().int().nullable().optional(),
  attempt_id: z.number().int().optional(),
  depends_on_job_ids: z.array(z.number().int()).optional(),
});
export type TorcJob = z.infer<typeof TorcJobSchema>;

export const TorcResultSchema = z.looseObject({
  id: z.number().int().optional(),
  job_id: z.number().int(),
  workflow_id: z.number().int(),
  run_id: z.number().int(),
  attempt_id: z.number().int().optional(),
  compute_node_id: z.number().int(),
  return_code: z.number().int(),
  exec_time_minutes: z.number(),
  completion_time: z.string(),
  status: TorcJobStatusSchema,
  peak_memory_bytes: z.number().int().optional(),
  avg_memory_bytes: z.number().int().optional(),
});
export type TorcResult = z.infer<typeof TorcResultSchema>;

export const TorcResourceRequirementsSchema = z.looseObject({
  id: z.number().int().optional(),
  workflow_id: z.number().int(),
  name: z.string(),
  num_cpus: z.number().int(),
  num_gpus: z.number().int(),
  num_nodes: z.number().int(),
  memory: z.string(),
  runtime: z.string(),
});
export type TorcResourceRequirements = z.infer<typeof TorcResourceRequirementsSchema>;

export const TorcWorkflowStatusSchema = z.looseObject({
  id: z.number().int().optional(),
  is_canceled: z.boolean(),
  is_archived: z.boolean().optional(),
  run_id: z.number().int(),
  has_detected_need_to_run_completion_script: z.boolean().optional(),
});
export type TorcWorkflowStatus = z.infer<typeof TorcWorkflowStatusSchema>;

export const TorcIsCompleteSchema = z.looseObject({
  is_canceled: z.boolean(),
  is_complete: z.boolean(),
  needs_to_run_completion_script: z.boolean().optional(),
});

export const TorcSlurmSchedulerSchema = z.looseObject({
  id: z.number().int().optional(),
  workflow_id: z.number().int(),
  name: z.string().optional(),
  account: z.string(),
  nodes: z.number().int(),
  walltime: z.string(),
  mem: z.string().optional(),
  partition: z.string().optional(),
  gres: z.string().optional(),
  extra: z.string().optional(),
});
export type TorcSlurmScheduler = z.infer<typeof TorcSlurmSchedulerSchema>;

export const TorcScheduledComputeNodeSchema = z.looseObject({
  id: z.number().int().optional(),
  workflow_id: z.number().int(),
  scheduler_id: z.number().int(),
  scheduler_config_id: z.number().int(),
  scheduler_type: z.string(),
  status: z.string(),
});
export type TorcScheduledComputeNode = z.infer<typeof TorcScheduledComputeNodeSchema>;

export const TorcComputeNodeSchema = z.looseObject({
  id: z.number().int().optional(),
  workflow_id: z.number().int(),
  hostname: z.string(),
  pid: z.number().int(),
  start_time: z.string(),
  num_cpus: z.number().int(),
  memory_gb: z.number(),
  num_gpus: z.number().int(),
  num_nodes: z.number().int(),
  compute_node_type: z.string(),
  is_active: z.boolean().nullable().optional(),
  scheduler: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type TorcComputeNode = z.infer<typeof TorcComputeNodeSchema>;

/** `{items, offset, max_limit, count, total_count, has_more}`: every list endpoint. */
export const torcList = <T extends z.ZodType>(item: T) =>
  z.looseObject({
    items: z.array(item),
    offset: z.number().int(),
    count: z.number().int(),
    total_count: z.number().int(),
    has_more: z.boolean(),
  });

/** One SSE frame's data (not in the spec); the lag warning `{dropped}` has no event_type. */
export const TorcBroadcastEventSchema = z.looseObject({
  workflow_id: z.number().int(),
  timestamp: z.number().int(),
  event_type: z.string(),
  severity: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type TorcBroadcastEvent = z.infer<typeof TorcBroadcastEventSchema>;

/** Terminal job statuses that `is_workflow_complete` counts as done (pending_failed is not). */
export const TORC_DONE: readonly TorcJobStatus[] = TorcJobStatusSchema.extract([
  'completed',
  'failed',
  'canceled',
  'terminated',
  'disabled',
]).options;

/** Statuses a job has when it carries a result (pending_failed: a failure handler is still deciding). */
export const TorcResultStatusSchema = TorcJobStatusSchema.extract([
  'completed',
  'failed',
  'terminated',
  'canceled',
  'pending_failed',
]);
export const TORC_RESULT_STATUSES: readonly TorcJobStatus[] = TorcResultStatusSchema.options;

/** Return code Torc's orphan cleanup gives a job whose allocation died. */
export const ORPHANED_RETURN_CODE = -128;
