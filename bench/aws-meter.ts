import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

// The AWS bill's meter for bench/aws-cost.ts: a middleware on every DynamoDB and SQS client counts each
// request of the function it runs in (an AsyncLocalStorage names it) and the capacity DynamoDB reports
// consumed; Lambda invocations are counted by the bench as it makes them. Prices are constants below.

export type Payer = 'api' | 'worker' | 'relay' | 'trigger';

export interface Meter {
  /** DynamoDB calls and SQS requests by payer and operation, e.g. `worker PutItem`. */
  calls: Map<string, number>;
  readUnits: number;
  writeUnits: number;
  /** SQS requests, each 64 KB of payload a request of its own (as SQS bills), by queue kind. */
  sqsStandard: number;
  sqsFifo: number;
  invocations: Map<Payer, number>;
  /** Milliseconds spent in each function (against local emulators: an upper bound of sorts, not AWS's). */
  busyMs: Map<Payer, number>;
}

export const newMeter = (): Meter => ({
  calls: new Map(),
  readUnits: 0,
  writeUnits: 0,
  sqsStandard: 0,
  sqsFifo: 0,
  invocations: new Map(),
  busyMs: new Map(),
});

let meter = newMeter();
const payer = new AsyncLocalStorage<Payer>();

/** Starts a fresh meter and returns it. */
export function resetMeter(): Meter {
  meter = newMeter();
  return meter;
}

const add = <K>(map: Map<K, number>, key: K, n: number) => map.set(key, (map.get(key) ?? 0) + n);

/** Runs one invocation of a function (or one relay step), metered as `who`'s. */
export async function as<T>(who: Payer, run: () => Promise<T>): Promise<T> {
  add(meter.invocations, who, 1);
  const started = performance.now();
  try {
    return await payer.run(who, run);
  } finally {
    add(meter.busyMs, who, performance.now() - started);
  }
}

/** What SQS bills for a request: one per 64 KB of its payload (at least one). */
export const sqsChunks = (bytes: number) => Math.max(1, Math.ceil(bytes / 65_536));

/** SQS requests made outside the SDK (the Lambda trigger's receives and deletes), modeled. */
export function chargeSqs(who: Payer, operation: string, fifo: boolean, requests: number): void {
  add(meter.calls, `${who} ${operation}`, requests);
  if (fifo) meter.sqsFifo += requests;
  else meter.sqsStandard += requests;
}

type Capacity = { ReadCapacityUnits?: number; WriteCapacityUnits?: number; CapacityUnits?: number };
type Stack = { add: (mw: unknown, options: { step: string; name: string }) => void };
const metered = new WeakSet<object>();

function meterStack(stack: Stack, service: 'dynamodb' | 'sqs'): void {
  if (metered.has(stack)) return;
  metered.add(stack);
  stack.add(
    (
      next: (args: unknown) => Promise<{ output: Record<string, unknown> }>,
      context: { commandName?: string },
    ) =>
      async (args: { input: Record<string, unknown> }) => {
        const who = payer.getStore();
        if (who && service === 'dynamodb') args.input.ReturnConsumedCapacity ??= 'TOTAL';
        const result = await next(args);
        if (!who) return result;
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        add(meter.calls, `${who} ${operation}`, 1);
        if (service === 'sqs') {
          const fifo = String(args.input.QueueUrl ?? '').endsWith('.fifo');
          const entries = (args.input.Entries as { MessageBody?: string }[] | undefined) ?? [];
          const body = [args.input.MessageBody ?? '', ...entries.map((e) => e.MessageBody ?? '')].join('');
          const requests = sqsChunks(Buffer.byteLength(body));
          if (fifo) meter.sqsFifo += requests;
          else meter.sqsStandard += requests;
          return result;
        }
        const consumed = result.output.ConsumedCapacity as Capacity | Capacity[] | undefined;
        for (const c of [consumed ?? []].flat()) {
          // DynamoDB reports CapacityUnits alone for some calls: writes for write operations.
          const writes = /Put|Update|Delete|Write/.test(operation);
          meter.readUnits += c.ReadCapacityUnits ?? (writes ? 0 : (c.CapacityUnits ?? 0));
          meter.writeUnits += c.WriteCapacityUnits ?? (writes ? (c.CapacityUnits ?? 0) : 0);
        }
        return result;
      },
    { step: 'initialize', name: 'reboundBillMeter' },
  );
}

/**
 * Puts the meter on every DynamoDB and SQS client, including those the functions build for themselves:
 * on its first request, each client's middleware stack (shared with its document client) gets it.
 */
export function installMeter(): void {
  for (const [Client, service] of [
    [DynamoDBClient, 'dynamodb'],
    [DynamoDBDocumentClient, 'dynamodb'],
    [SQSClient, 'sqs'],
  ] as const) {
    const proto = Client.prototype as unknown as {
      send: (...args: unknown[]) => Promise<unknown>;
      middlewareStack: Stack;
    };
    const send = proto.send;
    proto.send = function (this: { middlewareStack: Stack }, ...args: unknown[]) {
      meterStack(this.middlewareStack, service);
      return send.apply(this, args);
    };
  }
}

/**
 * On-demand list prices in us-east-1, from aws.amazon.com/dynamodb/pricing/on-demand/,
 * aws.amazon.com/sqs/pricing/ and aws.amazon.com/lambda/pricing/ as published in 2026 (read 2026-11-30;
 * DynamoDB's are those of its November 2024 cut). Free tiers are left out: a site pays from the first.
 */
export const PRICES = {
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  sqsStandardRequest: 0.4 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  /** Arm (infra/service.ts deploys arm64). */
  lambdaGbSecond: 0.0000133334,
} as const;

/** infra/service.ts gives every function 512 MB. */
export const FUNCTION_GB = 0.5;

export function dollars(m: Meter): { dynamo: number; sqs: number; lambda: number; total: number } {
  const dynamo = m.writeUnits * PRICES.dynamoWriteUnit + m.readUnits * PRICES.dynamoReadUnit;
  const sqs = m.sqsStandard * PRICES.sqsStandardRequest + m.sqsFifo * PRICES.sqsFifoRequest;
  let lambda = 0;
  for (const [who, n] of m.invocations) {
    if (who === 'relay' || who === 'trigger') continue;
    lambda +=
      n * PRICES.lambdaRequest + ((m.busyMs.get(who) ?? 0) / 1000) * FUNCTION_GB * PRICES.lambdaGbSecond;
  }
  return { dynamo, sqs, lambda, total: dynamo + sqs + lambda };
}
