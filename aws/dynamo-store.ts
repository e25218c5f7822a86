import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  AttemptAlreadyClaimedError,
  type AttemptRecord,
  type HistoryEntry,
  type JobRecord,
  type StateStore,
  type TokenRecord,
  type WorkloadRecord,
} from '../core/ports.ts';

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
const attemptSk = (n: number) => `ATTEMPT#${String(n).padStart(4, '0')}`;

export class DynamoStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async get<T>(PK: string, SK: string): Promise<T | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { PK, SK }, ConsistentRead: true }),
    );
    return strip<T>(Item, KEYS);
  }

  private async query(
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
  async putWorkload(r: WorkloadRecord, expected: number | undefined) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...r,
            version: (expected ?? 0) + 1,
            PK: `WL#${r.key}`,
            SK: 'META',
            Type: 'workload',
            Kind: r.kind,
            Status: r.status,
          },
          ...(expected === undefined
            ? { ConditionExpression: 'attribute_not_exists(PK)' }
            : {
                // Records written before versions existed count as version 0.
                ConditionExpression: 'version = :v OR (attribute_not_exists(version) AND :v = :zero)',
                ExpressionAttributeValues: { ':v': expected, ':zero': 0 },
              }),
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
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
  async putJob(r: JobRecord) {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...r,
          PK: `JOB#${r.key}`,
          SK: 'JOB',
          Type: 'job',
          ...(r.workload ? { Workload: r.workload } : {}),
        },
      }),
    );
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
  async claimAttempt(r: AttemptRecord) {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...r,
                  PK: `LIN#${r.lineage}`,
                  SK: attemptSk(r.attempt),
                  Type: 'attempt',
                  Workload: r.workload,
                },
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
            ...r.commandIds.map((id) => ({
              Put: {
                TableName: this.table,
                Item: {
                  PK: `CMD#${id}`,
                  SK: 'META',
                  Type: 'command',
                  lineage: r.lineage,
                  attempt: r.attempt,
                },
              },
            })),
          ],
        }),
      );
    } catch (error) {
      const lost =
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
      if (!lost) throw error;
      throw new AttemptAlreadyClaimedError(
        (await this.get<AttemptRecord>(`LIN#${r.lineage}`, attemptSk(r.attempt)))!,
      );
    }
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
  async appendHistory(entries: HistoryEntry[]) {
    // Time first for order; a random tail keeps two writers at the same millisecond apart.
    const tail = randomBytes(4).toString('hex');
    for (let i = 0; i < entries.length; i += 25) {
      const chunk = entries.slice(i, i + 25);
      await this.doc.send(
        new BatchWriteCommand({
          RequestItems: {
            [this.table]: chunk.map((e, j) => ({
              PutRequest: {
                Item: {
                  ...e,
                  PK: `WL#${e.workload}`,
                  SK: `HIST#${e.at}#${tail}#${String(i + j).padStart(4, '0')}`,
                  Type: 'history',
                },
              },
            })),
          },
        }),
      );
    }
  }
  async listHistory(workload: string) {
    const items = await this.query({
      KeyConditionExpression: 'PK = :p AND begins_with(SK, :h)',
      ExpressionAttributeValues: { ':p': `WL#${workload}`, ':h': 'HIST#' },
      ConsistentRead: true,
    });
    return items.map((i) => ({ workload: i.workload as string, at: i.at as string, line: i.line as string }));
  }
  async markProcessed(id: string, expiresAt: Date) {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            PK: `EVT#${id}`,
            SK: 'META',
            Type: 'processed',
            ExpiresAt: Math.floor(expiresAt.getTime() / 1000),
          },
          // An expired record that TTL has not removed yet counts as gone.
          ConditionExpression: 'attribute_not_exists(PK) OR ExpiresAt < :now',
          ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
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
