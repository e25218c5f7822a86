import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoveredProfile } from '../../core/cluster-profile.ts';
import { choosePartition } from '../../core/partition.ts';
import { parseProfile } from '../../core/profiles.ts';

// The cluster's own partitions from scontrol's words: the lab's real output (Slurm 22.05), and a made-up
// site with GPU nodes, a per-node memory cap, a per-CPU cap, a hidden and a down partition.

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '..', 'events', 'scontrol', name), 'utf8');

const SITE_PARTITIONS = [
  'PartitionName=short AllowGroups=ALL Default=YES Hidden=NO MaxNodes=2 MaxTime=04:00:00 Nodes=c[1-2] OverSubscribe=NO State=UP MaxMemPerNode=UNLIMITED',
  'PartitionName=gpu AllowGroups=ALL Default=NO Hidden=NO MaxNodes=UNLIMITED MaxTime=2-00:00:00 Nodes=g1 OverSubscribe=NO State=UP MaxMemPerNode=180000',
  'PartitionName=shared AllowGroups=ALL Default=NO Hidden=NO MaxNodes=1 MaxTime=UNLIMITED Nodes=c[1-2] OverSubscribe=FORCE:4 State=UP MaxMemPerCPU=2000',
  'PartitionName=admin AllowGroups=root Default=NO Hidden=YES MaxTime=UNLIMITED Nodes=c1 State=UP',
  'PartitionName=old AllowGroups=ALL Default=NO Hidden=NO MaxTime=UNLIMITED Nodes=x1 State=DOWN',
  'PartitionName=empty AllowGroups=ALL Default=NO Hidden=NO MaxTime=UNLIMITED Nodes=(null) State=UP',
].join('\n');
const SITE_NODES = [
  'NodeName=c1 Arch=x86_64 CPUTot=64 CPUEfctv=64 Gres=(null) OS=Linux 6.1 #1 SMP RealMemory=250000 Partitions=short,shared,admin State=IDLE',
  'NodeName=c2 Arch=x86_64 CPUTot=128 CPUEfctv=128 Gres=(null) OS=Linux 6.1 #1 SMP RealMemory=500000 Partitions=short,shared State=IDLE',
  'NodeName=g1 Arch=x86_64 CPUTot=64 CPUEfctv=64 Gres=gpu:a100:4(S:0-1),gpu:t4:1 RealMemory=500000 Partitions=gpu State=MIXED',
].join('\n');

describe('the cluster as Slurm describes it', () => {
  it("reads the lab's real partitions: a 1-minute short and an unlimited long on one node", () => {
    const { profile, notes } = discoveredProfile(
      'rebound',
      fixture('lab-partitions.txt'),
      fixture('lab-nodes.txt'),
    );
    expect(notes).toEqual([]);
    expect(profile?.partitions.map((p) => [p.name, p.maxWalltimeSeconds])).toEqual([
      ['short', 60],
      ['long', Number.POSITIVE_INFINITY],
    ]);
    // The profile is a valid one, and a 2-minute retry leaves short for long.
    const parsed = parseProfile({
      ...profile!,
      partitions: profile!.partitions.map((p) => ({
        ...p,
        maxWalltimeSeconds: Number.isFinite(p.maxWalltimeSeconds) ? p.maxWalltimeSeconds : 'UNLIMITED',
      })),
    });
    const choice = choosePartition(
      parsed,
      { cpus: 1, gpus: 0, memoryBytes: 200 * 2 ** 20, walltimeSeconds: 120 },
      'short',
    );
    expect(choice).toMatchObject({ ok: true, partition: { name: 'long' }, moved: true });
  });

  it('takes each partition from its largest node, within its memory caps, and says what it left out', () => {
    const { profile, notes } = discoveredProfile('site', SITE_PARTITIONS, SITE_NODES);
    expect(profile?.partitions).toEqual([
      {
        name: 'short',
        cpusPerNode: 128,
        memoryMb: 500_000,
        maxWalltimeSeconds: 14_400,
        maxNodes: 2,
        requiresExplicitRequest: false,
        shared: false,
      },
      {
        name: 'gpu',
        cpusPerNode: 64,
        memoryMb: 180_000,
        maxWalltimeSeconds: 172_800,
        gpusPerNode: 5,
        requiresExplicitRequest: false,
        shared: false,
      },
      {
        name: 'shared',
        cpusPerNode: 128,
        memoryMb: 256_000,
        maxWalltimeSeconds: Number.POSITIVE_INFINITY,
        maxNodes: 1,
        requiresExplicitRequest: false,
        shared: true,
      },
    ]);
    expect(notes).toEqual([
      'partition admin is hidden: left out',
      'partition old is DOWN: left out',
      'partition empty has no node: left out',
    ]);
  });

  it('is no profile at all when nothing is usable', () => {
    expect(discoveredProfile('x', 'PartitionName=old State=DOWN Nodes=x1', '').profile).toBeUndefined();
  });
});
