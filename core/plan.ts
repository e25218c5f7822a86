import * as z from 'zod';
import { PlannedAllocationSchema } from './allocation.ts';
import { SlurmResourcesSchema } from './commands.ts';
import { CauseSchema } from './diagnose.ts';
import { ManualMarkSchema } from './manual.ts';

// A plan is a value: what recovery would do and why, in words a person reads. The worker executes it,
// `rebound plan` prints it, the status API shows it; all three call the same planner.

const ChangeSchema = z.object({
  what: z.enum(['memory', 'runtime', 'partition']),
  from: z.string(),
  to: z.string(),
});

const DecisionSchema = z.object({
  jobId: z.string(),
  jobName: z.string(),
  cause: CauseSchema,
  confidence: z.enum(['high', 'medium', 'low']),
  summary: z.string(),
  retry: z.boolean(),
  changes: z.array(ChangeSchema),
  note: z.string(),
  /** What the retry cannot keep of the job as it was (its environment), said with its line. */
  caveats: z.array(z.string()).optional(),
});

const PlanActionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('resubmit-job'), jobId: z.string(), resources: SlurmResourcesSchema }),
  z.object({
    type: z.literal('update-resources'),
    rrId: z.number().int(),
    rrName: z.string(),
    cloneAs: z.string().optional(),
    jobIds: z.array(z.number().int()),
    memory: z.string(),
    runtime: z.string(),
  }),
  z.object({ type: z.literal('run-hook'), hook: z.string() }),
  z.object({ type: z.literal('reset-jobs'), jobIds: z.array(z.number().int()) }),
  z.object({ type: z.literal('submit-allocations'), allocations: z.array(PlannedAllocationSchema) }),
]);

const STOP_REASONS = [
  'max-retries',
  'nothing-recoverable',
  'exceeds-partitions',
  'limits-unknown',
  'records-incomplete',
  'nothing-failed',
  'cancelled-by-owner',
  'waits-for-prerequisite',
] as const;

export const PlanSchema = z.object({
  workload: z.string(),
  kind: z.enum(['slurm', 'torc']),
  /** The attempt this plan would use (attempts claimed + 1). */
  attempt: z.number().int().positive(),
  /** A person's attempt by hand (core/manual.ts): who, how, and how many automatic retries were used. */
  manual: ManualMarkSchema.extend({ automaticUsed: z.number().int().nonnegative() }).optional(),
  createdAt: z.string(),
  outcome: z.enum(['recover', 'stop']),
  stopReason: z.enum(STOP_REASONS).optional(),
  decisions: z.array(DecisionSchema),
  actions: z.array(PlanActionSchema),
  report: z.array(z.string()),
});

export type Plan = z.infer<typeof PlanSchema>;
export type PlanAction = z.infer<typeof PlanActionSchema>;
export type Decision = z.infer<typeof DecisionSchema>;
export type StopReason = (typeof STOP_REASONS)[number];
