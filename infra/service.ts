/// <reference path="../.sst/platform/config.d.ts" />
import { WORKER_TIMEOUT_SECONDS } from './queues';

type Queues = { queue: sst.aws.Queue; deadLetters: sst.aws.Queue };

interface ServiceArgs {
  table: sst.aws.Dynamo;
  events: Queues;
  commands: Queues;
  /** Validated JSON (infra/config.ts). */
  config: string;
}

/**
 * The three functions, bundled with esbuild (ESM builds of the SDK: bench:bundle measures them), each with
 * only the permissions it uses. The HMAC secret is an SST secret: `npx sst secret set WebhookSecret …`.
 */
export function service({ table, events, commands, config }: ServiceArgs) {
  const secret = new sst.Secret('WebhookSecret');
  const environment = {
    REBOUND_TABLE: table.name,
    REBOUND_EVENTS_URL: events.queue.url,
    REBOUND_EVENTS_DLQ_URL: events.deadLetters.url,
    REBOUND_COMMANDS_URL: commands.queue.url,
    REBOUND_COMMANDS_DLQ_URL: commands.deadLetters.url,
    REBOUND_CONFIG: config,
    REBOUND_SECRET: secret.value,
  };
  const tableArns = [table.arn, $interpolate`${table.arn}/index/*`];
  const read = {
    actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'],
    resources: tableArns,
  };
  const write = {
    actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'],
    resources: tableArns,
  };
  const sendCommands = { actions: ['sqs:SendMessage'], resources: [commands.queue.arn] };
  const common = {
    runtime: 'nodejs22.x' as const,
    architecture: 'arm64' as const,
    memory: '512 MB' as const,
    environment,
    nodejs: { esbuild: { mainFields: ['module', 'main'] } },
  };

  const api = new sst.aws.Function('Api', {
    ...common,
    handler: 'functions/api.handler',
    timeout: '10 seconds',
    url: true,
    permissions: [read, write, { actions: ['sqs:SendMessage'], resources: [events.queue.arn] }],
  });

  events.queue.subscribe(
    {
      ...common,
      handler: 'functions/worker.handler',
      timeout: `${WORKER_TIMEOUT_SECONDS} seconds`,
      permissions: [read, write, sendCommands],
    },
    { batch: { size: 10, partialResponses: true } },
  );

  new sst.aws.Cron('AutoSchedule', {
    schedule: 'rate(1 minute)',
    function: {
      ...common,
      handler: 'functions/auto-schedule.handler',
      timeout: '30 seconds',
      permissions: [read, write, sendCommands],
    },
  });

  return { url: api.url };
}
