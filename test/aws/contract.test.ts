import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDedupe } from '../../aws/dynamo-dedupe.ts';
import { DynamoStore } from '../../aws/dynamo-store.ts';
import { SqsQueue } from '../../aws/sqs-queue.ts';
import { type Command, CommandSchema, REMEMBERED_BY_SERVICE } from '../../core/commands.ts';
import { queueContract } from '../contract/queue.contract.ts';
import { storeContract } from '../contract/store.contract.ts';
import {
  createQueues,
  createTable,
  dynamoClient,
  type Emulators,
  sqsClient,
  startEmulators,
} from './emulators.ts';

// The same contract suites the SQLite adapters pass, against DynamoDB Local and fauxqs.
let emulators: Emulators;
beforeAll(async () => {
  emulators = await startEmulators();
}, 60_000);
afterAll(async () => emulators?.stop());

storeContract('DynamoDB', async () => {
  const client = dynamoClient(emulators.dynamoEndpoint);
  return new DynamoStore(client, await createTable(client));
});

// The events queue (aws/api-deps.ts): at least once, no dedupe record.
queueContract(
  'SQS (standard)',
  async (maxReceives) => {
    const sqs = sqsClient(emulators.sqsEndpoint);
    return new SqsQueue(sqs, await createQueues(sqs, maxReceives));
  },
  { oncePerId: false },
);

queueContract('SQS (FIFO, with DynamoDB dedupe)', async (maxReceives) => {
  const dynamo = dynamoClient(emulators.dynamoEndpoint);
  const sqs = sqsClient(emulators.sqsEndpoint);
  const urls = await createQueues(sqs, maxReceives, true);
  return new SqsQueue(sqs, {
    ...urls,
    fifo: true,
    dedupe: new DynamoDedupe(dynamo, await createTable(dynamo), 'commands'),
  });
});

describe('the commands sender remembers only the commands whose repeat would act twice', () => {
  it('writes no dedupe item for a resubmission or a reading; the FIFO queue still drops their repeat', async () => {
    const dynamo = dynamoClient(emulators.dynamoEndpoint);
    const sqs = sqsClient(emulators.sqsEndpoint);
    const urls = await createQueues(sqs, 5, true);
    const dedupe = new DynamoDedupe(dynamo, await createTable(dynamo), 'commands');
    const queue = new SqsQueue<Command>(sqs, {
      ...urls,
      fifo: true,
      dedupe,
      remember: (c) => REMEMBERED_BY_SERVICE[c.type],
    });
    const base = { protocol: 2, workload: 'nightly', createdAt: new Date().toISOString() };
    const commands = CommandSchema.array().parse([
      {
        ...base,
        id: 'lab:77:a1',
        type: 'slurm.resubmit',
        jobId: '77',
        comment: 'rebound:nightly/lab:77:a1.0123456789abcdef',
        resources: {},
      },
      { ...base, id: 'enrich:lab:77', type: 'slurm.enrich', jobId: '77', eventId: 'jobcomp:lab:77' },
      { ...base, id: 'hook:nightly:1', type: 'hook.run', hook: 'notify' },
    ]);
    const message = (c: Command) => ({ id: c.id, body: c });
    await queue.send(commands.map(message));
    await queue.send(commands.map(message));
    expect([...(await dedupe.seen(commands.map((c) => c.id)))]).toEqual(['hook:nightly:1']);
    const received: string[] = [];
    for (let empty = 0; empty < 2; ) {
      const batch = await queue.receive(10, 30);
      received.push(...batch.map((m) => m.body.id));
      empty = batch.length ? 0 : empty + 1;
    }
    expect(received.sort()).toEqual(['enrich:lab:77', 'hook:nightly:1', 'lab:77:a1']);
  });
});
