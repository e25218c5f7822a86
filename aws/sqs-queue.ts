import { createHash } from 'node:crypto';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MessageQueue, QueueMessage } from '../core/ports.ts';

export interface SqsQueueOptions {
  url: string;
  /** Where SQS moves a message after maxReceiveCount (the queue's redrive policy). */
  deadLetterUrl?: string;
  /** FIFO: one message group per workload (in order), deduplicated by id for SQS's five minutes. A message
   *  without a group is a group of its own: no order is promised for it. */
  fifo?: boolean;
  /**
   * Ids already accepted (a DynamoDB conditional write, with TTL): a standard queue does not deduplicate,
   * and a FIFO queue only for five minutes. Returns the ids that are new and records them.
   */
  /** Long polling for receive (the relay on the login node); 0 answers at once (the default). */
  waitSeconds?: number;
  dedupe?: {
    seen(ids: string[]): Promise<Set<string>>;
    record(ids: string[]): Promise<void>;
  };
}

/** SQS's MessageDeduplicationId allows 128 characters of [A-Za-z0-9!-/:-@[-`{-~]. */
const dedupeId = (id: string) =>
  id.length <= 128 && /^[\x21-\x7e]+$/.test(id) ? id : createHash('sha256').update(id).digest('hex');

/** The MessageQueue port on SQS: the events queue (standard + DLQ) and the relay's commands (FIFO). */
export class SqsQueue<T> implements MessageQueue<T> {
  constructor(
    private readonly sqs: SQSClient,
    private readonly opts: SqsQueueOptions,
  ) {}

  async send(messages: { id: string; body: T; group?: string }[]): Promise<void> {
    const seen = this.opts.dedupe
      ? await this.opts.dedupe.seen(messages.map((m) => m.id))
      : new Set<string>();
    // One message per id even within the call (SQS would reject duplicate batch entry ids).
    const fresh = [...new Map(messages.filter((m) => !seen.has(m.id)).map((m) => [m.id, m])).values()];
    for (let i = 0; i < fresh.length; i += 10) {
      const chunk = fresh.slice(i, i + 10);
      const out = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.opts.url,
          Entries: chunk.map((m, j) => ({
            Id: String(j),
            MessageBody: JSON.stringify(m.body),
            ...(this.opts.fifo
              ? { MessageGroupId: m.group ?? m.id, MessageDeduplicationId: dedupeId(m.id) }
              : {}),
          })),
        }),
      );
      // A partial failure must not pass as accepted: the caller answers non-2xx and the sender retries.
      if (out.Failed?.length) {
        throw new Error(
          `SQS refused ${out.Failed.length} of ${chunk.length} messages: ${out.Failed[0]?.Message ?? out.Failed[0]?.Code}`,
        );
      }
    }
    // Recorded only once SQS has them: a crash in between re-sends (duplicates are handled downstream),
    // never drops.
    if (this.opts.dedupe && fresh.length) await this.opts.dedupe.record(fresh.map((m) => m.id));
  }

  async receive(max: number, visibilitySeconds: number): Promise<QueueMessage<T>[]> {
    const out: QueueMessage<T>[] = [];
    while (out.length < max) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.opts.url,
          MaxNumberOfMessages: Math.min(10, max - out.length),
          VisibilityTimeout: Math.ceil(visibilitySeconds),
          // Long-poll only while nothing has arrived yet: a partial batch is returned at once.
          WaitTimeSeconds: out.length === 0 ? (this.opts.waitSeconds ?? 0) : 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      if (Messages.length === 0) break;
      for (const m of Messages) {
        out.push({
          body: JSON.parse(m.Body ?? 'null') as T,
          receipt: m.ReceiptHandle!,
          receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
        });
      }
    }
    return out;
  }

  async delete(receipt: string): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.opts.url, ReceiptHandle: receipt }));
  }

  /** A look at the dead letters (each becomes visible again at once: nothing is taken). */
  async deadLetters(): Promise<T[]> {
    if (!this.opts.deadLetterUrl) return [];
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.opts.deadLetterUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    return Messages.map((m) => JSON.parse(m.Body ?? 'null') as T);
  }
}
