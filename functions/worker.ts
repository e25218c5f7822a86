import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { serviceDeps } from '../aws/deps.ts';
import { EventSchema } from '../core/events.ts';
import { handleEvents } from '../service/dispatch.ts';

const deps = serviceDeps();

/**
 * The worker on the events queue (event source mapping with ReportBatchItemFailures): each record is one
 * event; only the records that failed go back to the queue, so one bad event never re-runs the batch.
 * A record that is not an event at all can never succeed: it is logged and dropped (not retried).
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const parsed = event.Records.map((r) => ({
    id: r.messageId,
    event: EventSchema.safeParse(parseJson(r.body)),
  }));
  const valid = parsed.filter((p) => p.event.success);
  for (const p of parsed) if (!p.event.success) console.error(`worker: dropped malformed message ${p.id}`);
  const outcomes = await handleEvents(
    deps,
    valid.map((p) => p.event.data!),
  );
  const failures = valid.flatMap((p, i) => {
    const error = outcomes[i];
    if (!error) return [];
    console.error(`worker: event ${p.event.data!.id} failed, will retry: ${error.message}`);
    return [{ itemIdentifier: p.id }];
  });
  return { batchItemFailures: failures };
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
