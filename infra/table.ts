/// <reference path="../.sst/platform/config.d.ts" />

/**
 * One table for all state (aws/dynamo-store.ts has the item layout): keys PK/SK, an index per access path
 * (workloads by kind for listing and auto-schedule, by status for "needs attention", by workload for
 * jobs and attempts) and TTL on expiring items (processed events, accepted message ids).
 */
export function stateTable() {
  return new sst.aws.Dynamo('State', {
    fields: { PK: 'string', SK: 'string', Kind: 'string', Status: 'string', Workload: 'string' },
    primaryIndex: { hashKey: 'PK', rangeKey: 'SK' },
    globalIndexes: {
      byKind: { hashKey: 'Kind', rangeKey: 'PK' },
      byStatus: { hashKey: 'Status', rangeKey: 'PK' },
      byWorkload: { hashKey: 'Workload', rangeKey: 'SK' },
    },
    ttl: 'ExpiresAt',
  });
}
