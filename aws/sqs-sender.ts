import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { batches } from '../core/batches.ts';
import type { Sender } from '../core/ports.ts';

export interface SqsSenderOptions<T = unknown> {
  url: string;
  /** FIFO: one message group per workload (in order), deduplicated by id for SQS's five minutes. A message
   *  without a group is a group of its own: no order is promised for it. */
  fifo?: boolean;
  /**
   * Ids already accepted (in the state table, with TTL): a standard queue does not deduplicate, and a FIFO
   * queue only for five minutes.
   */
  dedupe?: {
    seen(ids: string[]): Promise<Set<string>>;
    record(ids: string[]): Promise<void>;
  };
  /** Which messages the dedupe remembers (all by default): one whose repeat is harmless costs no write. */
  remember?: (body: T) => boolean;
}

/** SQS's MessageDeduplicationId allows 128 characters of [A-Za-z0-9!-/:-@[-`{-~]. */
/** A FIFO deduplication or group id: SQS takes 128 printable ASCII characters at most. */
const sqsToken = (id: string) =>
  id.length <= 128 && /^[\x21-\x7e]+$/.test(id) ? id : createHash('sha256').update(id).digest('hex');

/** A SendMessageBatch holds 10 messages and 256 KiB in all (a queue's message size may be set as low). */
const BATCH_MESSAGES = 10;
const BATCH_BYTES = 256 * 1024;

/**
 * The sending half of a queue on SQS: what the webhook needs of the events queue and the worker of the
 * commands queue (their bundles, and so their IAM roles, hold nothing else: infra/permissions.ts).
 */
export class SqsSender<T> implements Sender<T> {
  constructor(
    protected readonly sqs: SQSClient,
    protected readonly opts: SqsSenderOptions<T>,
  ) {}

  async send(messages: { id: string; body: T; group?: string }[]): Promise<void> {
    const { dedupe, remember = () => true } = this.opts;
    const remembered = new Set(dedupe ? messages.filter((m) => remember(m.body)).map((m) => m.id) : []);
    const seen = dedupe && remembered.size ? await dedupe.seen([...remembered]) : new Set<string>();
    // One message per id even within the call (SQS would reject duplicate batch entry ids).
    const fresh = [...new Map(messages.filter((m) => !seen.has(m.id)).map((m) => [m.id, m])).values()];
    const texts = fresh.map((m) => ({ ...m, text: JSON.stringify(m.body) }));
    for (const chunk of batches(texts, (m) => Buffer.byteLength(m.text), BATCH_MESSAGES, BATCH_BYTES)) {
      const out = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.opts.url,
          Entries: chunk.map((m, j) => ({
            Id: String(j),
            MessageBody: m.text,
            ...(this.opts.fifo
              ? { MessageGroupId: sqsToken(m.group ?? m.id), MessageDeduplicationId: sqsToken(m.id) }
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
    const record = fresh.filter((m) => remembered.has(m.id)).map((m) => m.id);
    if (dedupe && record.length) await dedupe.record(record);
  }
}
