import { logLine, type Metric, type Telemetry } from '../service/telemetry.ts';

/**
 * The one-process telemetry: the same fields as in Lambda, one line each (`warn: workload needs-attention
 * workload=train from=recovering`), and the counts since start for /healthz.
 */
export function localTelemetry(
  log: (line: string) => void,
): Telemetry & { counts(): Record<string, number> } {
  const counts: Record<string, number> = {};
  return {
    count(metric: Metric, value = 1, dimension?: string) {
      const key = dimension ? `${metric}.${dimension}` : metric;
      counts[key] = (counts[key] ?? 0) + value;
    },
    log(level, message, fields) {
      log(logLine(level, message, fields));
    },
    counts: () => ({ ...counts }),
  };
}
