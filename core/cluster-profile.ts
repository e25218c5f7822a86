import type { Partition, Profile } from './profiles.ts';
import { parseScontrolRecord } from './scontrol.ts';
import { parseSlurmTime } from './units.ts';

// The cluster's own partitions, as Slurm states them: `scontrol show partition -o` and `scontrol show
// node -o` (one line per record), read by the relay. Pure: the same text gives the same profile.

const number = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/** GPUs a node's Gres says it has: "gpu:4", "gpu:a100:4(S:0-1)", several kinds summed. */
function gpusOf(gres: string | undefined): number {
  if (!gres || gres === '(null)') return 0;
  let total = 0;
  for (const item of gres.split(/,(?![^(]*\))/)) {
    const m = /^gpu(?::[^:(]+)?:(\d+)/.exec(item.trim());
    if (m) total += Number(m[1]);
  }
  return total;
}

interface NodeFacts {
  cpus: number;
  memoryMb: number;
  gpus: number;
  partitions: string[];
}

function nodesOf(nodeText: string): NodeFacts[] {
  return nodeText
    .split('\n')
    .filter((l) => l.startsWith('NodeName='))
    .map((line) => {
      const r = parseScontrolRecord(line);
      return {
        cpus: number(r.CPUEfctv) ?? number(r.CPUTot) ?? 1,
        memoryMb: number(r.RealMemory) ?? 1,
        gpus: gpusOf(r.Gres),
        partitions: (r.Partitions ?? '').split(',').filter(Boolean),
      };
    });
}

/** A list scontrol gives (`AllowAccounts=a,b`); "ALL" and an unset one restrict nothing. */
function listed<K extends string>(key: K, value: string | undefined): Partial<Record<K, string[]>> {
  if (!value || value === 'ALL' || value === '(null)') return {};
  return { [key]: value.split(',').filter(Boolean) } as Partial<Record<K, string[]>>;
}

/**
 * A profile of the partitions a job can be sent to: per partition the largest node's CPUs, memory (within
 * MaxMemPerNode, or MaxMemPerCPU × CPUs) and GPUs, MaxTime and MaxNodes. Partitions that are not UP, are
 * hidden, or have no node are left out, each with a note saying why.
 */
export function discoveredProfile(
  cluster: string,
  partitionText: string,
  nodeText: string,
): { profile: Profile | undefined; notes: string[] } {
  const nodes = nodesOf(nodeText);
  const notes: string[] = [];
  const partitions: Partition[] = [];
  for (const line of partitionText.split('\n').filter((l) => l.startsWith('PartitionName='))) {
    const r = parseScontrolRecord(line);
    const name = r.PartitionName!;
    if (r.State !== 'UP') {
      notes.push(`partition ${name} is ${r.State ?? 'in an unknown state'}: left out`);
      continue;
    }
    if (r.Hidden === 'YES') {
      notes.push(`partition ${name} is hidden: left out`);
      continue;
    }
    const members = nodes.filter((n) => n.partitions.includes(name));
    if (members.length === 0) {
      notes.push(`partition ${name} has no node: left out`);
      continue;
    }
    const cpusPerNode = Math.max(...members.map((n) => n.cpus));
    const perCpu = number(r.MaxMemPerCPU);
    const memoryMb = Math.min(
      Math.max(...members.map((n) => n.memoryMb)),
      number(r.MaxMemPerNode) ?? Number.POSITIVE_INFINITY,
      perCpu !== undefined ? perCpu * cpusPerNode : Number.POSITIVE_INFINITY,
    );
    const gpusPerNode = Math.max(...members.map((n) => n.gpus));
    const maxNodes = number(r.MaxNodes);
    const who = {
      ...listed('allowAccounts', r.AllowAccounts),
      ...listed('denyAccounts', r.DenyAccounts),
      ...listed('allowQos', r.AllowQos),
      ...listed('denyQos', r.DenyQos),
      ...listed('allowGroups', r.AllowGroups),
    };
    partitions.push({
      name,
      cpusPerNode,
      memoryMb,
      maxWalltimeSeconds: r.MaxTime ? parseSlurmTime(r.MaxTime) : Number.POSITIVE_INFINITY,
      ...(gpusPerNode > 0 ? { gpusPerNode } : {}),
      ...(maxNodes !== undefined ? { maxNodes } : {}),
      requiresExplicitRequest: false,
      shared: r.OverSubscribe !== undefined && r.OverSubscribe !== 'NO' && r.OverSubscribe !== 'EXCLUSIVE',
      ...who,
    });
  }
  return {
    profile: partitions.length
      ? { name: `discovered:${cluster}`, displayName: `${cluster} (as Slurm describes it)`, partitions }
      : undefined,
    notes,
  };
}

/** A profile as JSON carries it: an unlimited time as "UNLIMITED" (JSON has no Infinity). */
export function profileJson(profile: Profile): unknown {
  return {
    ...profile,
    partitions: profile.partitions.map((p) => ({
      ...p,
      maxWalltimeSeconds: Number.isFinite(p.maxWalltimeSeconds) ? p.maxWalltimeSeconds : 'UNLIMITED',
    })),
  };
}

/** Where a configured profile and the cluster's own disagree, in words (partitions missing, other limits). */
export function profileDifferences(configured: Profile, discovered: Profile): string[] {
  const actual = new Map(discovered.partitions.map((p) => [p.name, p]));
  const time = (s: number) => (Number.isFinite(s) ? `${s} s` : 'unlimited');
  return configured.partitions.flatMap((c) => {
    const d = actual.get(c.name);
    if (!d) return [`partition ${c.name} is not on the cluster`];
    const out: string[] = [];
    if (c.maxWalltimeSeconds !== d.maxWalltimeSeconds)
      out.push(
        `${c.name}: time limit ${time(c.maxWalltimeSeconds)} configured, ${time(d.maxWalltimeSeconds)} on the cluster`,
      );
    if (c.memoryMb > d.memoryMb)
      out.push(`${c.name}: ${c.memoryMb} MB configured, at most ${d.memoryMb} MB on the cluster`);
    if (c.cpusPerNode > d.cpusPerNode)
      out.push(`${c.name}: ${c.cpusPerNode} CPUs configured, at most ${d.cpusPerNode} on the cluster`);
    return out;
  });
}
