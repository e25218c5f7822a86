import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { ConfigError } from '../core/errors.ts';
import { HookNameSchema } from '../core/hook-name.ts';
import { describeIssues } from '../core/zod-errors.ts';
import { WatchEntrySchema } from './torc-registry.ts';

/**
 * A recovery hook: its argument vector, and the names of the relay's environment variables it may see
 * besides the minimal environment every child gets (relay/exec.ts). A bare array is the argument vector.
 */
const HookSchema = z
  .union([
    z.array(z.string().min(1)).min(1),
    z.strictObject({
      command: z.array(z.string().min(1)).min(1),
      env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default([]),
    }),
  ])
  .transform((h) => (Array.isArray(h) ? { command: h, env: [] } : h));
export type HookConfig = z.output<typeof HookSchema>;

/**
 * The relay's own config (the "relay" section of rebound.config.json): what it may run and where Torc is.
 * Hooks are allow-listed here by name; a command can only name one.
 */
const RelayConfigSchema = z.strictObject({
  /** Slurm commands (sbatch, squeue, sacct, scontrol, sinfo) running at once: slurmctld's load is the site's. */
  slurmConcurrency: z.number().int().min(1).max(64).default(4),
  hooks: z.record(HookNameSchema, HookSchema).default({}),
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
      /**
       * Watched from the start, besides those added with `rebound watch`: ids, or `{ id, user }` with the
       * user the allocations run as (required in site mode).
       */
      workflows: z.array(WatchEntrySchema).default([]),
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
