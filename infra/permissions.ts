// What each Lambda function may do, by the resource it acts on: exactly the actions its own code calls.
// This is data, not a second opinion: test/infra/permissions.test.ts bundles each function as SST does and
// derives the same from the AWS SDK commands its bundle contains; a new command call fails that test until
// it is granted here. (The worker's SQS trigger gets its poller's rights from SST's queue subscription.)

/** The functions in functions/<name>.ts that SST deploys (infra/service.ts). */
export const FUNCTIONS = ['api', 'worker', 'auto-schedule', 'mcp'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export interface FunctionPermissions {
  /** On the state table and its indexes. */
  table: readonly string[];
  /** On the events queue. */
  events: readonly string[];
  /** On the commands queue. */
  commands: readonly string[];
  /** On the notification topic (an "sns" notification channel). */
  topic: readonly string[];
}

/** Reads and one-item puts (conditional where it matters). */
const READ_PUT = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'] as const;
/** …and BatchGetItem, for the commands' accepted-id check (aws/dynamo-dedupe.ts). */
const STATE = [...READ_PUT, 'dynamodb:BatchGetItem'] as const;

export const PERMISSIONS = {
  // The webhook and status API: queues events, reads state, keeps people's tokens. No delete, no
  // transaction, no BatchWriteItem.
  api: { table: READ_PUT, events: ['sqs:SendMessage'], commands: [], topic: [] },
  // The decisions: the whole state store (a claim is a transaction of puts) and commands to the relay.
  worker: { table: STATE, events: [], commands: ['sqs:SendMessage'], topic: [] },
  // The tick: auto-schedule's commands, and the notices people are owed (to SNS when a channel says so).
  'auto-schedule': { table: STATE, events: [], commands: ['sqs:SendMessage'], topic: ['sns:Publish'] },
  // The MCP tools: read state and queue people's requests, as the API does (its store class can keep tokens).
  mcp: { table: READ_PUT, events: ['sqs:SendMessage'], commands: [], topic: [] },
} as const satisfies Record<FunctionName, FunctionPermissions>;

/** The Function URL's cap on concurrent executions: a flood of requests cannot take the account's pool. */
export const API_RESERVED_CONCURRENCY = 20;
