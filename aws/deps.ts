import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type Command, REMEMBERED_BY_SERVICE } from '../core/commands.ts';
import { ConfigError } from '../core/errors.ts';
import { parseServiceConfig, type ServiceConfig } from '../service/config.ts';
import type { ServiceDeps } from '../service/deps.ts';
import { DynamoDedupe } from './dynamo-dedupe.ts';
import { DynamoStore } from './dynamo-store.ts';
import { SqsSender } from './sqs-sender.ts';

// The service's adapters in AWS, from the environment SST gives each function (infra/service.ts):
// REBOUND_TABLE, REBOUND_EVENTS_URL, REBOUND_COMMANDS_URL, REBOUND_CONFIG (the policy and profile from
// sst.config.ts, as JSON). AWS_ENDPOINT_URL_* point the SDK at emulators in tests; in Lambda they are
// unset. Each function builds only what it uses (its IAM role grants only that: infra/permissions.ts).

export function need(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError('environment', [`${name} is not set`]);
  return value;
}

export function serviceConfig(env: NodeJS.ProcessEnv): ServiceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(env.REBOUND_CONFIG ?? '{}');
  } catch (error) {
    throw new ConfigError('environment', [`REBOUND_CONFIG: ${(error as Error).message}`]);
  }
  return parseServiceConfig(raw);
}

export const clients = () => ({
  dynamo: new DynamoDBClient({}),
  sqs: new SQSClient({ useQueueUrlAsEndpoint: false }),
});

/** The worker's and auto-schedule's: the whole state store, and the commands queue to send to. */
export function serviceDeps(env: NodeJS.ProcessEnv = process.env): ServiceDeps {
  const table = need(env, 'REBOUND_TABLE');
  const { dynamo, sqs } = clients();
  return {
    store: new DynamoStore(dynamo, table),
    config: serviceConfig(env),
    now: () => new Date(),
    commands: new SqsSender<Command>(sqs, {
      url: need(env, 'REBOUND_COMMANDS_URL'),
      fifo: true,
      dedupe: new DynamoDedupe(dynamo, table, 'commands'),
      remember: (c) => REMEMBERED_BY_SERVICE[c.type],
    }),
  };
}
