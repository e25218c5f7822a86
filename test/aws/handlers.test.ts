import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoStore } from '../../aws/dynamo-store.ts';
import { SqsQueue } from '../../aws/sqs-queue.ts';
import type { Command } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { signedHeaders } from '../../service/signature.ts';
import { loadEvent, sacctEvent } from '../support/events.ts';
import { type Emulators, startEmulators } from './emulators.ts';
import { lambdaEnvironment } from './lambda-env.ts';
import { cronEvent, functionUrlEvent, sqsEvent } from './lambda-shapes.ts';

// The three functions as Lambda invokes them (Function URL v2 request, SQS batch, EventBridge schedule),
// with their real adapters against DynamoDB Local and fauxqs.

const SECRET = 'lambda-test-secret-of-32-bytes-at-least';
let emulators: Emulators;
let setup: Awaited<ReturnType<typeof lambdaEnvironment>>;
let api: typeof import('../../functions/api.ts');
let worker: typeof import('../../functions/worker.ts');
let cron: typeof import('../../functions/auto-schedule.ts');
let store: DynamoStore;
let commands: SqsQueue<Command>;
let events: SqsQueue<Event>;

beforeAll(async () => {
  emulators = await startEmulators();
  setup = await lambdaEnvironment(emulators, { policy: { maxRetries: 2 }, profile: 'kestrel' }, SECRET);
  [api, worker, cron] = await Promise.all([
    import('../../functions/api.ts'),
    import('../../functions/worker.ts'),
    import('../../functions/auto-schedule.ts'),
  ]);
  store = new DynamoStore(setup.dynamo, setup.table);
  commands = new SqsQueue(setup.sqs, { ...setup.commands, fifo: true });
  events = new SqsQueue(setup.sqs, setup.events);
}, 60_000);
afterAll(async () => emulators?.stop());

const post = (body: string, headers = signedHeaders(SECRET, body)) =>
  api.handler(functionUrlEvent({ method: 'POST', path: '/v1/events', headers, body }));

/** Hands every queued event to the worker as an SQS batch, deleting what it did not report failed. */
async function drainEvents(): Promise<SQSBatchResponse[]> {
  const responses: SQSBatchResponse[] = [];
  for (;;) {
    const batch = await events.receive(10, 30);
    if (!batch.length) return responses;
    const ids = batch.map((_, i) => `m${i}`);
    const res = await worker.handler(
      sqsEvent(
        setup.eventsArn,
        batch.map((m, i) => ({ messageId: ids[i]!, receiptHandle: m.receipt, body: JSON.stringify(m.body) })),
      ),
    );
    responses.push(res);
    const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    for (const [i, m] of batch.entries()) if (!failed.has(ids[i]!)) await events.delete(m.receipt);
  }
}

describe('Lambda functions', () => {
  it('api: a signed event → 202 and on the events queue; unsigned → 401; healthz', async () => {
    const event = loadEvent('jobcomp/oom', 'slurm.jobcomp');
    const res = await post(JSON.stringify(event));
    expect(res.statusCode).toBe(202);
    expect((await post(JSON.stringify(event))).statusCode).toBe(202);
    expect((await post(JSON.stringify(event), { 'content-type': 'application/json' })).statusCode).toBe(401);
    const bad = await post(JSON.stringify({ ...event, data: { ...event.data, jobId: 'x' } }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).fields[0]).toMatch(/^event\.data\.jobId/);
    expect(
      (await api.handler(functionUrlEvent({ method: 'GET', path: '/healthz', headers: {} }))).statusCode,
    ).toBe(200);
    // Posted twice, queued twice (a standard queue is at least once; the webhook keeps no dedupe record):
    // the worker makes the repeat harmless — one enrich command for the two.
    const queued: string[] = [];
    for (let batch = await events.receive(10, 30); batch.length; batch = await events.receive(10, 30)) {
      queued.push(...batch.map((m) => m.body.id));
      for (const m of batch) await events.delete(m.receipt);
    }
    expect(queued).toEqual([event.id, event.id]);
  });

  it('worker: a reading posted twice is decided once (one attempt, one resubmission, one history line)', async () => {
    const reading = sacctEvent('5252', {
      timeLimit: '00:01:00',
      comment: 'rebound:twice',
      partition: 'short',
    });
    const body = JSON.stringify(reading);
    for (let i = 0; i < 2; i++) expect((await post(body)).statusCode).toBe(202);
    expect((await drainEvents()).flatMap((r) => r.batchItemFailures)).toEqual([]);
    const sent = await commands.receive(10, 30);
    expect(sent.map((m) => m.body)).toMatchObject([{ type: 'slurm.resubmit', id: 'lab:5252:a1' }]);
    for (const m of sent) await commands.delete(m.receipt);
    expect(await store.listAttempts('twice')).toHaveLength(1);
    const lines = (await store.listHistory('twice')).map((h) => h.line);
    expect(lines.filter((l) => l.startsWith('Recovery attempt '))).toEqual([
      'Recovery attempt 1/2 for twice',
    ]);
  });

  it('worker: turns the event into an enrich command; a bad record is dropped, a failing one reported alone', async () => {
    const completed: Event = {
      id: 'torc-complete:99:1',
      version: 1,
      source: 'relay:torc',
      occurredAt: new Date().toISOString(),
      cluster: 'lab',
      type: 'torc.workflow.completed',
      data: {
        workflowId: 99,
        runId: 1,
        isCanceled: false,
        page: { index: 2, count: 3 },
        failedJobIds: [5],
        canceled: [],
        rrSizes: {},
        liveAllocations: 0,
        resourceRequirements: [],
      },
    };
    // Page 2 of 3 of a run whose page 1 said 2 pages: this event must fail (and be retried), the others
    // must not.
    const first = {
      ...completed,
      id: 'torc-complete:99:1:p1of2',
      data: { ...completed.data, page: { index: 1, count: 2 } },
    };
    expect(
      (
        await worker.handler(
          sqsEvent(setup.eventsArn, [{ messageId: 'p1', receiptHandle: 'r0', body: JSON.stringify(first) }]),
        )
      ).batchItemFailures,
    ).toEqual([]);
    const res = await worker.handler(
      sqsEvent(setup.eventsArn, [
        {
          messageId: 'ok',
          receiptHandle: 'r1',
          body: JSON.stringify(loadEvent('jobcomp/oom', 'slurm.jobcomp')),
        },
        { messageId: 'garbage', receiptHandle: 'r2', body: '{not json' },
        { messageId: 'later', receiptHandle: 'r3', body: JSON.stringify(completed) },
      ]),
    );
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'later' }]);
    const [command] = await commands.receive(10, 30);
    expect(command?.body).toMatchObject({
      type: 'slurm.enrich',
      jobId: loadEvent('jobcomp/oom', 'slurm.jobcomp').data.jobId,
    });
    await commands.delete(command!.receipt);
  });

  it('two workers racing on the same failure claim the attempt once and emit one resubmission', async () => {
    const sacct = sacctEvent('4242', { timeLimit: '00:01:00', comment: 'rebound:race', partition: 'short' });
    const body = JSON.stringify(sacct);
    const results = await Promise.all([
      worker.handler(sqsEvent(setup.eventsArn, [{ messageId: 'a', receiptHandle: 'ra', body }])),
      worker.handler(sqsEvent(setup.eventsArn, [{ messageId: 'b', receiptHandle: 'rb', body }])),
    ]);
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(await store.listAttempts('race')).toHaveLength(1);
    const sent = await commands.receive(10, 30);
    expect(sent.map((m) => m.body).filter((c) => c.type === 'slurm.resubmit')).toMatchObject([
      { id: 'lab:4242:a1', resources: { mem: '375M' } },
    ]);
    for (const m of sent) await commands.delete(m.receipt);
  });

  it('auto-schedule (cron): schedules a workflow with ready jobs and no allocation, once, even when raced', async () => {
    const census: Event = {
      id: 'torc-census:7:1',
      version: 1,
      source: 'relay:torc',
      occurredAt: new Date().toISOString(),
      cluster: 'lab',
      type: 'torc.workflow.census',
      data: {
        workflowId: 7,
        observedAt: new Date().toISOString(),
        liveAllocations: 0,
        pendingFailed: 0,
        active: 0,
        ready: [{ id: 70, rrId: 3, attemptId: 1 }],
        resourceRequirements: [
          { id: 3, name: 'small', memory: '2g', runtime: 'PT1H', numCpus: 1, numGpus: 0, numNodes: 1 },
        ],
      },
    };
    expect((await post(JSON.stringify(census))).statusCode).toBe(202);
    await new Promise((r) => setTimeout(r, 1100));
    await drainEvents();
    // EventBridge may invoke twice at once: the conditional write lets one of them schedule.
    const both = await Promise.all([cron.handler(cronEvent()), cron.handler(cronEvent())]);
    expect(both.flatMap((r) => r.scheduled)).toEqual(['torc-wf7:sched:s1']);
    expect(await cron.handler(cronEvent())).toEqual({ scheduled: [], notices: { delivered: 0, failed: 0 } });
    const sent = await commands.receive(10, 30);
    expect(sent.map((m) => m.body)).toMatchObject([{ type: 'torc.submit-allocations', workflowId: 7 }]);
  });

  it('logs JSON with the request id, event id and workload, and writes EMF metrics', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const event = sacctEvent('5151', { comment: 'rebound:logged', partition: 'short' });
      const body = JSON.stringify(event);
      expect((await post(body)).statusCode).toBe(202);
      const context = { awsRequestId: 'req-5151', functionName: 'worker' } as Context;
      await worker.handler(
        sqsEvent(setup.eventsArn, [{ messageId: 'm', receiptHandle: 'r', body }]),
        context,
      );
    } finally {
      spy.mockRestore();
    }
    const lines = out
      .flatMap((chunk) => chunk.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'INFO',
        message: 'event handled',
        eventId: 'sacct:lab:5151',
        type: 'slurm.sacct',
        function_request_id: 'req-5151',
      }),
    );
    const metrics = lines.filter((l) => l._aws?.CloudWatchMetrics);
    const names = metrics.flatMap((m) =>
      m._aws.CloudWatchMetrics.flatMap((d: { Metrics: { Name: string }[] }) => d.Metrics.map((x) => x.Name)),
    );
    expect(names).toEqual(expect.arrayContaining(['EventsAccepted', 'Recoveries']));
    expect(metrics.find((m) => 'Recoveries' in m)).toMatchObject({
      Recoveries: 1,
      cause: 'oom',
      service: 'rebound-worker',
    });
    await drainEvents();
  });
});
