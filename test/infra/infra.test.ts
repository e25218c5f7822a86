import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { TABLE_INDEXES } from '../../aws/dynamo-status-store.ts';
import { WORKER_MAX_CONCURRENCY } from '../../aws/lambda-limits.ts';
import { tableDefinition } from '../../aws/table.ts';

// infra/table.ts, infra/queues.ts and infra/alarms.ts, instantiated under Pulumi runtime mocks with SST's own components
// (from `sst install`, offline): the settings AWS would get. `.ci/run` installs SST first; without it
// (a plain `npm test` on a fresh clone) these are skipped, and say so.
const ROOT = join(import.meta.dirname, '..', '..');
const PLATFORM = join(ROOT, '.sst', 'platform');
const installed = existsSync(join(PLATFORM, 'node_modules', '@pulumi', 'pulumi'));

type Resource = { type: string; name: string; inputs: Record<string, unknown> };

async function resources(): Promise<Resource[]> {
  await build({
    entryPoints: [join(import.meta.dirname, 'entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: join(PLATFORM, 'rebound-infra-test.mjs'),
    nodePaths: [join(PLATFORM, 'node_modules')],
    external: ['@pulumi/*', 'esbuild'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'silent',
  });
  copyFileSync(join(import.meta.dirname, 'run-mocks.mjs'), join(PLATFORM, 'rebound-run-mocks.mjs'));
  const out = execFileSync(process.execPath, [join(PLATFORM, 'rebound-run-mocks.mjs')], {
    encoding: 'utf8',
    cwd: PLATFORM,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Resource[];
}

describe.skipIf(!installed)('infrastructure under Pulumi mocks (needs `sst install`, see .ci/run)', () => {
  it('declares the table the adapters and DynamoDB Local tests use, with TTL, the queues with DLQs, and the alarms', async () => {
    const all = await resources();
    const one = (type: string, name: string) => all.find((r) => r.type === type && r.name === name)!.inputs;

    const table = one('aws:dynamodb/table:Table', 'StateTable');
    expect(table).toMatchObject({ hashKey: 'PK', rangeKey: 'SK', billingMode: 'PAY_PER_REQUEST' });
    expect(table.ttl).toMatchObject({ attributeName: 'ExpiresAt', enabled: true });
    const indexes = (table.globalSecondaryIndexes as { name: string; hashKey: string; rangeKey: string }[])
      .map((i) => [i.name, i.hashKey, i.rangeKey])
      .sort();
    expect(indexes).toEqual(
      Object.entries(TABLE_INDEXES)
        .map(([n, ix]) => [n, ix.partition, ix.sort])
        .sort(),
    );
    // The table the contract and handler tests create in DynamoDB Local is the same one.
    expect(
      tableDefinition('x')
        .GlobalSecondaryIndexes?.map((i) => i.IndexName)
        .sort(),
    ).toEqual(indexes.map((i) => i[0]));

    const events = one('aws:sqs/queue:Queue', 'EventsQueue');
    expect(events.fifoQueue ?? false).toBe(false);
    expect(events.visibilityTimeoutSeconds).toBe(180);
    expect(JSON.parse(events.redrivePolicy as string)).toMatchObject({
      maxReceiveCount: 5,
      deadLetterTargetArn: expect.stringContaining('EventsDeadLetters'),
    });

    // The worker's trigger: batches of 10 with partial failures, and a ceiling on its instances.
    const trigger = all.find((r) => r.type === 'aws:lambda/eventSourceMapping:EventSourceMapping')!.inputs;
    expect(trigger).toMatchObject({
      batchSize: 10,
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: { maximumConcurrency: WORKER_MAX_CONCURRENCY },
    });

    const commands = one('aws:sqs/queue:Queue', 'CommandsQueue');
    expect(commands).toMatchObject({ fifoQueue: true, visibilityTimeoutSeconds: 60 });
    expect(JSON.parse(commands.redrivePolicy as string)).toMatchObject({
      maxReceiveCount: 5,
      deadLetterTargetArn: expect.stringContaining('CommandsDeadLetters'),
    });
    expect(one('aws:sqs/queue:Queue', 'CommandsDeadLettersQueue')).toMatchObject({
      fifoQueue: true,
      messageRetentionSeconds: 1_209_600,
    });

    // Nothing given up on goes unnoticed: an alarm per dead-letter queue and on the worker's errors, each
    // acting on the notification topic.
    const topic = all.find((r) => r.type === 'aws:sns/topic:Topic');
    expect(topic).toBeDefined();
    const alarm = (name: string) => one('aws:cloudwatch/metricAlarm:MetricAlarm', name);
    for (const [name, queue] of [
      ['EventsDeadLettersAlarm', 'EventsDeadLetters'],
      ['CommandsDeadLettersAlarm', 'CommandsDeadLetters'],
    ] as const) {
      expect(alarm(name)).toMatchObject({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        alarmActions: [expect.stringContaining('Notifications')],
      });
      expect(String((alarm(name).dimensions as { QueueName: string }).QueueName)).toContain(queue);
    }
    expect(alarm('WorkerErrorsAlarm')).toMatchObject({
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: { FunctionName: 'rebound-worker' },
      alarmActions: [expect.stringContaining('Notifications')],
    });
  }, 120_000);
});
