import * as z from 'zod';
import { ConfigError } from './errors.ts';
import { HookNameSchema } from './hook-name.ts';
import { WorkloadKeySchema } from './ids.ts';
import { describeIssues } from './zod-errors.ts';

// A multiplier ≤ 1 would shrink or freeze resources (Torc accepts any value).
export const Multiplier = z.number().gt(1, 'must be greater than 1').lte(10, 'must be at most 10');

const AutoScheduleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Retry jobs (attempt > 1) waiting while allocations live before more are requested; at least 1. */
  threshold: z.number().int().min(1).default(5),
  cooldownSeconds: z.number().int().nonnegative().default(1800),
  /** Fewer than `threshold` retry jobs waiting this long are scheduled anyway; 0 disables. */
  strandedTimeoutSeconds: z.number().int().nonnegative().default(7200),
});

const PolicyFields = {
  memoryMultiplier: Multiplier.default(1.5),
  runtimeMultiplier: Multiplier.default(1.4),
  /** Recovery attempts per workload (plain Slurm) or workflow (Torc). */
  maxRetries: z.number().int().min(0).max(100).default(3),
  retryUnknown: z.boolean().default(false),
  /** Hook run when unknown failures are found; as in Torc, a hook includes them in the retry. */
  unknownFailureHook: HookNameSchema.optional(),
  /** Transient failures (node failure, preemption, orphaned allocations) retry with the same resources. */
  retryTransient: z.boolean().default(true),
  /**
   * Plain Slurm: a job whose submission environment the cluster does not keep (AccountingStoreFlags=job_env)
   * needs attention instead of being retried with a login environment of its owner.
   */
  requireEnvironment: z.boolean().default(false),
  autoSchedule: AutoScheduleSchema.default(AutoScheduleSchema.parse({})),
};

const BasePolicySchema = z.strictObject(PolicyFields);

export const PolicySchema = BasePolicySchema.extend({
  /** Per-workload overrides by workload key: a plain-Slurm tag's workload, or "torc-wf<workflow id>". */
  overrides: z.record(WorkloadKeySchema, BasePolicySchema.partial()).default({}),
});

export type Policy = z.infer<typeof PolicySchema>;
export type EffectivePolicy = z.infer<typeof BasePolicySchema>;

/** Validates a policy; an invalid one fails with the path of each bad field ("policy.maxRetries: …"). */
export function parsePolicy(input: unknown): Policy {
  const result = PolicySchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError('policy', describeIssues(result.error, 'policy'));
  return result.data;
}

/** The policy one workload runs under: the defaults with its override applied. */
export function policyFor(policy: Policy, workload: string): EffectivePolicy {
  const { overrides, ...base } = policy;
  const override = overrides[workload] ?? {};
  return { ...base, ...override, autoSchedule: { ...base.autoSchedule, ...override.autoSchedule } };
}
