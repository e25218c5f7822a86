import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { MessageQueue, QueueMessage } from '../core/ports.ts';
import { SqsSender, type SqsSenderOptions } from './sqs-sender.ts';

export interface SqsQueueOptions<T = unknown> extends SqsSenderOptions<T> {
  /** Where SQS moves a message after maxReceiveCount (the queue's redrive policy). */
  deadLetterUrl?: string;
  /** Long polling for receive (the relay on the login node); 0 answers at once (the default). */
  waitSeconds?: number;
}

/** The MessageQueue port on SQS, sending and consuming: the relay's commands queue (FIFO), and tests. */
export class SqsQueue<T> extends SqsSender<T> implements MessageQueue<T> {
  declare protected readonly opts: SqsQueueOptions<T>;

  constructor(sqs: SQSClient, opts: SqsQueueOptions<T>) {
    super(sqs, opts);
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
