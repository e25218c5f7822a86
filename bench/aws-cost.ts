// What Rebound costs in AWS (issue 14, target 7): the deployed functions' handlers (api, worker) as Lambda
// invokes them, their real adapters against DynamoDB Local and fauxqs, every DynamoDB and SQS request they
// make counted by a middleware on the SDK clients (bench/aws-meter.ts) with the capacity DynamoDB reports,
// and the SQS trigger's own receives and deletes (AWS makes them outside the SDK) modeled: one receive and
// one delete per batch of up to 10. A stand-in relay answers the commands as the real one does, reading
// and deleting them on the commands queue itself. Prints, per 1,000 job ends (all completed and untracked
// / 5 % failed and tagged) and per recovered job, DynamoDB capacity units, SQS requests and Lambda
// invocations, and the dollars per million job ends at the list prices in bench/aws-meter.ts. Targets: an
// untracked completed job end ≤ 1 DynamoDB write and ≤ 2 SQS requests; a recovered job ≤ 10 writes.

import { SqsQueue } from '../aws/sqs-queue.ts';
import type { Command } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { signedHeaders } from '../service/signature.ts';
import { startEmulators } from '../test/aws/emulators.ts';
import { lambdaEnvironment } from '../test/aws/lambda-env.ts';
import { functionUrlEvent, sqsEvent } from '../test/aws/lambda-shapes.ts';
import { resultEvent, sacctEvent } from '../test/support/events.ts';
import { as, chargeSqs, dollars, installMeter, type Meter, resetMeter } from './aws-meter.ts';
import { target, verdict } from './targets.ts';

const ENDS = 1000;
const FAILED = ENDS / 20;
const SECRET = 'aws-cost-bench-secret-of-32-bytes-or-more';
const CLUSTER = 'lab';

installMeter();
// The functions log JSON lines and metrics to stdout, as in Lambda: not this bench's output.
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
  String(chunk).startsWith('{') ? true : write(chunk, ...rest)) as typeof process.stdout.write;
const emulators = await startEmulators();
const setup = await lambdaEnvironment(emulators, { policy: { maxRetries: 3 }, profile: 'kestrel' }, SECRET);
const [api, worker] = await Promise.all([import('../functions/api.ts'), import('../functions/worker.ts')]);
// The bench's own view of the queues (unmetered: it stands for Lambda's trigger).
const eventsQueue = new SqsQueue<Event>(setup.sqs, setup.events);
const commandsQueue = new SqsQueue<Command>(setup.sqs, { ...setup.commands, fifo: true });

/** One POST to the webhook, as the hooks and the relay make it. */
async function post(events: Event[]): Promise<void> {
  const body = JSON.stringify(events.length === 1 ? events[0] : events);
  const res = await as('api', () =>
    api.handler(
      functionUrlEvent({ method: 'POST', path: '/v1/events', headers: signedHeaders(SECRET, body), body }),
    ),
  );
  if (res.statusCode !== 202) throw new Error(`webhook answered ${res.statusCode}: ${res.body}`);
}

/** Lambda's trigger: batches of up to 10 to the worker, one receive and one delete each. */
async function drainEvents(): Promise<number> {
  let handed = 0;
  for (;;) {
    const batch = await eventsQueue.receive(10, 30);
    if (!batch.length) return handed;
    chargeSqs('trigger', 'ReceiveMessage', false, 1);
    const res = await as('worker', () =>
      worker.handler(
        sqsEvent(
          setup.eventsArn,
          batch.map((m, i) => ({
            messageId: `m${i}`,
            receiptHandle: m.receipt,
            body: JSON.stringify(m.body),
          })),
        ),
      ),
    );
    if (res.batchItemFailures.length)
      throw new Error(`worker failed ${res.batchItemFailures.length} event(s)`);
    for (const m of batch) await eventsQueue.delete(m.receipt);
    chargeSqs('trigger', 'DeleteMessageBatch', false, 1);
    handed += batch.length;
  }
}

const endedAt = Math.floor(Date.now() / 1000);
const jobEnd = (jobId: string, state: string, jobName = 'work'): Event => ({
  id: eventIds.jobcomp(CLUSTER, jobId, endedAt),
  version: 1,
  source: 'jobcomp',
  occurredAt: new Date().toISOString(),
  cluster: CLUSTER,
  type: 'slurm.jobcomp',
  data: {
    jobId,
    jobName,
    partition: 'short',
    user: 'alice',
    state,
    exitCode: state === 'COMPLETED' ? '0:0' : '0:125',
    timeLimit: '00:10:00',
    endedAt,
  },
});

/** Retries the relay submitted, by the job they retry, so that their ends can come later. */
const retries: string[] = [];
/** The workload a job is tagged with (sacct's comment), where it is not `cost`. */
const tagOf = new Map<string, string>();
let nextJobId = 900_000;

/** The relay: reads the commands queue itself, answers each as the real one would, in one POST a round. */
async function relayRound(): Promise<number> {
  return as('relay', async () => {
    const messages = await commandsQueue.receive(10, 60);
    const answers: Event[] = [];
    for (const m of messages) {
      const c = m.body;
      if (c.type === 'slurm.enrich') {
        const completed = c.state?.startsWith('COMPLETED');
        answers.push({
          ...sacctEvent(c.jobId, {
            state: completed ? 'COMPLETED' : 'OUT_OF_MEMORY',
            exitCode: completed ? '0:0' : '0:125',
            comment: `rebound:${tagOf.get(c.jobId) ?? 'cost'}`,
            partition: 'short',
            environment: 'stored',
            // The run the enrichment named, as the relay echoes it (relay/slurm-executor.ts).
            ...(c.endedAt ? { endedAt: c.endedAt } : {}),
          }),
          id: eventIds.sacct(CLUSTER, c.jobId, c.endedAt),
        });
      } else if (c.type === 'slurm.resubmit') {
        const retry = String(nextJobId++);
        retries.push(retry);
        const tag = tagOf.get(c.jobId);
        if (tag) tagOf.set(retry, tag);
        answers.push(resultEvent(c, { slurmJobIds: [retry] }));
      } else throw new Error(`the stand-in relay has no answer to ${c.type}`);
    }
    if (answers.length) await post(answers);
    for (const m of messages) await commandsQueue.delete(m.receipt);
    return messages.length;
  });
}

/** Until nothing is left on either queue. */
async function settle(): Promise<void> {
  for (let idle = 0; idle < 2; ) idle = (await drainEvents()) + (await relayRound()) === 0 ? idle + 1 : 0;
}

const total = (m: Meter, filter: (key: string) => boolean) =>
  [...m.calls].filter(([k]) => filter(k)).reduce((s, [, n]) => s + n, 0);
const dynamoWrites = (m: Meter) =>
  total(m, (k) => /(PutItem|UpdateItem|DeleteItem|TransactWriteItems|BatchWriteItem)$/.test(k));
const sqsRequests = (m: Meter) => m.sqsStandard + m.sqsFifo;

function report(title: string, m: Meter, per: number, unit: string): void {
  const cost = dollars(m);
  console.log(`\n${title}`);
  for (const [k, n] of [...m.calls].sort()) console.log(`  ${k.padEnd(34)} ${n}`);
  const line = (what: string, value: number) =>
    console.log(`  ${what.padEnd(34)} ${(value / per).toFixed(3)} per ${unit}`);
  line('DynamoDB write requests', dynamoWrites(m));
  line('DynamoDB write capacity units', m.writeUnits);
  line('DynamoDB read capacity units', m.readUnits);
  line('SQS requests (64 KB chunks)', sqsRequests(m));
  line(
    'Lambda invocations (api + worker)',
    (m.invocations.get('api') ?? 0) + (m.invocations.get('worker') ?? 0),
  );
  console.log(
    `  $ per million ${unit}s: ${((cost.total / per) * 1e6).toFixed(2)} (DynamoDB ${((cost.dynamo / per) * 1e6).toFixed(2)}, SQS ${((cost.sqs / per) * 1e6).toFixed(2)}, Lambda ${((cost.lambda / per) * 1e6).toFixed(2)}; Lambda duration as measured here, against local emulators)`,
  );
}

// A. 1,000 ends of jobs nobody tracks, all completed: one POST each (the jobcomp hook posts each end).
let meter = resetMeter();
for (let i = 0; i < ENDS; i++) await post([jobEnd(String(100_000 + i), 'COMPLETED')]);
await settle();
report(`A. ${ENDS} untracked job ends, all completed`, meter, ENDS, 'job end');
target('A. DynamoDB writes per untracked completed end', dynamoWrites(meter) / ENDS, '<', 1.001, 'writes');
target('A. SQS requests per untracked completed end', sqsRequests(meter) / ENDS, '<', 2.001, 'requests');
const a = meter;

// B. 1,000 ends, 5 % failed: the queue watch's listing of the tagged jobs, 950 untracked completed ends, 50
// tagged jobs out of memory — recovered, and their retries' completed ends.
meter = resetMeter();
const tagged = Array.from({ length: FAILED }, (_, i) => String(200_000 + i));
await post([
  {
    id: eventIds.tracked(CLUSTER, String(Date.now())),
    version: 1,
    source: 'relay:queue',
    occurredAt: new Date().toISOString(),
    cluster: CLUSTER,
    type: 'slurm.tracked',
    data: { jobs: tagged.map((jobId) => ({ jobId, jobName: 'cost' })) },
  },
]);
for (let i = 0; i < ENDS - FAILED; i++) await post([jobEnd(String(300_000 + i), 'COMPLETED')]);
for (const id of tagged) await post([jobEnd(id, 'OUT_OF_MEMORY', 'cost')]);
await settle();
if (retries.length !== FAILED) throw new Error(`${retries.length} of ${FAILED} failed jobs were resubmitted`);
for (const id of retries) await post([jobEnd(id, 'COMPLETED', 'cost')]);
await settle();
report(
  `B. ${ENDS} job ends, ${FAILED} of them tagged and failed, recovered (their retries' ends included)`,
  meter,
  ENDS,
  'job end',
);
// A recovered job's own cost: B less its untracked ends at A's rate.
const rest = (ENDS - FAILED) / ENDS;
const own = (b: number, a: number) => (b - rest * a) / FAILED;
const recovered = {
  writes: own(dynamoWrites(meter), dynamoWrites(a)),
  writeUnits: own(meter.writeUnits, a.writeUnits),
  readUnits: own(meter.readUnits, a.readUnits),
  sqs: own(sqsRequests(meter), sqsRequests(a)),
  dollars: own(dollars(meter).total, dollars(a).total),
};
console.log(
  `\nper recovered job: ${recovered.writes.toFixed(1)} DynamoDB writes (${recovered.writeUnits.toFixed(1)} WCU), ${recovered.readUnits.toFixed(1)} RCU, ${recovered.sqs.toFixed(1)} SQS requests, $${(recovered.dollars * 1e6).toFixed(2)} per million recovered jobs`,
);
target('B. DynamoDB writes per recovered job', recovered.writes, '<', 10.001, 'writes');

// C. One recovery alone, in a workload of its own: B's recoveries share their workload's writes (a round's
// updates of one workload are one write, its history lines one item); this one shares nothing. The issue's
// target is B's; this one is held where it is, so that nothing adds to it unnoticed.
meter = resetMeter();
const lone = '400000';
tagOf.set(lone, 'lone');
await post([
  {
    id: eventIds.tracked(CLUSTER, `lone-${Date.now()}`),
    version: 1,
    source: 'relay:queue',
    occurredAt: new Date().toISOString(),
    cluster: CLUSTER,
    type: 'slurm.tracked',
    data: { jobs: [{ jobId: lone, jobName: 'lone' }] },
  },
]);
await post([jobEnd(lone, 'OUT_OF_MEMORY', 'lone')]);
await settle();
await post([jobEnd(retries.at(-1)!, 'COMPLETED', 'lone')]);
await settle();
console.log(
  `\nC. one recovery alone (its own workload): ${dynamoWrites(meter)} DynamoDB writes (${meter.writeUnits} WCU), ${meter.readUnits} RCU`,
);
target(
  "C. DynamoDB writes for one recovery alone (today's ceiling)",
  dynamoWrites(meter),
  '<',
  12.001,
  'writes',
);

await emulators.stop();
verdict('bench:aws-cost');
