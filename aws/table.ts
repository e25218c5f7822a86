import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { TABLE_INDEXES } from './dynamo-status-store.ts';

/** The state table as DynamoDB Local creates it in tests; infra/table.ts declares the same for SST. */
export function tableDefinition(name: string): CreateTableCommandInput {
  const attributes = new Set<string>(['PK', 'SK']);
  for (const ix of Object.values(TABLE_INDEXES)) {
    attributes.add(ix.partition);
    attributes.add(ix.sort);
  }
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map((a) => ({ AttributeName: a, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: Object.entries(TABLE_INDEXES).map(([IndexName, ix]) => ({
      IndexName,
      KeySchema: [
        { AttributeName: ix.partition, KeyType: 'HASH' },
        { AttributeName: ix.sort, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}
