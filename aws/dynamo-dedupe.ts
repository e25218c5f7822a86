import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DynamoDBDocumentClient,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';

/**
 * Accepted message ids, per queue, in the state table (PK MSG#<queue>#<id>, expiring with TTL): what makes
 * "a repeated id is accepted and ignored" hold on SQS past a FIFO queue's five minutes (the commands queue,
 * for the commands whose repeat would act twice: aws/deps.ts). The events queue has none: the worker makes
 * a repeated event harmless (aws/api-deps.ts).
 */
export class DynamoDedupe {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    private readonly queue: string,
    private readonly retainSeconds = 86_400,
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  private key(id: string) {
    return { PK: `MSG#${this.queue}#${id}`, SK: 'META' };
  }

  async seen(ids: string[]): Promise<Set<string>> {
    const seen = new Set<string>();
    const unique = [...new Set(ids)];
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < unique.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map((id) => this.key(id));
      // BatchGet may return some keys unprocessed under load: ask again for those.
      while (keys?.length) {
        const out: BatchGetCommandOutput = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          if ((item.ExpiresAt as number) >= now)
            seen.add((item.PK as string).slice(`MSG#${this.queue}#`.length));
        }
        keys = out.UnprocessedKeys?.[this.table]?.Keys;
      }
    }
    return seen;
  }

  /**
   * One PutItem per id, all at once: BatchWriteItem would do it in fewer calls, but its permission is also
   * a permission to delete, which nothing that only records ids should hold.
   */
  async record(ids: string[]): Promise<void> {
    const expires = Math.floor(Date.now() / 1000) + this.retainSeconds;
    await Promise.all(
      [...new Set(ids)].map((id) =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...this.key(id), Type: 'accepted', ExpiresAt: expires },
          }),
        ),
      ),
    );
  }
}
