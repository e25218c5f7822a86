import { afterAll, beforeAll } from 'vitest';
import { DynamoDedupe } from '../../aws/dynamo-dedupe.ts';
import { DynamoStore } from '../../aws/dynamo-store.ts';
import { SqsQueue } from '../../aws/sqs-queue.ts';
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

queueContract('SQS (standard, with DynamoDB dedupe)', async (maxReceives) => {
  const dynamo = dynamoClient(emulators.dynamoEndpoint);
  const sqs = sqsClient(emulators.sqsEndpoint);
  const urls = await createQueues(sqs, maxReceives);
  return new SqsQueue(sqs, {
    ...urls,
    dedupe: new DynamoDedupe(dynamo, await createTable(dynamo), 'events'),
  });
});

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
