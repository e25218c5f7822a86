// Grouping in place. A spread per item (`map.set(k, [...(map.get(k) ?? []), item])`) copies the group each
// time: quadratic, and at 100,000 failed jobs it was most of a completion's garbage (bench:completion).

/** Appends `item` to the group of `key`, creating it. */
export function pushTo<K, T>(groups: Map<K, T[]>, key: K, item: T): void {
  const group = groups.get(key);
  if (group) group.push(item);
  else groups.set(key, [item]);
}

/** The items in groups by key, each group in the items' order, the groups in the order first seen. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) pushTo(groups, key(item), item);
  return groups;
}
