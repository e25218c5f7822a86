import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { SnsMessage } from '../core/notice.ts';

/** Publishes a notice to an SNS topic (the cron function's "sns" channel: service/notify.ts). */
export const snsPublisher =
  (sns: SNSClient) =>
  async (topicArn: string, m: SnsMessage): Promise<void> => {
    await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: m.subject, Message: m.message }));
  };
