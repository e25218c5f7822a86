import * as z from 'zod';
import { RUNNER_BUFFER_SECONDS } from '../core/allocation.ts';
import { ConfigError } from '../core/errors.ts';
import { PolicySchema } from '../core/policy.ts';
import { BUILTIN_PROFILES, type Profile, parseProfile } from '../core/profiles.ts';
import { describeIssues } from '../core/zod-errors.ts';

/** What the service needs besides its adapters: the recovery policy and the cluster's partitions. */
const ServiceConfigSchema = z.strictObject({
  policy: PolicySchema.default(PolicySchema.parse({})),
  /** A built-in profile name ("kestrel") or a custom profile object. */
  profile: z.union([z.string(), z.unknown()]).default('kestrel'),
  torc: z
    .strictObject({
      /** Allocation time Torc's runner cannot give to jobs (it stops 2 × 60 s early, plus start-up). */
      runnerBufferSeconds: z.number().int().nonnegative().default(RUNNER_BUFFER_SECONDS),
    })
    .default({ runnerBufferSeconds: RUNNER_BUFFER_SECONDS }),
});

export interface ServiceConfig {
  policy: z.infer<typeof PolicySchema>;
  profile: Profile;
  torc: { runnerBufferSeconds: number };
}

export function parseServiceConfig(input: unknown): ServiceConfig {
  const r = ServiceConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new ConfigError('config', describeIssues(r.error, 'config'));
  const { policy, profile, torc } = r.data;
  if (typeof profile === 'string') {
    const builtin = BUILTIN_PROFILES[profile];
    if (!builtin)
      throw new ConfigError('config', [
        `config.profile: unknown profile "${profile}" (built in: ${Object.keys(BUILTIN_PROFILES).join(', ')})`,
      ]);
    return { policy, profile: builtin, torc };
  }
  return { policy, profile: parseProfile(profile), torc };
}
