import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Command } from '../core/commands.ts';
import { ConfigError } from '../core/errors.ts';
import type { Event } from '../core/events.ts';
import { parseServiceConfig, type ServiceConfig } from '../service/config.ts';
import type { ServiceDeps } from '../service/deps.ts';
import { secretProblem } from '../service/signature.ts';
import { DynamoDedupe } from './dynamo-dedupe.ts';
import { DynamoStore } from './dynamo-store.ts';
import { SqsQueue } from './sqs-queue.ts';

/**
 * The service's adapters in AWS, from the environment SST gives each function (infra/service.ts):
 * REBOUND_TABLE, REBOUND_EVENTS_URL (+ _DLQ_URL), REBOUND_COMMANDS_URL (+ _DLQ_URL), REBOUND_CONFIG (the
 * policy and profile from sst.config.ts, as JSON), REBOUND_SECRET (the HMAC secret). AWS_ENDPOINT_URL_*
 * point the SDK at emulators in tests; in Lambda they are unset.
 */
export interface AwsDeps extends ServiceDeps {
  events: SqsQueue<Event>;
  commands: SqsQueue<Command>;
  secret: string;
}

function need(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError('environment', [`${name} is not set`]);
  return value;
}

export function awsDeps(env: NodeJS.ProcessEnv = process.env): AwsDeps {
  const table = need(env, 'REBOUND_TABLE');
  const dynamo = new DynamoDBClient({});
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  let raw: unknown;
  try {
    raw = JSON.parse(env.REBOUND_CONFIG ?? '{}');
  } catch (error) {
    throw new ConfigError('environment', [`REBOUND_CONFIG: ${(error as Error).message}`]);
  }
  const config: ServiceConfig = parseServiceConfig(raw);
  const secret = need(env, 'REBOUND_SECRET');
  const weak = secretProblem(secret);
  if (weak) throw new ConfigError('environment', [`REBOUND_SECRET: ${weak}`]);
  const store = new DynamoStore(dynamo, table);
  return {
    store,
    config,
    now: () => new Date(),
    secret,
    events: new SqsQueue<Event>(sqs, {
      url: need(env, 'REBOUND_EVENTS_URL'),
      deadLetterUrl: env.REBOUND_EVENTS_DLQ_URL,
      dedupe: new DynamoDedupe(dynamo, table, 'events'),
    }),
    commands: new SqsQueue<Command>(sqs, {
      url: need(env, 'REBOUND_COMMANDS_URL'),
      deadLetterUrl: env.REBOUND_COMMANDS_DLQ_URL,
      fifo: true,
      dedupe: new DynamoDedupe(dynamo, table, 'commands'),
    }),
  };
}
