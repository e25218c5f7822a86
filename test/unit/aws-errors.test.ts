import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDedupe } from '../../aws/dynamo-dedupe.ts';
import { DynamoStore } from '../../aws/dynamo-store.ts';
import { SqsQueue } from '../../aws/sqs-queue.ts';
import type { Plan } from '../../core/plan.ts';
import { AttemptAlreadyClaimedError } from '../../core/ports.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { handleEvents } from '../../service/dispatch.ts';
import { loadEvent } from '../support/events.ts';

// Error paths the emulators cannot produce on demand: throttling, a lost conditional transaction, partial
// batch failures. (That the AWS path works is shown against DynamoDB Local and fauxqs, test/aws.)

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
beforeEach(() => {
  dynamo.reset();
  sqs.reset();
});
const meta = { $metadata: {} };
const store = () => new DynamoStore(new DynamoDBClient({ region: 'us-east-1' }), 'state');
const plan: Plan = {
  workload: 'w',
  kind: 'slurm',
  attempt: 1,
  createdAt: 't',
  outcome: 'recover',
  decisions: [],
  actions: [],
  report: [],
};

describe('AWS adapters on error paths', () => {
  it('a claim that loses the conditional transaction reports the attempt that won', async () => {
    const winner = {
      lineage: 'L',
      attempt: 1,
      workload: 'w',
      commandIds: ['L:a1'],
      createdAt: 't',
      plan,
    };
    dynamo.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        ...meta,
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      }),
    );
    dynamo.on(GetCommand).resolves({ Item: { ...winner, PK: 'LIN#L', SK: 'ATTEMPT#0001' } });
    const error = await store()
      .claimAttempt({ ...winner, commandIds: ['other'], plan })
      .catch((e) => e);
    expect(error).toBeInstanceOf(AttemptAlreadyClaimedError);
    expect(error.existing).toEqual(winner);
  });

  it('a transaction cancelled for another reason (throttling) is not taken for a lost race', async () => {
    dynamo.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'throttled',
        ...meta,
        CancellationReasons: [{ Code: 'ThrottlingError' }],
      }),
    );
    const error = await store()
      .claimAttempt({
        lineage: 'L',
        attempt: 1,
        workload: 'w',
        commandIds: [],
        createdAt: 't',
        plan,
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(TransactionCanceledException);
  });

  it('throttling fails only the event it hit: the worker reports it for redelivery, the others succeed', async () => {
    dynamo.on(GetCommand).callsFake((input) => {
      if (String(input.Key?.PK).endsWith(':2'))
        throw new ProvisionedThroughputExceededException({ message: 'slow down', ...meta });
      return {};
    });
    dynamo.on(PutCommand).resolves({});
    const queued: unknown[] = [];
    const deps = {
      store: store(),
      commands: {
        send: async (m: unknown[]) => void queued.push(...m),
        receive: vi.fn(),
        delete: vi.fn(),
        deadLetters: vi.fn(),
      },
      config: parseServiceConfig({}),
      now: () => new Date(),
    };
    const base = loadEvent('jobcomp/oom', 'slurm.jobcomp');
    const outcomes = await handleEvents(deps, [
      { ...base, id: 'e1', data: { ...base.data, jobId: '1' } },
      { ...base, id: 'e2', data: { ...base.data, jobId: '2' } },
    ]);
    expect(outcomes.map((o) => o?.name)).toEqual([undefined, 'ProvisionedThroughputExceededException']);
    expect(queued).toHaveLength(1);
  });

  it('an SQS batch with failed entries is not accepted, and its ids are not recorded as seen', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: '0', MessageId: 'm', MD5OfMessageBody: '' }],
      Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' }],
    });
    const record = vi.fn();
    const q = new SqsQueue(new SQSClient({ region: 'us-east-1' }), {
      url: 'https://sqs/q',
      dedupe: { seen: async () => new Set<string>(), record },
    });
    await expect(
      q.send([
        { id: 'a', body: 1 },
        { id: 'b', body: 2 },
      ]),
    ).rejects.toThrow(/refused 1 of 2 messages: try again/);
    expect(record).not.toHaveBeenCalled();
  });

  it('a dedupe record that fails fails the send (the sender retries), and every id was tried', async () => {
    dynamo.on(PutCommand).rejectsOnce(new Error('ProvisionedThroughputExceeded')).resolves({});
    await expect(
      new DynamoDedupe(new DynamoDBClient({ region: 'us-east-1' }), 'state', 'events').record([
        'a',
        'b',
        'a',
      ]),
    ).rejects.toThrow(/ProvisionedThroughputExceeded/);
    const keys = dynamo.commandCalls(PutCommand).map((c) => c.args[0].input.Item?.PK);
    expect(keys.sort()).toEqual(['MSG#events#a', 'MSG#events#b']);
  });
});
