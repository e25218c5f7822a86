/**
 * Items in order, cut greedily into batches of at most `maxItems` items and `maxBytes` (by `bytes`): what a
 * webhook request or an SQS batch accepts. An item larger than `maxBytes` alone is a batch of its own (for
 * the receiver to refuse, saying why).
 */
export function batches<T>(
  items: T[],
  bytes: (item: T) => number,
  maxItems: number,
  maxBytes: number,
): T[][] {
  const out: T[][] = [];
  let used = 0;
  for (const item of items) {
    const size = bytes(item);
    const last = out.at(-1);
    if (!last || last.length >= maxItems || used + size > maxBytes) {
      out.push([item]);
      used = size;
    } else {
      last.push(item);
      used += size;
    }
  }
  return out;
}
