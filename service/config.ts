import * as z from 'zod';
import { RUNNER_BUFFER_SECONDS } from '../core/allocation.ts';
import { ConfigError } from '../core/errors.ts';
import { ChannelSchema } from '../core/notice.ts';
import { ModeSchema, SiteRulesSchema } from '../core/owner.ts';
import { PolicySchema } from '../core/policy.ts';
import { BUILTIN_PROFILES, parseProfile } from '../core/profiles.ts';
import { describeIssues } from '../core/zod-errors.ts';

const RESULT_WAIT_SECONDS = 120;
const ALLOCATION_WAIT_SECONDS = 1800;
const ARRAY_WAIT_SECONDS = 3600;

/** A built-in profile by name ("kestrel"), or a custom profile object: either way a Profile once parsed. */
const ProfileFieldSchema = z.union([z.string(), z.unknown()]).transform((value, ctx) => {
  if (typeof value === 'string') {
    const builtin = BUILTIN_PROFILES[value];
    if (builtin) return builtin;
    ctx.addIssue({
      code: 'custom',
      message: `unknown profile "${value}" (built in: ${Object.keys(BUILTIN_PROFILES).join(', ')})`,
    });
    return z.NEVER;
  }
  try {
    return parseProfile(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** What the service needs besides its adapters: the recovery policy and the cluster's partitions. */
const ServiceConfigSchema = z.strictObject({
  /** User mode (the default) or site mode: README "Running for yourself" / "Running for a site". */
  mode: ModeSchema.default('user'),
  /** Site mode: whom the root relay may act for. */
  site: SiteRulesSchema.prefault({}),
  policy: PolicySchema.default(PolicySchema.parse({})),
  /**
   * How long a command may go without its result before its workload needs attention: the relay's lease
   * (60 s) times the receives before a dead letter (5), twice over.
   */
  commandResultSeconds: z.number().int().positive().default(600),
  /** Where a person is told when a workload needs attention or runs out of retries (core/notice.ts). */
  notify: z.array(ChannelSchema).max(10).default([]),
  /**
   * The partitions plans use: a built-in profile by name ("kestrel") or one given whole. Unset (the
   * default), each cluster's own, as its relay discovers them (service/cluster.ts).
   */
  profile: ProfileFieldSchema.optional(),
  slurm: z
    .strictObject({
      /**
       * How long an array's failed tasks wait for its other tasks to end before their retries are sent
       * without them (service/slurm-arrays.ts).
       */
      arrayWaitSeconds: z.number().int().nonnegative().default(ARRAY_WAIT_SECONDS),
    })
    .prefault({}),
  torc: z
    .strictObject({
      /** Allocation time Torc's runner cannot give to jobs (it stops 2 × 60 s early, plus start-up). */
      runnerBufferSeconds: z.number().int().nonnegative().default(RUNNER_BUFFER_SECONDS),
      /**
       * How long a completion waits, after the last of its failed jobs' results came in, for the rest (a
       * queue may deliver them after it) before it is planned without them, each such job then needing
       * attention on its own.
       */
      resultWaitSeconds: z.number().int().nonnegative().default(RESULT_WAIT_SECONDS),
      /**
       * How long a completed run waits for its allocations that are still pending or running before
       * it needs attention (it is still recovered if they end later).
       */
      allocationWaitSeconds: z.number().int().positive().default(ALLOCATION_WAIT_SECONDS),
    })
    .prefault({}),
});

export type ServiceConfig = z.output<typeof ServiceConfigSchema>;

export function parseServiceConfig(input: unknown): ServiceConfig {
  const r = ServiceConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new ConfigError('config', describeIssues(r.error, 'config'));
  return r.data;
}
