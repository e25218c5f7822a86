import type { Partition, Profile } from './profiles.ts';
import { formatBytes, formatSlurmClock, MiB } from './units.ts';

export interface ResourceRequest {
  cpus: number;
  memoryBytes: number;
  walltimeSeconds: number;
  gpus: number;
}

export type PartitionChoice =
  | { ok: true; partition: Partition; moved: boolean }
  | { ok: false; reason: string };

/** Inclusive limits, as Slurm applies them; a CPU-only request may use a GPU partition, a GPU request must. */
function fits(p: Partition, r: ResourceRequest): boolean {
  return (
    r.cpus <= p.cpusPerNode &&
    r.memoryBytes <= p.memoryMb * MiB &&
    r.walltimeSeconds <= p.maxWalltimeSeconds &&
    (r.gpus <= 0 || (p.gpusPerNode ?? 0) >= r.gpus)
  );
}

/**
 * Deterministic best fit (Torc takes the first match in declaration order): among the
 * partitions that fit, prefer ones Slurm routes to without being named, then no GPUs for CPU-only work
 * (Torc sends 105–128-CPU jobs to GPU nodes), then the least memory, CPUs and walltime, so scarce
 * big nodes are used only when needed. Ties keep declaration order.
 */
export function bestPartition(profile: Profile, r: ResourceRequest): Partition | undefined {
  const rank = (p: Partition) => [
    p.requiresExplicitRequest ? 1 : 0,
    r.gpus <= 0 && p.gpusPerNode ? 1 : 0,
    p.memoryMb,
    p.cpusPerNode,
    p.maxWalltimeSeconds,
  ];
  const candidates = profile.partitions
    .map((p, index) => ({ p, index, key: rank(p) }))
    .filter(({ p }) => fits(p, r));
  candidates.sort((a, b) => compareKeys(a.key, b.key) || a.index - b.index);
  return candidates[0]?.p;
}

/** Whose job it is, for the partitions that admit some accounts, QOS or groups only (unknown: undefined). */
export interface Admission {
  account?: string;
  qos?: string;
  /** The owner's Unix groups. */
  groups?: string[];
}

/**
 * Slurm's AllowAccounts/DenyAccounts, AllowQos/DenyQos and AllowGroups: an unknown value passes no allow
 * list (a job whose owner's groups are unknown is not sent where only some groups may go).
 */
export function admits(p: Partition, who: Admission): boolean {
  return (
    allowed(p.allowAccounts, who.account) &&
    !denied(p.denyAccounts, who.account) &&
    allowed(p.allowQos, who.qos) &&
    !denied(p.denyQos, who.qos) &&
    (!p.allowGroups || (who.groups ?? []).some((g) => p.allowGroups!.includes(g)))
  );
}

const allowed = (list: string[] | undefined, value: string | undefined) =>
  !list || (value !== undefined && list.includes(value));
const denied = (list: string[] | undefined, value: string | undefined) =>
  value !== undefined && (list?.includes(value) ?? false);

export const describeAdmission = (who: Admission) =>
  [
    `account ${who.account ?? '(unknown)'}`,
    ...(who.qos ? [`QOS ${who.qos}`] : []),
    `groups ${who.groups?.join(',') || '(unknown)'}`,
  ].join(' and ');

/** The profile as one job sees it: only the partitions that admit its account and QOS. */
function admitting(profile: Profile, who: Admission): Profile | undefined {
  const partitions = profile.partitions.filter((p) => admits(p, who));
  return partitions.length ? { ...profile, partitions } : undefined;
}

/** Keep the job's partition while it fits; otherwise move to the best one that does; else say why not. */
export function choosePartition(profile: Profile, r: ResourceRequest, current?: string): PartitionChoice {
  const here = profile.partitions.find((p) => p.name === current);
  if (here && fits(here, r)) return { ok: true, partition: here, moved: false };
  const best = bestPartition(profile, r);
  if (best) return { ok: true, partition: best, moved: current !== undefined && best.name !== current };
  return { ok: false, reason: describeMisfit(profile, r) };
}

/** "needs 2.10 TiB memory, …; the largest partitions offer 1.91 GiB (bigmem), …" */
export function describeMisfit(profile: Profile, r: ResourceRequest): string {
  const largest = <K extends keyof Partition>(key: K) =>
    profile.partitions.reduce((a, b) => ((b[key] ?? 0) > (a[key] ?? 0) ? b : a));
  const mem = largest('memoryMb');
  const cpu = largest('cpusPerNode');
  const wall = largest('maxWalltimeSeconds');
  const needs = [
    `${formatBytes(r.memoryBytes)} memory`,
    `${r.cpus} CPUs`,
    `walltime ${formatSlurmClock(r.walltimeSeconds)}`,
  ];
  const offers = [
    `${formatBytes(mem.memoryMb * MiB)} memory (${mem.name})`,
    `${cpu.cpusPerNode} CPUs (${cpu.name})`,
    `walltime ${formatSlurmClock(wall.maxWalltimeSeconds)} (${wall.name})`,
  ];
  if (r.gpus > 0) {
    const gpu = largest('gpusPerNode');
    needs.push(`${r.gpus} GPUs`);
    offers.push(`${gpu.gpusPerNode ?? 0} GPUs (${gpu.name})`);
  }
  return `needs ${needs.join(', ')}; the largest partitions of ${profile.name} offer ${offers.join(', ')}`;
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The partition choices of one plan, remembered: thousands of failed jobs share a handful of admissions and
 * requests, and choosing anew for each made most of a large completion's garbage (bench:completion).
 */
export function partitionChooser(profile: Profile) {
  const admitted = new Map<string, Profile | undefined>();
  const best = new Map<Profile, Map<string, Partition | undefined>>();
  return {
    admitting(who: Admission): Profile | undefined {
      const key = `${who.account}\0${who.qos}\0${who.groups?.join(',')}`;
      if (!admitted.has(key)) admitted.set(key, admitting(profile, who));
      return admitted.get(key);
    },
    best(among: Profile, r: ResourceRequest): Partition | undefined {
      let mine = best.get(among);
      if (!mine) {
        mine = new Map();
        best.set(among, mine);
      }
      const key = `${r.cpus}:${r.gpus}:${r.memoryBytes}:${r.walltimeSeconds}`;
      if (!mine.has(key)) mine.set(key, bestPartition(among, r));
      return mine.get(key);
    },
  };
}
