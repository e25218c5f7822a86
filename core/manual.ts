import * as z from 'zod';
import { LOG_LINES_MAX } from './commands.ts';
import { HookNameSchema } from './hook-name.ts';
import { AnyJobIdSchema } from './ids.ts';
import { type EffectivePolicy, Multiplier } from './policy.ts';

// A person's recovery by hand (`rebound recover`, the MCP tool resubmit_workflow): one attempt now, like
// `torc recover`, through the worker's own planner, claims and commands, with overrides for this attempt
// only. It is allowed after max retries (the person decides), uses up no automatic retry, and is recorded
// with who asked and how.

/** What a person may change for one manual attempt; every field optional. */
export const ManualRecoverySchema = z.strictObject({
  memoryMultiplier: Multiplier.optional(),
  runtimeMultiplier: Multiplier.optional(),
  /** Include failures of unknown cause (retried as they were). */
  retryUnknown: z.boolean().optional(),
  /** A hook of the relay's allow-list, run for unknown failures (Torc) — a name, never a command. */
  recoveryHook: HookNameSchema.optional(),
  /** One job only (a plain Slurm job id, `123` or `123_4`, or a Torc job id); all failed jobs otherwise. */
  job: AnyJobIdSchema.optional(),
  /** Plan and print only: nothing is claimed, sent or written. */
  dryRun: z.boolean().default(false),
});
export type ManualRecovery = z.infer<typeof ManualRecoverySchema>;

/** `rebound logs <workload> <job> [--stderr] [--tail N]`. */
export const LogsRequestSchema = z.strictObject({
  job: AnyJobIdSchema,
  stderr: z.boolean().default(false),
  tail: z.number().int().min(1).max(LOG_LINES_MAX, `must be at most ${LOG_LINES_MAX} lines`).default(100),
});
export type LogsRequest = z.infer<typeof LogsRequestSchema>;

/**
 * `update_job_resources` (MCP): the memory and time a job's next retry asks for, instead of escalating
 * its last ones — a plain job's next resubmission, or a Torc job's row when the workflow is recovered.
 */
export const ResourcesRequestSchema = z
  .strictObject({
    job: AnyJobIdSchema,
    memory: z
      .string()
      .regex(/^[1-9]\d{0,6}[KMGT]?$/i, 'a memory size such as "8G" or "500M" (no unit: megabytes)')
      .optional(),
    runtime: z
      .string()
      .regex(/^(\d+-)?\d+(:\d+){0,2}$/, 'a Slurm time such as "90" (minutes), "2:00:00" or "1-00:00:00"')
      .optional(),
  })
  .refine((r) => r.memory !== undefined || r.runtime !== undefined, 'give memory, runtime or both');
export type ResourcesRequest = z.infer<typeof ResourcesRequestSchema>;

/** How a person reached Rebound: the CLI (or the HTTP API) or an assistant's MCP tool. */
const ViaSchema = z.enum(['cli', 'mcp']);

/** Who asked for a manual attempt, kept on its attempt record and plan, and said in history. */
export const ManualMarkSchema = z.object({
  /** The caller's identity, from their token (never from the request's body). */
  by: z.string().min(1).max(64),
  via: ViaSchema,
  /** The request's own id: its history lines and answer carry it. */
  requestId: z.string().regex(/^[A-Za-z0-9_-]{6,64}$/),
});
export type ManualMark = z.infer<typeof ManualMarkSchema>;

/** The mark alone, from a plan's (which adds the automatic retries used). */
export const manualMarkOf = ({ by, via, requestId }: ManualMark): ManualMark => ({ by, via, requestId });

/** The policy a manual attempt plans with: the workload's, with the person's overrides for this one. */
export function manualPolicy(policy: EffectivePolicy, request: ManualRecovery): EffectivePolicy {
  return {
    ...policy,
    ...(request.memoryMultiplier !== undefined ? { memoryMultiplier: request.memoryMultiplier } : {}),
    ...(request.runtimeMultiplier !== undefined ? { runtimeMultiplier: request.runtimeMultiplier } : {}),
    ...(request.retryUnknown !== undefined ? { retryUnknown: request.retryUnknown } : {}),
    ...(request.recoveryHook !== undefined ? { unknownFailureHook: request.recoveryHook } : {}),
  };
}

/** The overrides in words, for the history line of the attempt ("memory ×3, unknown causes included"). */
export function describeOverrides(request: ManualRecovery): string {
  const words = [
    request.memoryMultiplier !== undefined && `memory x${request.memoryMultiplier}`,
    request.runtimeMultiplier !== undefined && `runtime x${request.runtimeMultiplier}`,
    request.retryUnknown && 'unknown causes included',
    request.recoveryHook && `hook "${request.recoveryHook}"`,
    request.job && `job ${request.job} only`,
  ].filter(Boolean);
  return words.length ? words.join(', ') : 'the policy as it is';
}
