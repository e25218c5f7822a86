// What the service says about itself besides history: counts a cloud operator graphs (CloudWatch metrics
// through EMF in AWS: aws/telemetry.ts) and log lines that carry where they belong (the event's id, its
// workload). Optional in ServiceDeps: tests and tools run without.

/** The metrics, each with the one dimension it is broken down by (if any). */
export const METRICS = {
  EventsAccepted: undefined,
  EventsRejected: 'reason',
  Recoveries: 'cause',
  NeedsAttention: 'status',
  DeadLetters: 'queue',
  NotificationsSent: undefined,
  NotificationsFailed: undefined,
} as const satisfies Record<string, string | undefined>;
export type Metric = keyof typeof METRICS;

/** Fields that tie a line to what it is about. */
export interface LogFields {
  eventId?: string;
  workload?: string;
  [key: string]: string | number | boolean | undefined;
}

export interface Telemetry {
  /** Adds `value` (1) to a metric; `dimension` is its breakdown's value (the reason, the cause …). */
  count(metric: Metric, value?: number, dimension?: string): void;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: LogFields): void;
}

/** One line, `level message key=value …`: the local process's form of the same fields. */
export function logLine(level: string, message: string, fields: LogFields = {}): string {
  const pairs = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${/[\s"=]/.test(String(v)) ? JSON.stringify(String(v)) : v}`);
  return [level === 'info' ? '' : `${level}:`, message, ...pairs].filter(Boolean).join(' ');
}
