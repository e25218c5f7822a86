import { describe, expect, it } from 'vitest';
import { discoveredProfile } from '../../core/cluster-profile.ts';
import { admits } from '../../core/partition.ts';
import { planRecovery } from '../../core/planner.ts';
import { parsePolicy, policyFor } from '../../core/policy.ts';
import { capturedJobFromScontrol, parseScontrolRecord, perNode } from '../../core/scontrol.ts';

// Partitions that admit some accounts or QOS only (AllowAccounts/DenyAccounts, AllowQos/DenyQos) are
// planned only for the jobs they admit; a limit above every partition a job may use stops before anything
// is submitted, naming the largest of them.

// As `scontrol show partition -o` prints the test cluster's partitions (shortened to what matters).
const PARTITIONS = [
  'PartitionName=short AllowGroups=ALL AllowAccounts=ALL DenyAccounts=capped AllowQos=ALL Hidden=NO MaxTime=00:01:00 Nodes=vm MaxMemPerNode=UNLIMITED State=UP',
  'PartitionName=long AllowGroups=ALL AllowAccounts=ALL DenyAccounts=capped AllowQos=ALL Hidden=NO MaxTime=UNLIMITED Nodes=vm MaxMemPerNode=UNLIMITED State=UP',
  'PartitionName=capped AllowGroups=ALL AllowAccounts=capped AllowQos=ALL Hidden=NO MaxTime=UNLIMITED Nodes=vm MaxMemPerNode=300 State=UP',
  'PartitionName=gpu AllowGroups=physics AllowAccounts=ALL AllowQos=high Hidden=NO MaxTime=UNLIMITED Nodes=vm State=UP',
].join('\n');
const NODES = 'NodeName=vm CPUTot=8 RealMemory=21694 Gres=(null) Partitions=short,long,capped,gpu State=IDLE';

const { profile, notes } = discoveredProfile('lab', PARTITIONS, NODES);

describe('who a partition admits', () => {
  it("reads Slurm's lists of accounts, QOS and groups", () => {
    const byName = Object.fromEntries(profile!.partitions.map((p) => [p.name, p]));
    expect(byName.short).toMatchObject({ denyAccounts: ['capped'] });
    expect(byName.short).not.toHaveProperty('allowAccounts');
    expect(byName.capped).toMatchObject({ allowAccounts: ['capped'], memoryMb: 300 });
    expect(byName.gpu).toMatchObject({ allowQos: ['high'], allowGroups: ['physics'] });
    expect(notes).toEqual([]);
  });

  it('admits by account and QOS; an unknown account passes no allow list', () => {
    const [short, , capped, gpu] = profile!.partitions;
    expect(admits(short!, { account: 'lab' })).toBe(true);
    expect(admits(short!, { account: 'capped' })).toBe(false);
    expect(admits(short!, {})).toBe(true);
    expect(admits(capped!, { account: 'capped' })).toBe(true);
    expect(admits(capped!, { account: 'lab' })).toBe(false);
    expect(admits(capped!, {})).toBe(false);
    expect(admits(gpu!, { account: 'lab', qos: 'normal', groups: ['physics'] })).toBe(false);
    expect(admits(gpu!, { account: 'lab', qos: 'high', groups: ['alice', 'physics'] })).toBe(true);
    // AllowGroups: the owner's groups (the relay's `id -Gn`); unknown ones pass no allow list.
    expect(admits(gpu!, { account: 'lab', qos: 'high', groups: ['alice'] })).toBe(false);
    expect(admits(gpu!, { account: 'lab', qos: 'high' })).toBe(false);
  });
});

describe('planning within what a job may use', () => {
  const plan = (
    account: string,
    partition: string,
    memoryMb: number,
    slurmState = 'OUT_OF_MEMORY',
    cpus = 1,
  ) =>
    planRecovery(
      {
        kind: 'slurm',
        workload: 'w',
        profile: profile!,
        jobs: [
          {
            id: '7',
            name: 'big',
            evidence: {
              slurmState,
              memoryLimitBytes: memoryMb * 2 ** 20,
              timeLimitSeconds: 60,
              elapsedSeconds: 60,
            },
            limits: { memoryBytes: memoryMb * 2 ** 20, runtimeSeconds: 60 },
            cpus,
            gpus: 0,
            partition,
            admission: { account, qos: 'normal' },
          },
        ],
      },
      policyFor(parsePolicy({}), 'w'),
      { attemptsUsed: 0 },
      new Date('2026-11-30T12:00:00Z'),
    );

  it('a limit above every partition the account may use stops, naming the largest of them', () => {
    const p = plan('capped', 'capped', 250);
    expect(p).toMatchObject({ outcome: 'stop', stopReason: 'exceeds-partitions', actions: [] });
    expect(p.report.join('\n')).toContain('offer 300.0 MiB memory (capped)');
  });

  it('plans with the CPUs the job has per node, as captured (not one)', () => {
    const job = capturedJobFromScontrol(
      parseScontrolRecord(
        'JobId=9 JobName=mpi NumNodes=2 NumTasks=8 CPUs/Task=4 TresPerNode=gres:gpu:a100:2',
      ),
      { owner: { uid: 1501, user: 'alice' } },
      'x',
    );
    expect(perNode(job)).toEqual({ cpus: 16, gpus: 2 });
    // 16 CPUs per node where nodes have 8: no partition can take it.
    expect(plan('lab', 'long', 100, 'OUT_OF_MEMORY', 16)).toMatchObject({ stopReason: 'exceeds-partitions' });
    expect(plan('lab', 'long', 100, 'OUT_OF_MEMORY', 8).outcome).toBe('recover');
  });

  it('a job of another account moves only to a partition that admits it', () => {
    // A timeout on the 1-minute partition: long admits lab; capped (less memory, so first in best fit) does not.
    const p = plan('lab', 'short', 100, 'TIMEOUT');
    expect(p.actions).toMatchObject([{ type: 'resubmit-job', resources: { partition: 'long' } }]);
  });
});
