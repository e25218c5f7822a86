import * as z from 'zod';
import { assertNever } from './never.ts';
import type { Notice, WorkloadStatus } from './ports.ts';

// "A person is told": when a workload comes to need attention or runs out of retries, a notice is kept on
// its record (written with the status, so it is neither lost nor doubled by a redelivered event) and
// delivered to every configured channel by the tick (service/notify.ts). The words are built here.

/** The transitions a person hears about. */
const NOTIFY_ON: ReadonlySet<WorkloadStatus> = new Set<WorkloadStatus>(['needs-attention', 'exhausted']);

export const notifies = (from: WorkloadStatus | undefined, to: WorkloadStatus) =>
  from !== to && NOTIFY_ON.has(to);

export const ChannelSchema = z.discriminatedUnion('type', [
  /** Any receiver: Rebound's JSON, signed as the service signs (README "Notifications"). */
  z.strictObject({
    type: z.literal('webhook'),
    url: z.url(),
    /** The outbound secret, from a file (local) or an environment variable (AWS); unsigned without one. */
    secretFile: z.string().min(1).optional(),
    secretEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional(),
  }),
  /** A Slack incoming webhook. */
  z.strictObject({ type: z.literal('slack'), url: z.url() }),
  /** A Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is received"). */
  z.strictObject({ type: z.literal('teams'), url: z.url() }),
  /**
   * AWS only: an SNS topic — the deployment's `Notifications` topic (where the alarms go) unless another is
   * named. Subscribe people to it by email, SMS or a chat bridge.
   */
  z.strictObject({
    type: z.literal('sns'),
    topicArn: z
      .string()
      .regex(/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]{1,256}$/)
      .optional(),
  }),
]);
export type Channel = z.infer<typeof ChannelSchema>;

/** What an SNS channel is sent. */
export interface SnsMessage {
  subject: string;
  message: string;
}

/** A channel's name in a notice's record of where it went: its type and place in the config. */
export const channelName = (c: Channel, index: number) => `${c.type}#${index + 1}`;

/** A notice's tries: again after 10 s, 20 s, 40 s … at most an hour apart; given up after this many (~10 h). */
export const NOTICE_ATTEMPTS = 16;
export const retryDelayMs = (attempts: number) =>
  Math.min(3_600_000, 10_000 * 2 ** Math.max(0, attempts - 1));

const HEADLINE = {
  'needs-attention': 'needs attention',
  exhausted: 'stopped: its retries are used up',
} as const satisfies Partial<Record<WorkloadStatus, string>>;

/** What a person reads, whatever the channel. */
export interface NoticeText {
  title: string;
  /** The reason and the evidence, as the workload's history says it since the transition. */
  lines: string[];
  inspect: string;
}

export function noticeText(workload: string, n: Notice, history: string[]): NoticeText {
  const headline = n.status in HEADLINE ? HEADLINE[n.status as keyof typeof HEADLINE] : n.status;
  return {
    title: `Rebound: ${workload} ${headline}`,
    lines: history.length ? history : ['(no reason recorded)'],
    inspect: `rebound status ${workload}`,
  };
}

/** What one channel is sent: a JSON body, or for SNS a subject and a plain-text message. */
export function noticeBody(type: Channel['type'], workload: string, n: Notice, t: NoticeText): unknown {
  switch (type) {
    case 'sns':
      return {
        // SNS subjects: at most 100 printable ASCII characters, no line breaks.
        subject: t.title.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
        message: [t.title, '', ...t.lines, '', `Inspect: ${t.inspect}`].join('\n'),
      };
    case 'webhook':
      return {
        type: 'rebound.notice',
        id: n.id,
        workload,
        status: n.status,
        ...(n.from ? { previous: n.from } : {}),
        at: n.at,
        title: t.title,
        reason: t.lines,
        inspect: t.inspect,
      };
    case 'slack':
      return {
        text: `${t.title}\n${t.lines.join('\n')}\nInspect: ${t.inspect}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: t.title.slice(0, 150) } },
          {
            type: 'section',
            text: { type: 'mrkdwn', text: `\`\`\`${t.lines.join('\n').slice(0, 2900)}\`\`\`` },
          },
          { type: 'context', elements: [{ type: 'mrkdwn', text: `Inspect: \`${t.inspect}\`` }] },
        ],
      };
    case 'teams':
      return {
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            content: {
              $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
              type: 'AdaptiveCard',
              version: '1.4',
              body: [
                { type: 'TextBlock', text: t.title, weight: 'Bolder', size: 'Medium', wrap: true },
                ...t.lines.map((line) => ({ type: 'TextBlock', text: line, wrap: true, spacing: 'None' })),
                { type: 'TextBlock', text: `Inspect: ${t.inspect}`, isSubtle: true, wrap: true },
              ],
            },
          },
        ],
      };
    default:
      return assertNever(type, 'channel type');
  }
}
