import { describe, expect, it } from 'vitest';
import { bestPartition, choosePartition } from '../../core/partition.ts';
import { KESTREL, parseProfile } from '../../core/profiles.ts';
import { DAY, GiB, HOUR } from '../../core/units.ts';

const req = (cpus: number, memGiB: number, hours: number, gpus = 0) => ({
  cpus,
  memoryBytes: memGiB * GiB,
  walltimeSeconds: hours * HOUR,
  gpus,
});

describe('best-fit partition on Kestrel', () => {
  it.each([
    ['small 1 h CPU job', req(4, 8, 1), 'short'],
    ['4 h exactly still fits short (inclusive)', req(4, 8, 4), 'short'],
    ['10 h job', req(4, 8, 10), 'standard'],
    ['3-day job', req(4, 8, 72), 'long'],
    ['500 GiB for an hour: medmem, not bigmem', req(8, 500, 1), 'medmem'],
    ['1.5 TiB for 3 days', req(8, 1500, 72), 'bigmeml'],
    ['1.5 TiB for a day', req(8, 1500, 24), 'bigmem'],
    ['2 GPUs for 2 h', req(16, 64, 2, 2), 'gpu-h100s'],
    ['4 GPUs for 3 days', req(16, 64, 72, 4), 'gpu-h100l'],
    ['120 CPUs only fit GPU nodes', req(120, 64, 1), 'gpu-h100s'],
  ])('%s → %s', (_n, r, name) => expect(bestPartition(KESTREL, r)?.name).toBe(name));

  it('never picks an explicit-only partition on its own', () => {
    for (const h of [0.5, 1, 10, 48])
      expect(['debug', 'hbw', 'nvme', 'shared']).not.toContain(bestPartition(KESTREL, req(1, 1, h))?.name);
  });

  it.each([
    ['too much memory', req(4, 3000, 1), /needs 2\.93 TiB memory.*1\.91 TiB memory \(bigmem\)/],
    ['too long', req(4, 8, 24 * 11), /walltime 11-00:00:00.*walltime 10-00:00:00 \(long\)/],
    ['too many GPUs', req(4, 8, 1, 8), /8 GPUs.*4 GPUs \(gpu-h100s\)/],
  ])('explains a request nothing fits: %s', (_n, r, message) => {
    const choice = choosePartition(KESTREL, r);
    expect(choice.ok).toBe(false);
    if (!choice.ok) expect(choice.reason).toMatch(message);
  });

  it('keeps the current partition while it fits and moves when it does not', () => {
    expect(choosePartition(KESTREL, req(4, 8, 10), 'long')).toMatchObject({
      ok: true,
      moved: false,
      partition: { name: 'long' },
    });
    expect(choosePartition(KESTREL, req(4, 300, 10), 'standard')).toMatchObject({
      ok: true,
      moved: true,
      partition: { name: 'medmem' },
    });
  });
});

describe('custom profiles', () => {
  const lab = {
    name: 'lab',
    displayName: 'Lab',
    partitions: [
      { name: 'short', cpusPerNode: 2, memoryMb: 20000, maxWalltimeSeconds: 60 },
      { name: 'long', cpusPerNode: 2, memoryMb: 20000, maxWalltimeSeconds: 'UNLIMITED' },
    ],
  };

  it('reads UNLIMITED walltimes and chooses by walltime', () => {
    const profile = parseProfile(lab);
    expect(profile.partitions[1]!.maxWalltimeSeconds).toBe(Number.POSITIVE_INFINITY);
    expect(
      choosePartition(profile, { cpus: 1, gpus: 0, memoryBytes: GiB, walltimeSeconds: 120 }, 'short'),
    ).toMatchObject({
      ok: true,
      moved: true,
      partition: { name: 'long' },
    });
    expect(bestPartition(profile, { cpus: 1, gpus: 0, memoryBytes: GiB, walltimeSeconds: 30 })?.name).toBe(
      'short',
    );
    expect(
      bestPartition(profile, { cpus: 1, gpus: 0, memoryBytes: GiB, walltimeSeconds: 400 * DAY })?.name,
    ).toBe('long');
  });

  it.each([
    [{ ...lab, partitions: [] }, 'profile.partitions'],
    [{ ...lab, partitions: [{ ...lab.partitions[0], cpusPerNode: 0 }] }, 'profile.partitions[0].cpusPerNode'],
    [{ ...lab, partitions: [lab.partitions[0], lab.partitions[0]] }, 'duplicate partition "short"'],
    [{ ...lab, displayName: undefined }, 'profile.displayName'],
    [{ ...lab, partitions: [{ ...lab.partitions[0], min_nodes: 2 }] }, 'profile.partitions[0]'],
  ])('rejects a bad profile with the field path (%#)', (input, message) => {
    expect(() => parseProfile(input)).toThrow(message);
  });
});
