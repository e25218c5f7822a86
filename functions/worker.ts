import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { serviceDeps } from '../aws/deps.ts';
import { MAX_RECEIVES } from '../aws/lambda-limits.ts';
import { lambdaTelemetry } from '../aws/telemetry.ts';
import { EventSchema } from '../core/events.ts';
import { eventWorkload, handleEvents } from '../service/dispatch.ts';

const telemetry = lambdaTelemetry('rebound-worker');
const deps = { ...serviceDeps(), telemetry };

/**
 * The worker on the events queue (event source mapping with ReportBatchItemFailures): each record is one
 * event; only the records that failed go back to the queue, so one bad event never re-runs the batch.
 * A record that is not an event at all can never succeed: it is logged and dropped (not retried). Every
 * event's outcome is one JSON line with its id and workload; a failure on its last receive is counted as
 * a dead letter (the queue moves it aside next).
 */
export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  telemetry.begin(context);
  try {
    const parsed = event.Records.map((r) => ({
      id: r.messageId,
      receives: Number(r.attributes?.ApproximateReceiveCount ?? 1),
      event: EventSchema.safeParse(parseJson(r.body)),
    }));
    const valid = parsed.filter((p) => p.event.success);
    for (const p of parsed)
      if (!p.event.success) telemetry.log('error', 'dropped a malformed message', { messageId: p.id });
    const outcomes = await handleEvents(
      deps,
      valid.map((p) => p.event.data!),
    );
    const failures = valid.flatMap((p, i) => {
      const e = p.event.data!;
      const error = outcomes[i];
      const fields = { eventId: e.id, workload: eventWorkload(e), type: e.type, receive: p.receives };
      if (!error) {
        telemetry.log('info', 'event handled', fields);
        return [];
      }
      const last = p.receives >= MAX_RECEIVES;
      telemetry.log(
        'error',
        last ? 'event failed for the last time: dead-lettered' : 'event failed, will retry',
        {
          ...fields,
          error: error.message,
        },
      );
      if (last) telemetry.count('DeadLetters', 1, 'events');
      return [{ itemIdentifier: p.id }];
    });
    return { batchItemFailures: failures };
  } finally {
    telemetry.flush();
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
