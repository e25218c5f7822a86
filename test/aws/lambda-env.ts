import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createQueues, createTable, dynamoClient, type Emulators, REGION, sqsClient } from './emulators.ts';

/**
 * The environment SST gives the functions (infra/service.ts), pointed at the emulators: a fresh table, an
 * events queue with its DLQ and a FIFO commands queue with its DLQ. Set before the handlers are imported
 * (they build their adapters once per container, at import).
 */
export async function lambdaEnvironment(
  emulators: Pick<Emulators, 'dynamoEndpoint' | 'sqsEndpoint'>,
  config: object,
  secret: string,
  maxMessageBytes?: number,
) {
  const dynamo = dynamoClient(emulators.dynamoEndpoint);
  const sqs = sqsClient(emulators.sqsEndpoint);
  const table = await createTable(dynamo);
  const events = await createQueues(sqs, 5, false, maxMessageBytes);
  const commands = await createQueues(sqs, 5, true, maxMessageBytes);
  const arn = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn ?? url;
  const env = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
    REBOUND_TABLE: table,
    REBOUND_EVENTS_URL: events.url,
    REBOUND_EVENTS_DLQ_URL: events.deadLetterUrl,
    REBOUND_COMMANDS_URL: commands.url,
    REBOUND_COMMANDS_DLQ_URL: commands.deadLetterUrl,
    REBOUND_CONFIG: JSON.stringify(config),
    // SST's link for the API function's secret (aws/api-deps.ts reads it with `Resource`).
    SST_RESOURCE_App: JSON.stringify({ name: 'rebound', stage: 'test' }),
    SST_RESOURCE_WebhookSecret: JSON.stringify({ value: secret }),
  };
  Object.assign(process.env, env);
  return { env, table, events, commands, eventsArn: await arn(events.url), sqs, dynamo };
}
