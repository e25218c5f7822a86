import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { TorcCompletionPage } from '../core/events.ts';
import {
  AttemptAlreadyClaimedError,
  type AttemptRecord,
  type ClusterRecord,
  type HistoryEntry,
  type JobRecord,
  type RequestAnswer,
  type StateStore,
  type WorkloadRecord,
} from '../core/ports.ts';
import { attemptSk, DynamoStatusStore, pageSk, planPartSk } from './dynamo-status-store.ts';

/** History text per item: a history item is written whole, so a small one costs one write unit. */
const HISTORY_ITEM_BYTES = 64_000;

/** Zipped plan bytes per item: well under DynamoDB's 400 KB, with room for the record's other fields. */
const PLAN_PART_BYTES = 300_000;

/** The worker's state store: the status half (aws/dynamo-status-store.ts, the item layout) and every write. */
export class DynamoStore extends DynamoStatusStore implements StateStore {
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
  async claimAttempt(r: AttemptRecord) {
    const { plan, ...rest } = r;
    const zipped = gzipSync(JSON.stringify(plan));
    const parts: Buffer[] = [];
    for (let at = 0; at < zipped.length || parts.length === 0; at += PLAN_PART_BYTES)
      parts.push(zipped.subarray(at, at + PLAN_PART_BYTES));
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...rest,
                  PlanGz: parts[0],
                  PlanParts: parts.length,
                  PK: `LIN#${r.lineage}`,
                  SK: attemptSk(r.attempt),
                  Type: 'attempt',
                  Workload: r.workload,
                },
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
            ...parts.slice(1).map((bytes, i) => ({
              Put: {
                TableName: this.table,
                Item: {
                  PK: `LIN#${r.lineage}`,
                  SK: planPartSk(r.attempt, i + 1),
                  Type: 'plan-part',
                  Part: i + 1,
                  PlanGz: bytes,
                },
              },
            })),
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
      throw new AttemptAlreadyClaimedError((await this.getAttempt(r.lineage, r.attempt))!);
    }
  }
  /**
   * One item per workload and moment, its lines in order (a decision's four lines are one write, not four),
   * split where an item would pass HISTORY_ITEM_BYTES; all at once (BatchWriteItem's permission would also
   * allow deletes).
   */
  async appendHistory(entries: HistoryEntry[]) {
    // Time first for order; a random tail keeps two writers at the same millisecond apart.
    const tail = randomBytes(4).toString('hex');
    const items: { workload: string; at: string; lines: string[] }[] = [];
    let bytes = 0;
    for (const e of entries) {
      const last = items.at(-1);
      const size = Buffer.byteLength(e.line) + 8;
      if (last && last.workload === e.workload && last.at === e.at && bytes + size <= HISTORY_ITEM_BYTES) {
        last.lines.push(e.line);
        bytes += size;
      } else {
        items.push({ workload: e.workload, at: e.at, lines: [e.line] });
        bytes = size;
      }
    }
    await Promise.all(
      items.map((item, i) =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...item,
              PK: `WL#${item.workload}`,
              SK: `HIST#${item.at}#${tail}#${String(i).padStart(4, '0')}`,
              Type: 'history',
            },
          }),
        ),
      ),
    );
  }
  async putCluster(r: ClusterRecord) {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...r, PK: `CLUSTER#${r.cluster}`, SK: 'META', Type: 'cluster' },
      }),
    );
  }
  async putCompletionPage(workload: string, page: TorcCompletionPage) {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          PK: `WL#${workload}`,
          SK: pageSk(page.runId, page.page.index),
          Type: 'completion-page',
          page,
        },
      }),
    );
  }
  async putAnswer(a: RequestAnswer, expiresAt: Date) {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...a,
          PK: `ANSWER#${a.requestId}`,
          SK: 'META',
          Type: 'answer',
          ExpiresAt: Math.floor(expiresAt.getTime() / 1000),
        },
      }),
    );
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
}
