import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { SqsQueue } from '../../aws/sqs-queue.ts';
import type { Event } from '../../core/events.ts';
import type { Emulators } from './emulators.ts';
import { lambdaEnvironment } from './lambda-env.ts';
import { cronEvent, functionUrlEvent, sqsEvent } from './lambda-shapes.ts';

/**
 * Lambda as AWS runs these functions, on one machine: a Function URL (HTTP → payload v2 → the api handler)
 * and the events queue's event source mapping (receive up to 10 → SQS batch → worker handler → delete
 * all but the reported failures, which come back after the visibility timeout).
 */
export interface LambdaHostOptions {
  /** Batches handled at once, as Lambda runs several instances of the worker (default 1). */
  concurrency?: number;
  /** The queues' maximum message size (bytes). */
  maxMessageBytes?: number;
  /** Runs the cron function (auto-schedule, waiting runs, notices) this often, as EventBridge would. */
  cronSeconds?: number;
}

/** What the worker invocations took: the slowest (ms) and the largest heap seen after one (bytes). */
export interface HostStats {
  batches: number;
  slowestMs: number;
  heapBytes: number;
}

export async function startLambdaHost(
  emulators: Pick<Emulators, 'dynamoEndpoint' | 'sqsEndpoint'>,
  port: number,
  config: object,
  secret: string,
  options: LambdaHostOptions = {},
) {
  // The functions' JSON lines would drown a test's output: warnings and errors only, no EMF (the handler
  // tests check both).
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const setup = await lambdaEnvironment(emulators, config, secret, options.maxMessageBytes);
  const stats: HostStats = { batches: 0, slowestMs: 0, heapBytes: 0 };
  const [api, worker, cron] = await Promise.all([
    import('../../functions/api.ts'),
    import('../../functions/worker.ts'),
    import('../../functions/auto-schedule.ts'),
  ]);

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://host');
    // The host's own figures, for a test running it in another process (test/aws/lambda-host-main.ts).
    if (url.pathname === '/_host/stats') return void res.end(JSON.stringify(stats));
    const headers = Object.fromEntries(
      Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
    );
    const out = await api.handler(
      functionUrlEvent({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search.slice(1),
        headers,
        ...(chunks.length ? { body: Buffer.concat(chunks).toString('utf8') } : {}),
      }),
    );
    res.writeHead(out.statusCode, out.headers as Record<string, string>);
    res.end(out.body);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));

  const events = new SqsQueue<Event>(setup.sqs, { ...setup.events, waitSeconds: 1 });
  let running = true;
  const poll = async () => {
    while (running) {
      const batch = await events.receive(10, 30);
      if (!batch.length) continue;
      const ids = batch.map((_, i) => `msg-${Date.now()}-${i}`);
      const started = performance.now();
      const { batchItemFailures } = await worker.handler(
        sqsEvent(
          setup.eventsArn,
          batch.map((m, i) => ({
            messageId: ids[i]!,
            receiptHandle: m.receipt,
            body: JSON.stringify(m.body),
            receiveCount: m.receiveCount,
          })),
        ),
      );
      stats.batches++;
      stats.slowestMs = Math.max(stats.slowestMs, performance.now() - started);
      stats.heapBytes = Math.max(stats.heapBytes, process.memoryUsage().heapUsed);
      const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
      await Promise.all(batch.filter((_, i) => !failed.has(ids[i]!)).map((m) => events.delete(m.receipt)));
    }
  };
  const mapping = Promise.all(Array.from({ length: options.concurrency ?? 1 }, poll));
  const rule = options.cronSeconds
    ? setInterval(
        () => void cron.handler(cronEvent()).catch((e) => console.error(`cron: ${e}`)),
        options.cronSeconds * 1000,
      )
    : undefined;

  /** Messages waiting or in flight on a queue, as SQS counts them. */
  const pending = async (url: string) => {
    const { Attributes: a = {} } = await setup.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  };

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setup,
    /**
     * A positive signal that everything accepted has been acted on: no event and no command waiting or in
     * flight (the worker deletes an event after sending its commands; the relay deletes a command after
     * posting its result), seen twice a poll apart.
     */
    async idle(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 2) {
        const busy = (await pending(setup.events.url)) + (await pending(setup.commands.url));
        quiet = busy === 0 ? quiet + 1 : 0;
        if (Date.now() > deadline) throw new Error(`queues still busy after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    async stop() {
      running = false;
      clearInterval(rule);
      await mapping;
      await new Promise((r) => server.close(r));
    },
  };
}
