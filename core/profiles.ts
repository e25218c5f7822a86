import * as z from 'zod';
import { ConfigError } from './errors.ts';
import { describeIssues } from './zod-errors.ts';

const PartitionSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a Slurm partition name'),
  cpusPerNode: z.number().int().positive(),
  memoryMb: z.number().int().positive(),
  /** Infinity for UNLIMITED. */
  maxWalltimeSeconds: z.union([z.number().positive(), z.literal(Number.POSITIVE_INFINITY)]),
  gpusPerNode: z.number().int().positive().optional(),
  maxNodes: z.number().int().positive().optional(),
  /** Never chosen automatically: Slurm only places jobs there when asked by name. */
  requiresExplicitRequest: z.boolean().default(false),
  shared: z.boolean().default(false),
  defaultQos: z.string().optional(),
  /**
   * Who may use it, as Slurm's AllowAccounts/DenyAccounts and AllowQos/DenyQos say (absent: everyone). A
   * job whose account is not known is never sent where only listed accounts may go.
   */
  allowAccounts: z.array(z.string()).optional(),
  denyAccounts: z.array(z.string()).optional(),
  allowQos: z.array(z.string()).optional(),
  denyQos: z.array(z.string()).optional(),
  /** Slurm's AllowGroups: Unix groups of the job's owner (the relay reads them with `id -Gn`). */
  allowGroups: z.array(z.string()).optional(),
});

const ProfileSchema = z.strictObject({
  name: z.string().min(1),
  displayName: z.string().min(1),
  partitions: z.array(PartitionSchema).min(1),
});

export type Partition = z.infer<typeof PartitionSchema>;
export type Profile = z.infer<typeof ProfileSchema>;

const p = (
  name: string,
  cpusPerNode: number,
  memoryMb: number,
  maxWalltimeSeconds: number,
  extra: Partial<Partition> = {},
): Partition => ({
  name,
  cpusPerNode,
  memoryMb,
  maxWalltimeSeconds,
  requiresExplicitRequest: false,
  shared: false,
  ...extra,
});

const H4 = 14_400;
const D2 = 172_800;
const D10 = 864_000;

/**
 * NREL Kestrel as Torc's code defines it (src/client/hpc/kestrel.rs). Torc's docs table differs (debug
 * without GPUs, medmem 480 GB / 48 h, bigmem 2048 GB, gpu-h100 "2 CPUs, 240 GB"); the code is used here.
 */
export const KESTREL: Profile = {
  name: 'kestrel',
  displayName: 'NREL Kestrel',
  partitions: [
    p('debug', 104, 240_000, 3600, {
      gpusPerNode: 2,
      maxNodes: 2,
      shared: true,
      requiresExplicitRequest: true,
    }),
    p('short', 104, 240_000, H4, { maxNodes: 2240 }),
    p('standard', 104, 240_000, D2, { maxNodes: 2240 }),
    p('long', 104, 240_000, D10, { maxNodes: 430 }),
    p('medmem', 104, 1_000_000, D10, { maxNodes: 64 }),
    p('bigmem', 104, 2_000_000, D2, { maxNodes: 10 }),
    p('bigmeml', 104, 2_000_000, D10, { maxNodes: 4 }),
    p('hbw', 104, 240_000, D2, { maxNodes: 512, requiresExplicitRequest: true }),
    p('hbwl', 104, 240_000, D10, { maxNodes: 128, requiresExplicitRequest: true }),
    p('nvme', 104, 240_000, D2, { maxNodes: 256, requiresExplicitRequest: true }),
    p('shared', 104, 240_000, D2, { maxNodes: 128, shared: true, requiresExplicitRequest: true }),
    p('sharedl', 104, 240_000, D10, { maxNodes: 32, shared: true, requiresExplicitRequest: true }),
    p('gpu-h100s', 128, 360_000, H4, { gpusPerNode: 4, maxNodes: 156, shared: true }),
    p('gpu-h100', 128, 360_000, D2, { gpusPerNode: 4, maxNodes: 156, shared: true }),
    p('gpu-h100l', 128, 360_000, D10, { gpusPerNode: 4, maxNodes: 39, shared: true }),
  ],
};

export const BUILTIN_PROFILES: Record<string, Profile> = { kestrel: KESTREL };

/**
 * A custom profile from parsed JSON. Unlike Torc, a bad file is an error naming the field, never a silent
 * fall-back to defaults; "UNLIMITED" is accepted for a walltime.
 */
export function parseProfile(json: unknown): Profile {
  const normalised = normaliseUnlimited(json);
  const result = ProfileSchema.safeParse(normalised);
  if (!result.success) throw new ConfigError('HPC profile', describeIssues(result.error, 'profile'));
  const names = result.data.partitions.map((x) => x.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError('HPC profile', [`profile.partitions: duplicate partition "${dup}"`]);
  return result.data;
}

function normaliseUnlimited(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as Profile).partitions)) return json;
  return {
    ...json,
    partitions: (json as { partitions: Record<string, unknown>[] }).partitions.map((part) =>
      part && part.maxWalltimeSeconds === 'UNLIMITED'
        ? { ...part, maxWalltimeSeconds: Number.POSITIVE_INFINITY }
        : part,
    ),
  };
}
