import { gunzipSync } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TorcCompletionPage } from '../core/events.ts';
import type { Plan } from '../core/plan.ts';
import type {
  AttemptRecord,
  ClusterRecord,
  JobRecord,
  RequestAnswer,
  StatusStore,
  TokenRecord,
  WorkloadRecord,
} from '../core/ports.ts';

// The state store in one DynamoDB table whose items read well in the console:
//   PK WL#<workload>     SK META              the workload (Kind, Status → the byKind and byStatus indexes)
//   PK WL#<workload>     SK HIST#<time>#<n>   history lines written together (`lines`)
//   PK JOB#<job key>     SK JOB               a job (Workload → the byWorkload index)
//   PK ANSWER#<request>  SK META              a person's read request answered by the relay (TTL: ExpiresAt)
//   PK LIN#<lineage>     SK ATTEMPT#0003      an attempt, claimed with a conditional transaction; its plan
//                                             gzipped (PlanGz), in parts when large:
//   PK LIN#<lineage>     SK PLAN#0003#<n>     part n (from 1) of that plan (a 10,000-job plan is ~3.5 MB of
//                                             JSON; an item holds 400 KB)
//   PK WL#<workload>     SK PAGE#<run>#<n>    page n of a Torc run's completion
//   PK CLUSTER#<name>    SK META              a cluster's discovered partitions
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
export const planPartSk = (n: number, part: number) => `PLAN#${String(n).padStart(4, '0')}#${part}`;
export const pageSk = (run: number, page: number) =>
  `PAGE#${String(run).padStart(6, '0')}#${String(page).padStart(4, '0')}`;

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

  /** An attempt item as the record it holds: its plan unzipped, its parts read back when it has them. */
  protected async attemptFrom(item: Item | undefined): Promise<AttemptRecord | undefined> {
    if (!item) return undefined;
    const record = strip<AttemptRecord & { PlanGz?: Uint8Array; PlanParts?: number }>(item, KEYS)!;
    const { PlanGz, PlanParts = 1, ...rest } = record;
    if (!PlanGz) return record; // written before plans were zipped
    const parts = [PlanGz];
    if (PlanParts > 1) {
      const more = await this.query({
        KeyConditionExpression: 'PK = :p AND begins_with(SK, :s)',
        ExpressionAttributeValues: {
          ':p': item.PK,
          ':s': `PLAN#${String(record.attempt).padStart(4, '0')}#`,
        },
        ConsistentRead: true,
      });
      more.sort((a, b) => (a.Part as number) - (b.Part as number));
      parts.push(...more.map((m) => m.PlanGz as Uint8Array));
    }
    const plan = JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8')) as Plan;
    return { ...rest, plan };
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
      ProjectionExpression: 'PK, manual',
      ConsistentRead: true,
    });
    return { claimed: items.length, manual: items.filter((i) => i.manual !== undefined).length };
  }
  async listAttempts(workload: string) {
    const items = await this.query({
      IndexName: 'byWorkload',
      KeyConditionExpression: 'Workload = :w AND begins_with(SK, :a)',
      ExpressionAttributeValues: { ':w': workload, ':a': 'ATTEMPT#' },
    });
    const records = await Promise.all(items.map((i) => this.attemptFrom(i)));
    return records
      .map((r) => r!)
      .sort((a, b) => (a.lineage === b.lineage ? a.attempt - b.attempt : a.lineage < b.lineage ? -1 : 1));
  }
  async findAttemptBySource(workload: string, source: string) {
    // The attempts' keys and sources only (no plan is unzipped or its parts read), then the one attempt.
    const heads = await this.query({
      IndexName: 'byWorkload',
      KeyConditionExpression: 'Workload = :w AND begins_with(SK, :a)',
      FilterExpression: '#source = :s',
      ProjectionExpression: '#lineage, #attempt',
      ExpressionAttributeNames: { '#source': 'source', '#lineage': 'lineage', '#attempt': 'attempt' },
      ExpressionAttributeValues: { ':w': workload, ':a': 'ATTEMPT#', ':s': source },
    });
    const head = heads[0] as { lineage: string; attempt: number } | undefined;
    return head ? this.getAttempt(head.lineage, head.attempt) : undefined;
  }
  async findAttemptByCommand(commandId: string) {
    const link = await this.get<{ lineage: string; attempt: number }>(`CMD#${commandId}`, 'META');
    return link ? this.getAttempt(link.lineage, link.attempt) : undefined;
  }
  protected async getAttempt(lineage: string, attempt: number) {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { PK: `LIN#${lineage}`, SK: attemptSk(attempt) },
        ConsistentRead: true,
      }),
    );
    return this.attemptFrom(Item);
  }
  async listHistory(workload: string) {
    const items = await this.query({
      KeyConditionExpression: 'PK = :p AND begins_with(SK, :h)',
      ExpressionAttributeValues: { ':p': `WL#${workload}`, ':h': 'HIST#' },
      ConsistentRead: true,
    });
    // An item holds the lines written together (`lines`); one written before 0.4 holds one (`line`).
    return items.flatMap((i) =>
      ((i.lines as string[] | undefined) ?? [i.line as string]).map((line) => ({
        workload: i.workload as string,
        at: i.at as string,
        line,
      })),
    );
  }
  async wasProcessed(id: string) {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { PK: `EVT#${id}`, SK: 'META' }, ConsistentRead: true }),
    );
    return Item !== undefined && (Item.ExpiresAt as number) >= Math.floor(Date.now() / 1000);
  }
  async getAnswer(requestId: string) {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { PK: `ANSWER#${requestId}`, SK: 'META' },
        ConsistentRead: true,
      }),
    );
    // TTL removes an expired item late: it counts as gone.
    if (!Item || (Item.ExpiresAt as number) < Math.floor(Date.now() / 1000)) return undefined;
    return strip<RequestAnswer>(Item, KEYS);
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
  async getCluster(cluster: string) {
    return this.get<ClusterRecord>(`CLUSTER#${cluster}`, 'META');
  }
  async listCompletionPages(workload: string, runId: number) {
    const items = await this.query({
      KeyConditionExpression: 'PK = :p AND begins_with(SK, :s)',
      ExpressionAttributeValues: { ':p': `WL#${workload}`, ':s': `PAGE#${String(runId).padStart(6, '0')}#` },
      ConsistentRead: true,
    });
    return items.map((i) => i.page as TorcCompletionPage);
  }
}
