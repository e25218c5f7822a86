/// <reference path="../.sst/platform/config.d.ts" />

import { MAX_RECEIVES, WORKER_MAX_CONCURRENCY, WORKER_TIMEOUT_SECONDS } from '../aws/lambda-limits.ts';

/** Events: a standard queue; a message received 5 times without success moves to its dead-letter queue. */
export function eventQueues() {
  const deadLetters = new sst.aws.Queue('EventsDeadLetters', {
    transform: { queue: { messageRetentionSeconds: 1_209_600 } },
  });
  const queue = new sst.aws.Queue('Events', {
    visibilityTimeout: `${WORKER_TIMEOUT_SECONDS * 6} seconds`,
    dlq: { queue: deadLetters.arn, retry: MAX_RECEIVES },
  });
  return { queue, deadLetters };
}

/**
 * Commands to the relay: FIFO, one message group per workload (a workflow's steps stay in order),
 * deduplicated by command id (the relay also checks Slurm before it submits).
 */
export function commandQueues() {
  const deadLetters = new sst.aws.Queue('CommandsDeadLetters', {
    fifo: true,
    transform: { queue: { messageRetentionSeconds: 1_209_600 } },
  });
  const queue = new sst.aws.Queue('Commands', {
    fifo: true,
    visibilityTimeout: '60 seconds',
    dlq: { queue: deadLetters.arn, retry: MAX_RECEIVES },
  });
  return { queue, deadLetters };
}

/**
 * The worker on the events queue: batches of 10 whose failed messages alone come back, and at most
 * WORKER_MAX_CONCURRENCY instances at once (aws/lambda-limits.ts).
 */
export function workerTrigger(
  queue: sst.aws.Queue,
  worker: Parameters<sst.aws.Queue['subscribe']>[0],
): ReturnType<sst.aws.Queue['subscribe']> {
  return queue.subscribe(worker, {
    batch: { size: 10, partialResponses: true },
    transform: { eventSourceMapping: { scalingConfig: { maximumConcurrency: WORKER_MAX_CONCURRENCY } } },
  });
}
