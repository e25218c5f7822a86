import { describe, expect, it } from 'vitest';
import {
  allocationName,
  PlannedAllocationSchema,
  planAllocations,
  type ResourceGroup,
} from '../../core/allocation.ts';
import { KESTREL } from '../../core/profiles.ts';
import { GiB, HOUR } from '../../core/units.ts';

const rr = (
  name: string,
  cpus: number,
  memGiB: number,
  hours: number,
  gpus = 0,
  nodes = 1,
): ResourceGroup => ({
  name,
  cpus,
  memoryBytes: memGiB * GiB,
  runtimeSeconds: hours * HOUR,
  gpus,
  nodes,
});
const jobs = (n: number, rrName: string, waits = false, from = 1) =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, rr: rrName, waits }));

describe('planAllocations', () => {
  it("gives a row without a runtime (0) its partition's whole time, one job per slot (Torc: a few minutes)", () => {
    const open = { ...rr('open', 52, 8, 0) };
    const [a] = planAllocations(jobs(4, 'open'), [open], KESTREL, { suffix: 'a1' }).allocations;
    expect(a).toMatchObject({ partition: 'short', walltime: '04:00:00', jobsPerAllocation: 2, count: 2 });
    expect(PlannedAllocationSchema.safeParse(a).success).toBe(true);
  });

  it.each([
    // [case, group, jobs, expected allocations, jobs per allocation]
    [
      '100 jobs of 52 CPUs, 1 h: 2 per node, 1 slot (Torc asks 13 and overcounts slots)',
      rr('a', 52, 8, 1),
      100,
      50,
      2,
    ],
    ['memory bound: 100 GiB jobs fit 2 per 234 GiB node', rr('b', 4, 100, 1), 10, 5, 2],
    ['GPU bound: 2 GPUs per job, 4 per node', rr('c', 8, 32, 1, 2), 6, 3, 2],
    ['tiny short jobs pack 26 per node and 1 slot of 2 min', rr('d', 4, 1, 0.05), 52, 2, 26],
    ['one job needs one allocation', rr('e', 104, 200, 2), 1, 1, 1],
    ['multi-node jobs get one multi-node allocation each', rr('f', 104, 200, 2, 0, 4), 3, 3, 1],
  ])('%s', (_n, group, n, count, perAlloc) => {
    const plan = planAllocations(jobs(n, group.name), [group], KESTREL, { suffix: 'a1' });
    expect(plan.unplaceable).toEqual([]);
    expect(plan.allocations).toHaveLength(1);
    expect(plan.allocations[0]!.count).toBe(count);
    expect(plan.allocations[0]!.jobsPerAllocation).toBe(perAlloc);
    expect(plan.allocations[0]!.count * perAlloc).toBeGreaterThanOrEqual(n);
  });

  it('sizes walltime from runtime × 1.5 plus the runner buffer and requests what the jobs use', () => {
    const [a] = planAllocations(jobs(2, 'a'), [rr('a', 52, 8, 1, 0)], KESTREL, { suffix: 'a1' }).allocations;
    expect(a).toMatchObject({
      partition: 'short',
      walltime: '01:33:00',
      mem: '16G',
      cpusPerTask: 104,
      nodes: 1,
    });
    const [g] = planAllocations(jobs(2, 'g'), [rr('g', 8, 32, 1, 2)], KESTREL, { suffix: 'a1' }).allocations;
    expect(g).toMatchObject({ partition: 'gpu-h100s', gres: 'gpu:4', cpusPerTask: 16, mem: '64G' });
  });

  it('moves a 4 h job off short: with the runner buffer it no longer fits', () => {
    const [a] = planAllocations(jobs(1, 'x'), [rr('x', 4, 4, 4)], KESTREL, { suffix: 'a1' }).allocations;
    expect(a!.partition).toBe('standard');
  });

  it('splits groups by dependencies, orders them deterministically and names them by attempt', () => {
    const input = [...jobs(2, 'zeta', true, 10), ...jobs(2, 'alpha', false, 3), ...jobs(1, 'zeta', false, 1)];
    const groups = [rr('zeta', 1, 1, 1), rr('alpha', 1, 1, 1)];
    const plan = planAllocations(input, groups, KESTREL, { suffix: 'a2' });
    expect(plan.allocations.map((a) => [a.name, a.jobIds])).toEqual([
      ['alpha_a2', [3, 4]],
      ['zeta_a2', [1]],
      ['zeta_deferred_a2', [10, 11]],
    ]);
    expect(planAllocations([...input].reverse(), [...groups].reverse(), KESTREL, { suffix: 'a2' })).toEqual(
      plan,
    );
  });

  it('reports groups nothing can hold instead of dropping them', () => {
    const plan = planAllocations(
      [...jobs(2, 'huge'), ...jobs(1, 'missing', false, 9)],
      [rr('huge', 4, 5000, 1)],
      KESTREL,
      {
        suffix: 'a1',
      },
    );
    expect(plan.allocations).toEqual([]);
    expect(plan.unplaceable).toEqual([
      { rr: 'huge', jobIds: [1, 2], reason: expect.stringMatching(/needs 4\.88 TiB memory/) },
      { rr: 'missing', jobIds: [9], reason: 'resource requirements "missing" not found' },
    ]);
  });
});

describe('allocation names from any row name', () => {
  it('keep a plain name, and make any other one safe, short and distinct', () => {
    expect(allocationName('small', false, 'a1')).toBe('small_a1');
    expect(allocationName('small', true, 's3')).toBe('small_deferred_s3');
    const odd = ['big memory', 'big/memory', 'grö$$e', 'x'.repeat(200), `${'x'.repeat(200)}y`, ''];
    const names = odd.map((n) => allocationName(n, true, 'a12'));
    for (const name of names) expect(PlannedAllocationSchema.shape.name.safeParse(name).success).toBe(true);
    expect(new Set(names).size).toBe(odd.length);
    expect(names[0]).toMatch(/^big_memory-[0-9a-f]{8}_deferred_a12$/);
  });

  it('are what the planner gives a row whose name has a space in it', () => {
    const group = rr('big memory', 4, 8, 1);
    const plan = planAllocations(jobs(2, group.name), [group], KESTREL, { suffix: 'a1' });
    expect(plan.allocations.map((a) => a.name)).toEqual([allocationName('big memory', false, 'a1')]);
    expect(plan.allocations.every((a) => PlannedAllocationSchema.safeParse(a).success)).toBe(true);
  });
});
