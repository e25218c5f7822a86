/**
 * The worker function's timeout (infra/queues.ts sizes the events queue's visibility from it: SQS wants at
 * least 6× for a Lambda trigger). Here, outside infra/, so that tests can hold a batch to it.
 */
export const WORKER_TIMEOUT_SECONDS = 30;

/** Receives of a message before its queue moves it to the dead-letter queue (infra/queues.ts). */
export const MAX_RECEIVES = 5;

/**
 * Worker instances the events queue may run at once (the trigger's maximum concurrency). A storm of one
 * workload's failures updates one workload record: instances beyond a few dozen only race on it (each
 * conditional write that loses is read and written again), and each instance is a DynamoDB and Lambda
 * cost. 20 instances × batches of 10 keep up with thousands of events a minute (README "AWS at scale").
 */
export const WORKER_MAX_CONCURRENCY = 20;
