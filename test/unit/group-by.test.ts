import { describe, expect, it } from 'vitest';
import { groupBy, pushTo } from '../../core/group-by.ts';

describe('groupBy', () => {
  it('keeps each group in the items order and the groups in the order first seen', () => {
    const groups = groupBy(['b1', 'a1', 'b2', 'c1', 'a2'], (s) => s[0]);
    expect([...groups]).toEqual([
      ['b', ['b1', 'b2']],
      ['a', ['a1', 'a2']],
      ['c', ['c1']],
    ]);
  });

  it('groups 200,000 items into one group in linear time (a spread per item took seconds)', () => {
    const started = performance.now();
    const groups = groupBy(
      Array.from({ length: 200_000 }, (_, i) => i),
      () => 'one',
    );
    expect(groups.get('one')).toHaveLength(200_000);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('pushTo appends to an existing group and makes a missing one', () => {
    const groups = new Map<string, number[]>([['x', [1]]]);
    pushTo(groups, 'x', 2);
    pushTo(groups, 'y', 3);
    expect([...groups]).toEqual([
      ['x', [1, 2]],
      ['y', [3]],
    ]);
  });
});
