import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRICS, type Telemetry } from '../service/telemetry.ts';

// The service's telemetry in Lambda: JSON log lines (Powertools Logger: level, time, the request id once a
// handler adds its context, and the fields each line carries) and CloudWatch metrics as EMF in the same log
// stream (Powertools Metrics, namespace "Rebound"), so nothing but the log group is needed to see them.

export interface LambdaTelemetry extends Telemetry {
  /** At the start of an invocation: its request id on every line. */
  begin(context?: Context): void;
  /** At its end: the metrics counted during it, written out. */
  flush(): void;
}

export function lambdaTelemetry(serviceName: string): LambdaTelemetry {
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({ namespace: 'Rebound', serviceName });
  // Publishing with nothing stored only prints a warning: most invocations count nothing.
  let stored = false;
  return {
    begin(context) {
      if (context) logger.addContext(context);
    },
    flush() {
      if (stored) metrics.publishStoredMetrics();
      stored = false;
    },
    count(metric, value = 1, dimension) {
      const name = METRICS[metric];
      if (name && dimension) {
        // A metric with its own dimension value is written at once, apart from the others.
        metrics.singleMetric().addDimension(name, dimension).addMetric(metric, MetricUnit.Count, value);
        return;
      }
      metrics.addMetric(metric, MetricUnit.Count, value);
      stored = true;
    },
    log(level, message, fields = {}) {
      logger[level](message, fields);
    },
  };
}
