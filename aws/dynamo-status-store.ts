import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AttemptRecord, JobRecord, StatusStore, TokenRecord, WorkloadRecord } from '../core/ports.ts';

// The state store in one DynamoDB table whose items read well in the console:
//   PK WL#<workload>     SK META              the workload (Kind, Status → the byKind and byStatus indexes)
//   PK WL#<workload>     SK HIST#<time>#<n>   one history line
//   PK JOB#<job key>     SK JOB               a job (Workload → the byWorkload index)
//   PK LIN#<lineage>     SK ATTEMPT#0003      an attempt, claimed with a conditional transaction
//   PK CMD#<command id>  SK META              which attempt a command belongs to
//   PK EVT#<event id>    SK META              a processed event, expiring (TTL attribute ExpiresAt)
//   PK TOKEN#<user>      SK META              a person's token: the hash of its secret part, never the token
// Records keep their own field names, so `status`, `diagnosis`, `evidence` … appear as words.

export const TABLE_INDEXES = {
  byKind: { partition: 'Kind', sort: 'PK' },
  byStatus: { partition: 'Status', sort: 'PK' },
  byWorkload: { partition: 'Workload', sort: 'SK' },
} as const;

type Item = Record<string, unknown>;
const strip = <T>(item: Item | undefined, keys: string[]): T | undefined => {
  if (!item) return undefined;
  const copy = { ...item };
  for (const k of keys) delete copy[k];
  return copy as T;
};
const KEYS = ['PK', 'SK', 'Kind', 'Status', 'Workload', 'ExpiresAt', 'Type'];
export const attemptSk = (n: number) => `ATTEMPT#${String(n).padStart(4, '0')}`;

/**
 * The status half of the state store (core/ports.ts `StatusStore`): reads, and people's tokens. The API
 * function is built with this class alone, so its bundle — and its IAM role — holds no other write.
 */
export class DynamoStatusStore implements StatusStore {
  protected readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    protected readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  protected async get<T>(PK: string, SK: string): Promise<T | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { PK, SK }, ConsistentRead: true }),
    );
    return strip<T>(Item, KEYS);
  }

  protected async query(
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({ TableName: this.table, ...input, ExclusiveStartKey }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  async getWorkload(key: string) {
    return this.get<WorkloadRecord>(`WL#${key}`, 'META');
  }
  async listWorkloads() {
    const kinds = await Promise.all(
      ['slurm', 'torc'].map((kind) =>
        this.query({
          IndexName: 'byKind',
          KeyConditionExpression: 'Kind = :k',
          ExpressionAttributeValues: { ':k': kind },
        }),
      ),
    );
    return kinds
      .flat()
      .map((i) => strip<WorkloadRecord>(i, KEYS)!)
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  async getJob(key: string) {
    return this.get<JobRecord>(`JOB#${key}`, 'JOB');
  }
  async listJobs(workload: string) {
    const items = await this.query({
      IndexName: 'byWorkload',
      KeyConditionExpression: 'Workload = :w AND SK = :s',
      ExpressionAttributeValues: { ':w': workload, ':s': 'JOB' },
    });
    return items.map((i) => strip<JobRecord>(i, KEYS)!).sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  async countAttempts(lineage: string) {
    const items = await this.query({
      KeyConditionExpression: 'PK = :p AND begins_with(SK, :a)',
      ExpressionAttributeValues: { ':p': `LIN#${lineage}`, ':a': 'ATTEMPT#' },
      ProjectionExpression: 'PK',
      ConsistentRead: true,
    });
    return items.length;
  }
  async listAttempts(workload: string) {
    const items = await this.query({
      IndexName: 'byWorkload',
      KeyConditionExpression: 'Workload = :w AND begins_with(SK, :a)',
      ExpressionAttributeValues: { ':w': workload, ':a': 'ATTEMPT#' },
    });
    return items
      .map((i) => strip<AttemptRecord>(i, KEYS)!)
      .sort((a, b) => (a.lineage === b.lineage ? a.attempt - b.attempt : a.lineage < b.lineage ? -1 : 1));
  }
  async findAttemptByCommand(commandId: string) {
    const link = await this.get<{ lineage: string; attempt: number }>(`CMD#${commandId}`, 'META');
    return link ? this.get<AttemptRecord>(`LIN#${link.lineage}`, attemptSk(link.attempt)) : undefined;
  }
  async listHistory(workload: string) {
    const items = await this.query({
      KeyConditionExpression: 'PK = :p AND begins_with(SK, :h)',
      ExpressionAttributeValues: { ':p': `WL#${workload}`, ':h': 'HIST#' },
      ConsistentRead: true,
    });
    return items.map((i) => ({ workload: i.workload as string, at: i.at as string, line: i.line as string }));
  }
  async wasProcessed(id: string) {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { PK: `EVT#${id}`, SK: 'META' }, ConsistentRead: true }),
    );
    return Item !== undefined && (Item.ExpiresAt as number) >= Math.floor(Date.now() / 1000);
  }
  async putToken(r: TokenRecord) {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...r, PK: `TOKEN#${r.user}`, SK: 'META', Type: 'token' },
      }),
    );
  }
  async getToken(user: string) {
    return this.get<TokenRecord>(`TOKEN#${user}`, 'META');
  }
}
