import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { ConfigError } from '../core/errors.ts';
import { HookNameSchema } from '../core/hook-name.ts';
import { describeIssues } from '../core/zod-errors.ts';

/**
 * The relay's own config (the "relay" section of rebound.config.json): what it may run and where Torc is.
 * Hooks are allow-listed here by name → argument vector; a command can only name one.
 */
const RelayConfigSchema = z.strictObject({
  hooks: z.record(HookNameSchema, z.array(z.string().min(1)).min(1)).default({}),
  torc: z
    .strictObject({
      /** Base URL including /torc-service/v1. */
      url: z.url(),
      username: z.string().min(1).optional(),
      /** The Basic-auth password, read from this file (never from the config itself, never logged). */
      passwordFile: z.string().min(1).optional(),
      /** Torc's Slurm job runner, as the allocations run it. */
      runner: z.string().min(1).default('torc-slurm-job-runner'),
      outputDir: z.string().min(1).default('torc_output'),
      account: z.string().min(1).optional(),
      /** Watched from the start, besides those added with `rebound watch`. */
      workflows: z.array(z.number().int().positive()).default([]),
      /** The completion and census backstop poll. */
      pollSeconds: z.number().positive().default(15),
    })
    .optional(),
});

export type RelayConfig = z.infer<typeof RelayConfigSchema>;

export function parseRelayConfig(input: unknown): RelayConfig {
  const r = RelayConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new ConfigError('relay config', describeIssues(r.error, 'relay'));
  return r.data;
}

export function torcPassword(config: NonNullable<RelayConfig['torc']>): string | undefined {
  if (!config.passwordFile) return process.env.TORC_PASSWORD;
  try {
    return readFileSync(config.passwordFile, 'utf8').trim();
  } catch (error) {
    throw new ConfigError('relay config', [`relay.torc.passwordFile: ${(error as Error).message}`]);
  }
}
