/// <reference path="../.sst/platform/config.d.ts" />

import { WORKER_TIMEOUT_SECONDS } from '../aws/lambda-limits.ts';
import { API_RESERVED_CONCURRENCY, type FunctionName, PERMISSIONS } from './permissions';
import { workerTrigger } from './queues';

type Queues = { queue: sst.aws.Queue; deadLetters: sst.aws.Queue };

interface ServiceArgs {
  table: sst.aws.Dynamo;
  events: Queues;
  commands: Queues;
  /** Validated JSON (infra/config.ts). */
  config: string;
  /** Where alarms and "sns" notification channels go (infra/alarms.ts). */
  topic: sst.aws.SnsTopic;
}

/**
 * The four functions, bundled with esbuild (ESM builds of the SDK: bench:bundle measures them), each with
 * exactly the permissions its code uses (infra/permissions.ts). The HMAC secret is an SST secret
 * (`npx sst secret set WebhookSecret …`) linked to the API function alone: the only one that checks
 * signatures, and no other function's environment holds it.
 */
export function service({ table, events, commands, config, topic }: ServiceArgs) {
  const secret = new sst.Secret('WebhookSecret');
  const environment = {
    REBOUND_TABLE: table.name,
    REBOUND_EVENTS_URL: events.queue.url,
    REBOUND_COMMANDS_URL: commands.queue.url,
    REBOUND_CONFIG: config,
  };
  const tableArns = [table.arn, $interpolate`${table.arn}/index/*`];
  const permissions = (name: FunctionName) => {
    const p = PERMISSIONS[name];
    return [
      { actions: [...p.table], resources: tableArns },
      { actions: [...p.events], resources: [events.queue.arn] },
      { actions: [...p.commands], resources: [commands.queue.arn] },
      { actions: [...p.topic], resources: [topic.arn] },
    ].filter((grant) => grant.actions.length > 0);
  };
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
    link: [secret],
    concurrency: { reserved: API_RESERVED_CONCURRENCY },
    permissions: permissions('api'),
  });

  const worker = workerTrigger(events.queue, {
    ...common,
    handler: 'functions/worker.handler',
    timeout: `${WORKER_TIMEOUT_SECONDS} seconds`,
    permissions: permissions('worker'),
  });

  new sst.aws.Cron('AutoSchedule', {
    schedule: 'rate(1 minute)',
    function: {
      ...common,
      handler: 'functions/auto-schedule.handler',
      timeout: '30 seconds',
      environment: { ...environment, REBOUND_NOTIFY_TOPIC_ARN: topic.arn },
      permissions: permissions('auto-schedule'),
    },
  });

  // The MCP tools (functions/mcp.ts): their own URL; a tool may wait up to 30 s for the worker or the relay.
  const mcp = new sst.aws.Function('Mcp', {
    ...common,
    handler: 'functions/mcp.handler',
    timeout: '60 seconds',
    url: true,
    concurrency: { reserved: API_RESERVED_CONCURRENCY },
    permissions: permissions('mcp'),
  });

  return { url: api.url, mcpUrl: mcp.url, workerName: worker.nodes.function.name };
}
