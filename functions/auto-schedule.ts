import { SNSClient } from '@aws-sdk/client-sns';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { serviceDeps } from '../aws/deps.ts';
import { snsPublisher } from '../aws/sns-publisher.ts';
import { lambdaTelemetry } from '../aws/telemetry.ts';
import { runAutoSchedule } from '../service/auto-schedule.ts';
import { reportSilentCommands } from '../service/command-watch.ts';
import { deliverNotices, fetchPost, notifyChannels } from '../service/notify.ts';
import { recheckWaitingArrays } from '../service/slurm-arrays.ts';
import { recheckWaitingRuns } from '../service/torc-completion.ts';

const telemetry = lambdaTelemetry('rebound-cron');
const deps = { ...serviceDeps(), telemetry };
// A webhook's outbound secret comes from the function's environment (secretEnv); files are a local thing.
// An SNS channel publishes to the deployment's Notifications topic unless it names another.
const notify = {
  ...deps,
  channels: notifyChannels(deps.config.notify, {
    post: fetchPost,
    publish: snsPublisher(new SNSClient({})),
    ...(process.env.REBOUND_NOTIFY_TOPIC_ARN
      ? { defaultTopicArn: process.env.REBOUND_NOTIFY_TOPIC_ARN }
      : {}),
    secretOf: (c) => (c.secretEnv ? process.env[c.secretEnv] : undefined),
  }),
  log: (line: string) => telemetry.log('warn', line),
};

/**
 * The cron rule's target: auto-schedule for every Torc workflow, completed runs waiting for their
 * allocations, then the notices people are owed
 * (DynamoDB's TTL does the housekeeping).
 */
export async function handler(
  _event: ScheduledEvent,
  context?: Context,
): Promise<{ scheduled: string[]; notices: { delivered: number; failed: number } }> {
  telemetry.begin(context);
  try {
    const scheduled = await runAutoSchedule(deps);
    await recheckWaitingRuns(deps);
    await reportSilentCommands(deps);
    await recheckWaitingArrays(deps);
    return { scheduled, notices: await deliverNotices(notify) };
  } finally {
    telemetry.flush();
  }
}
