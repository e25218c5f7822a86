import * as z from 'zod';
import { bestPartition, describeMisfit, type ResourceRequest } from './partition.ts';
import type { Profile } from './profiles.ts';
import { DAY, formatSlurmClock, formatSlurmMemory, MINUTE, MiB } from './units.ts';

/** A Torc resource-requirements row, in bytes and seconds. */
export interface ResourceGroup {
  name: string;
  cpus: number;
  memoryBytes: number;
  runtimeSeconds: number;
  gpus: number;
  nodes: number;
}

export interface PendingJob {
  id: number;
  rr: string;
  /** It waits on a job that is not complete yet: its allocation is deferred until it becomes ready. */
  waits: boolean;
}

export interface AllocationOptions {
  /** Walltime = runtime × this, plus the runner buffer (Torc's default strategy uses 1.5). */
  walltimeMultiplier?: number;
  /**
   * Time an allocation cannot spend on jobs: Torc's runner stops at end − 2 × expiration buffer (60 s each)
   * and claims only jobs that fit the rest floored to minutes, plus start-up.
   */
  runnerBufferSeconds?: number;
  /** Makes names unique per recovery attempt, so a repeated submission is recognised, not doubled. */
  suffix: string;
}

/** One group of identical allocations, as planned here and sent to the relay (sbatch values are checked formats). */
/** FNV-1a (32 bits) in hex: a short, stable mark of a text. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * An allocation's name from any resource row's name: Slurm's job name, the tag and Torc's scheduler all
 * take it. Characters outside [A-Za-z0-9_.-] become "_", and a name that had to change or be cut to fit
 * 120 characters carries a hash of the original, so two rows never share one.
 */
export function allocationName(rrName: string, deferred: boolean, suffix: string): string {
  const tail = `${deferred ? '_deferred' : ''}_${suffix}`;
  const clean = rrName.replace(/[^A-Za-z0-9_.-]/g, '_');
  const room = 120 - tail.length;
  const base =
    clean === rrName && clean.length <= room ? clean : `${clean.slice(0, room - 9)}-${fnv1a(rrName)}`;
  return `${base}${tail}`;
}

export const PlannedAllocationSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,120}$/),
  rr: z.string(),
  deferred: z.boolean(),
  partition: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** sbatch allocations to submit, each of `nodes` nodes. */
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
export type PlannedAllocation = z.infer<typeof PlannedAllocationSchema>;

export interface AllocationPlan {
  allocations: PlannedAllocation[];
  unplaceable: { rr: string; jobIds: number[]; reason: string }[];
}

/**
 * Allocation time Torc's runner cannot give to jobs: it stops 2 × 60 s early and claims in whole minutes.
 * The one default; the service config may set another (service/config.ts).
 */
export const RUNNER_BUFFER_SECONDS = 180;

/** An allocation for rows without a runtime, on a partition without a time limit: a day. */
const OPEN_WALLTIME_SECONDS = DAY;

/**
 * Torc-style regenerate, corrected: groups pending jobs by (resource requirements, waits); packs as many
 * jobs per node as CPUs, memory and GPUs allow; sizes time slots from the walltime actually requested (Torc
 * uses the partition maximum and under-counts); multi-node jobs get multi-node allocations;
 * the allocation asks for the CPUs, memory and GPUs its jobs use. Order and names are
 * deterministic.
 */
export function planAllocations(
  jobs: readonly PendingJob[],
  groups: readonly ResourceGroup[],
  profile: Profile,
  options: AllocationOptions,
): AllocationPlan {
  const multiplier = options.walltimeMultiplier ?? 1.5;
  const buffer = options.runnerBufferSeconds ?? RUNNER_BUFFER_SECONDS;
  const byName = new Map(groups.map((g) => [g.name, g]));
  const buckets = new Map<string, { rr: string; deferred: boolean; jobIds: number[] }>();
  for (const job of jobs) {
    const key = `${job.rr}\0${job.waits ? 1 : 0}`;
    const bucket = buckets.get(key) ?? { rr: job.rr, deferred: job.waits, jobIds: [] };
    bucket.jobIds.push(job.id);
    buckets.set(key, bucket);
  }
  const ordered = [...buckets.values()].sort(
    (a, b) => (a.rr < b.rr ? -1 : a.rr > b.rr ? 1 : 0) || Number(a.deferred) - Number(b.deferred),
  );

  const plan: AllocationPlan = { allocations: [], unplaceable: [] };
  for (const bucket of ordered) {
    const jobIds = [...bucket.jobIds].sort((a, b) => a - b);
    const rr = byName.get(bucket.rr);
    if (!rr) {
      plan.unplaceable.push({
        rr: bucket.rr,
        jobIds,
        reason: `resource requirements "${bucket.rr}" not found`,
      });
      continue;
    }
    // A row without a runtime (0) says nothing of time: the partition is chosen by the other needs and
    // the allocation asks for its whole time (Torc plans a few minutes). One job per slot then.
    const open = rr.runtimeSeconds === 0;
    const request: ResourceRequest = {
      cpus: rr.cpus,
      memoryBytes: rr.memoryBytes,
      walltimeSeconds: open ? 0 : rr.runtimeSeconds + buffer,
      gpus: rr.gpus,
    };
    const partition = bestPartition(profile, request);
    if (!partition) {
      plan.unplaceable.push({ rr: rr.name, jobIds, reason: describeMisfit(profile, request) });
      continue;
    }
    // Never ask for more job slots per node than there are jobs to run.
    const perNode = rr.nodes > 1 ? 1 : Math.min(concurrentPerNode(rr, partition), jobIds.length);
    // Whole minutes: Slurm rounds a --time up to the minute anyway, and the plan should say what it gets.
    const wanted = open
      ? Number.isFinite(partition.maxWalltimeSeconds)
        ? partition.maxWalltimeSeconds
        : OPEN_WALLTIME_SECONDS
      : Math.ceil((rr.runtimeSeconds * multiplier + buffer) / MINUTE) * MINUTE;
    const walltime = Math.min(wanted, partition.maxWalltimeSeconds);
    const slots = open ? 1 : Math.max(1, Math.floor((walltime - buffer) / Math.max(rr.runtimeSeconds, 1)));
    const jobsPerAllocation = perNode * slots;
    const gpus = rr.gpus * perNode;
    plan.allocations.push({
      name: allocationName(rr.name, bucket.deferred, options.suffix),
      rr: rr.name,
      deferred: bucket.deferred,
      partition: partition.name,
      count: Math.ceil(jobIds.length / jobsPerAllocation),
      nodes: rr.nodes,
      walltime: formatSlurmClock(walltime),
      mem: formatSlurmMemory(Math.min(rr.memoryBytes * perNode, partition.memoryMb * MiB)),
      cpusPerTask: rr.cpus * perNode,
      ...(gpus > 0 ? { gres: `gpu:${gpus}` } : {}),
      jobsPerAllocation,
      jobIds,
    });
  }
  return plan;
}

function concurrentPerNode(
  rr: ResourceGroup,
  p: { cpusPerNode: number; memoryMb: number; gpusPerNode?: number },
) {
  const byCpu = Math.floor(p.cpusPerNode / Math.max(rr.cpus, 1));
  const byMem = Math.floor((p.memoryMb * MiB) / Math.max(rr.memoryBytes, 1));
  const byGpu = rr.gpus > 0 ? Math.floor((p.gpusPerNode ?? 0) / rr.gpus) : Number.POSITIVE_INFINITY;
  return Math.max(1, Math.min(byCpu, byMem, byGpu));
}
