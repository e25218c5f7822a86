// Runs next to SST's platform (copied into .sst/platform by infra.test.ts, so @pulumi/* resolve there):
// instantiates the table and queue components under Pulumi runtime mocks and prints every resource.
import * as pulumi from '@pulumi/pulumi';

const resources = [];
await pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      resources.push({ type: args.type, name: args.name, inputs: args.inputs });
      return {
        id: `${args.name}-id`,
        state: {
          ...args.inputs,
          arn: `arn:aws:mock:us-east-1:123456789012:${args.name}`,
          url: `https://sqs.mock/${args.name}`,
        },
      };
    },
    call: (args) => ({ ...args.inputs }),
  },
  'rebound',
  'test',
  false,
);
const infra = await import('./rebound-infra-test.mjs');
infra.stateTable();
const events = infra.eventQueues();
const commands = infra.commandQueues();
infra.workerTrigger(events.queue, 'arn:aws:lambda:us-east-1:123456789012:function:rebound-worker');
infra.alarms({ events, commands, workerName: 'rebound-worker', topic: infra.notificationTopic() });
// Outputs resolve asynchronously: let every dependent resource register.
await new Promise((r) => setTimeout(r, 1000));
console.log(JSON.stringify(resources));
