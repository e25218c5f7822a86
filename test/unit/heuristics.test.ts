import { describe, expect, it } from 'vitest';
import { escalate } from '../../core/heuristics.ts';
import { formatTorcMemory, GiB, MiB } from '../../core/units.ts';

const policy = { memoryMultiplier: 1.5, runtimeMultiplier: 1.4 };

describe('escalate', () => {
  it.each([
    ['8g limit → 12g', 8 * GiB, undefined, '12g'],
    ['1g × 1.5 grows (Torc stays at 1g)', GiB, undefined, '1536m'],
    ['5g → 7680m, not Torc 7g', 5 * GiB, undefined, '7680m'],
    ['a sampled peak below the limit never shrinks it', 8 * GiB, 4 * GiB, '12g'],
    ['a peak above the limit (no cgroup) is the base', 200 * MiB, 260 * MiB, '390m'],
    ['a peak 1 % over the limit is accounting noise: 200M → 300M', 200 * MiB, 201.5 * MiB, '300m'],
    ['a peak 5 % over the limit is still the limit', 200 * MiB, 210 * MiB, '300m'],
    ['a peak just past 5 % over is the base', 200 * MiB, 211 * MiB, '317m'],
    ['rounds up to whole MiB', 201 * MiB + 5, undefined, '302m'],
  ])('OOM: %s', (_n, limit, peak, expected) => {
    const r = escalate(
      'oom',
      { memoryBytes: limit, runtimeSeconds: 3600 },
      { peakMemoryBytes: peak },
      policy,
    );
    expect(formatTorcMemory(r.memoryBytes)).toBe(expected);
    expect(r.runtimeSeconds).toBe(3600);
    expect(r.changed).toEqual(['memory']);
  });

  it.each([
    ['--time=1 → 2 minutes', 60, 75, 120],
    ['PT1H → PT1H24M', 3600, 3600, 5040],
    ['PT100S × 1.05 never drops below the limit', 100, 100, 120],
  ])('timeout: %s', (_n, limit, elapsed, expected) => {
    const mult = _n.includes('1.05') ? { ...policy, runtimeMultiplier: 1.05 } : policy;
    const r = escalate(
      'timeout',
      { memoryBytes: GiB, runtimeSeconds: limit },
      { elapsedSeconds: elapsed },
      mult,
    );
    expect(r.runtimeSeconds).toBe(expected);
    expect(r.memoryBytes).toBe(GiB);
    expect(r.changed).toEqual(['runtime']);
  });

  it.each(['transient', 'unknown'] as const)('%s keeps the same resources', (cause) => {
    expect(
      escalate(cause, { memoryBytes: GiB, runtimeSeconds: 60 }, { peakMemoryBytes: 2 * GiB }, policy),
    ).toEqual({
      memoryBytes: GiB,
      runtimeSeconds: 60,
      changed: [],
    });
  });

  it('raises the other limit too when the job had also reached it, by the same rules', () => {
    expect(
      escalate(
        'oom',
        { memoryBytes: GiB, runtimeSeconds: 3600 },
        { peakMemoryBytes: GiB },
        policy,
        'runtime',
      ),
    ).toEqual({ memoryBytes: 1536 * MiB, runtimeSeconds: 5040, changed: ['memory', 'runtime'] });
    expect(escalate('timeout', { memoryBytes: GiB, runtimeSeconds: 60 }, {}, policy, 'memory')).toEqual({
      memoryBytes: 1536 * MiB,
      runtimeSeconds: 120,
      changed: ['memory', 'runtime'],
    });
    // A cause that raises nothing raises nothing, whatever `also` says.
    expect(
      escalate('unknown', { memoryBytes: GiB, runtimeSeconds: 60 }, {}, policy, 'memory').changed,
    ).toEqual([]);
  });
});
