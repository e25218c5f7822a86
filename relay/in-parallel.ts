/**
 * Runs `fn` over the items with at most `limit` at a time, in order of start; rejects with the first
 * error once the running ones have settled. A 10,000-job Torc step is 10,000 requests: one at a time
 * they outlast the command's lease.
 */
export async function inParallel<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
