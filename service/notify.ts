import { ConfigError } from '../core/errors.ts';
import { assertNever } from '../core/never.ts';
import {
  type Channel,
  channelName,
  NOTICE_ATTEMPTS,
  noticeBody,
  noticeText,
  retryDelayMs,
  type SnsMessage,
} from '../core/notice.ts';
import type { HistoryEntry, Notice, StateStore, WorkloadRecord } from '../core/ports.ts';
import { updateWorkload } from './effects.ts';
import { signedHeaders } from './signature.ts';
import type { Telemetry } from './telemetry.ts';

// Delivers the notices kept on workload records (service/effects.ts writes them with the status change):
// at least once per channel, retried with backoff, one message per transition. Run by the local tick and
// the AWS cron; two runs at once may both send a notice (the record is claimed by neither), which the
// receivers see as the same notice id.

/** A configured channel, ready to send: throws with the receiver's answer unless it took the notice. */
export interface NotifyChannel {
  channel: Channel;
  send: (body: unknown) => Promise<void>;
}

export interface NotifyDeps {
  store: StateStore;
  now: () => Date;
  channels: NotifyChannel[];
  log?: (line: string) => void;
  telemetry?: Telemetry;
}

/** How a shell sends: HTTP for webhooks, and in AWS SNS; the webhooks' secrets, read by the shell. */
export interface Senders {
  post: (url: string, body: string, headers: Record<string, string>) => Promise<void>;
  /** AWS only; `topicArn` already resolved. */
  publish?: (topicArn: string, message: SnsMessage) => Promise<void>;
  /** The deployment's own topic, for an SNS channel that names none. */
  defaultTopicArn?: string;
  secretOf: (c: Extract<Channel, { type: 'webhook' }>) => string | undefined;
}

/**
 * The channels of the config, ready to send. An SNS channel where there is no SNS (the local process), or
 * no topic, is a configuration error at start-up, not a notice lost later.
 */
export function notifyChannels(channels: Channel[], senders: Senders): NotifyChannel[] {
  return channels.map((channel, i): NotifyChannel => {
    switch (channel.type) {
      case 'sns': {
        const topicArn = channel.topicArn ?? senders.defaultTopicArn;
        const publish = senders.publish;
        if (!publish || !topicArn)
          throw new ConfigError('config', [
            `notify[${i}]: an "sns" channel needs AWS (${publish ? 'and a topic: topicArn' : 'the deployed service'}); use "webhook", "slack" or "teams" here`,
          ]);
        return { channel, send: (body) => publish(topicArn, body as SnsMessage) };
      }
      case 'webhook': {
        const secret = senders.secretOf(channel);
        const path = new URL(channel.url).pathname;
        return {
          channel,
          send: (body) => {
            const text = JSON.stringify(body);
            return senders.post(channel.url, text, {
              'content-type': 'application/json',
              ...(secret ? signedHeaders(secret, text, { path }) : {}),
            });
          },
        };
      }
      case 'slack':
      case 'teams':
        return {
          channel,
          send: (body) =>
            senders.post(channel.url, JSON.stringify(body), { 'content-type': 'application/json' }),
        };
      default:
        return assertNever(channel, 'channel');
    }
  });
}

/** POST with the platform's fetch, 10 s at most; a non-2xx answer throws with its status and first words. */
export async function fetchPost(url: string, body: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
}

/** History lines a notice carries: from just before the transition (its reason may be written first). */
const REASON_LINES = 15;
const REASON_WINDOW_MS = 10_000;

function reasonOf(history: HistoryEntry[], n: Notice): string[] {
  const since = Date.parse(n.at) - REASON_WINDOW_MS;
  const lines = history.filter((h) => Date.parse(h.at) >= since).map((h) => h.line);
  return lines.length > REASON_LINES
    ? [...lines.slice(0, REASON_LINES), `… ${lines.length - REASON_LINES} more line(s) in its history`]
    : lines;
}

const due = (n: Notice, now: Date) => !n.gaveUpAt && Date.parse(n.nextAt) <= now.getTime();

/** One pass: every due notice to every channel it has not reached. Returns what it delivered and missed. */
export async function deliverNotices(deps: NotifyDeps): Promise<{ delivered: number; failed: number }> {
  let delivered = 0;
  let failed = 0;
  const now = deps.now();
  for (const w of await deps.store.listWorkloads()) {
    const pending = (w.notices ?? []).filter((n) => due(n, now));
    if (!pending.length) continue;
    const history = await deps.store.listHistory(w.key);
    const outcomes = new Map<string, { sent: string[]; error?: string }>();
    for (const n of pending) {
      const text = noticeText(w.key, n, reasonOf(history, n));
      const sent: string[] = [];
      let error: string | undefined;
      for (const [i, { channel, send }] of deps.channels.entries()) {
        const name = channelName(channel, i);
        if (n.sent.includes(name)) continue;
        try {
          await send(noticeBody(channel.type, w.key, n, text));
          sent.push(name);
          delivered++;
          deps.telemetry?.count('NotificationsSent');
        } catch (e) {
          failed++;
          deps.telemetry?.count('NotificationsFailed');
          error = `${name}: ${(e as Error).message}`;
          deps.log?.(`notify: ${n.id} to ${name} failed (try ${n.attempts + 1}): ${(e as Error).message}`);
        }
      }
      outcomes.set(n.id, { sent, ...(error ? { error } : {}) });
    }
    await updateWorkload(deps, w.key, (current) =>
      current ? { ...current, notices: settle(current, outcomes, deps.channels.length, now) } : undefined,
    );
  }
  return { delivered, failed };
}

/** The record's notices after a pass: delivered ones gone, failed ones due again later or given up. */
function settle(
  w: WorkloadRecord,
  outcomes: Map<string, { sent: string[]; error?: string }>,
  channels: number,
  now: Date,
): Notice[] {
  return (w.notices ?? []).flatMap((n) => {
    const o = outcomes.get(n.id);
    if (!o) return [n];
    const sent = [...new Set([...n.sent, ...o.sent])];
    if (sent.length >= channels) return [];
    const attempts = n.attempts + 1;
    return [
      {
        ...n,
        sent,
        attempts,
        nextAt: new Date(now.getTime() + retryDelayMs(attempts)).toISOString(),
        ...(o.error ? { lastError: o.error } : {}),
        ...(attempts >= NOTICE_ATTEMPTS ? { gaveUpAt: now.toISOString() } : {}),
      },
    ];
  });
}
