/// <reference path="../.sst/platform/config.d.ts" />

type Queues = { queue: sst.aws.Queue; deadLetters: sst.aws.Queue };

/** Where Rebound's alarms go: subscribe a person (email, a chat bridge) to it after the first deploy. */
export function notificationTopic() {
  return new sst.aws.SnsTopic('Notifications');
}

interface AlarmArgs {
  events: Queues;
  commands: Queues;
  /** The worker function's name (infra/service.ts). */
  workerName: $util.Input<string>;
  topic: sst.aws.SnsTopic;
}

/**
 * Nothing given up on goes unnoticed: any message in either dead-letter queue, and any failed invocation of
 * the worker (a timeout, a crash at start; an event it fails on is retried and, if it never succeeds,
 * reaches the dead-letter queue), raise an alarm whose actions go to the notification topic.
 */
export function alarms({ events, commands, workerName, topic }: AlarmArgs) {
  const actions = [topic.arn];
  const deadLetters = [
    ['EventsDeadLettersAlarm', events.deadLetters, 'events the worker gave up on'],
    ['CommandsDeadLettersAlarm', commands.deadLetters, 'commands the relay gave up on'],
  ] as const;
  for (const [name, queue, what] of deadLetters)
    new aws.cloudwatch.MetricAlarm(name, {
      alarmDescription: `Rebound: ${what} are waiting in a dead-letter queue; fix the cause, then redrive them`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: queue.nodes.queue.name },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: actions,
      okActions: actions,
    });
  new aws.cloudwatch.MetricAlarm('WorkerErrorsAlarm', {
    alarmDescription: 'Rebound: the worker function failed (timeout or crash); see its logs',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: workerName },
    statistic: 'Sum',
    period: 300,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    alarmActions: actions,
  });
}
