/**
 * The worker function's timeout (infra/queues.ts sizes the events queue's visibility from it: SQS wants at
 * least 6× for a Lambda trigger). Here, outside infra/, so that tests can hold a batch to it.
 */
export const WORKER_TIMEOUT_SECONDS = 30;

/** Receives of a message before its queue moves it to the dead-letter queue (infra/queues.ts). */
export const MAX_RECEIVES = 5;
