/// <reference path="./.sst/platform/config.d.ts" />

// Rebound in AWS: webhook + status API (Function URL), SQS events queue → worker, FIFO commands queue →
// the relay on the login node, DynamoDB for state, an auto-schedule cron. The recovery policy lives here,
// validated with the core zod schema when this file is evaluated (a bad value fails `sst deploy`).
export default $config({
  app(input) {
    return {
      name: 'rebound',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
    };
  },
  async run() {
    const { serviceConfig } = await import('./infra/config');
    const { stateTable } = await import('./infra/table');
    const { eventQueues, commandQueues } = await import('./infra/queues');
    const { service } = await import('./infra/service');
    const { alarms, notificationTopic } = await import('./infra/alarms');

    const table = stateTable();
    const events = eventQueues();
    const commands = commandQueues();
    const topic = notificationTopic();
    const deployed = service({
      table,
      events,
      commands,
      topic,
      config: serviceConfig({
        policy: {
          memoryMultiplier: 1.5,
          runtimeMultiplier: 1.4,
          maxRetries: 3,
          retryUnknown: false,
          autoSchedule: { threshold: 5, cooldownSeconds: 1800, strandedTimeoutSeconds: 7200 },
          overrides: {},
        },
        // No profile: each cluster's partitions come from its relay (scontrol). Name one ("kestrel") or give
        // one whole only to plan with other partitions than Slurm states.
      }),
    });
    alarms({ events, commands, workerName: deployed.workerName, topic });
    return {
      webhook: deployed.url,
      mcp: deployed.mcpUrl,
      notifications: topic.arn,
      table: table.name,
      commandsQueue: commands.queue.url,
    };
  },
});
