import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS, PERMISSIONS } from '../../infra/permissions.ts';

// Each function's IAM grants (infra/permissions.ts) against what its bundle can call: the function bundled
// as SST bundles it, the project files that made it into the bundle, and the AWS SDK commands they import.
// A command added to code that a function ships fails here until it is granted; a grant nothing calls
// fails too.

const ROOT = join(import.meta.dirname, '..', '..');

/** The IAM action each SDK command needs (lib-dynamodb's document commands and the SQS client's). */
const ACTION: Record<string, string> = {
  'lib-dynamodb:GetCommand': 'dynamodb:GetItem',
  'lib-dynamodb:PutCommand': 'dynamodb:PutItem',
  'lib-dynamodb:QueryCommand': 'dynamodb:Query',
  'lib-dynamodb:BatchGetCommand': 'dynamodb:BatchGetItem',
  'lib-dynamodb:BatchWriteCommand': 'dynamodb:BatchWriteItem',
  'lib-dynamodb:DeleteCommand': 'dynamodb:DeleteItem',
  'lib-dynamodb:UpdateCommand': 'dynamodb:UpdateItem',
  'lib-dynamodb:ScanCommand': 'dynamodb:Scan',
  // A transaction is authorised per item: the store's only one holds Puts (aws/dynamo-store.ts
  // claimAttempt). One with ConditionCheck, Update or Delete items needs those actions: say so here.
  'lib-dynamodb:TransactWriteCommand': 'dynamodb:PutItem',
  'client-sqs:SendMessageBatchCommand': 'sqs:SendMessage',
  'client-sqs:SendMessageCommand': 'sqs:SendMessage',
  'client-sqs:ReceiveMessageCommand': 'sqs:ReceiveMessage',
  'client-sqs:DeleteMessageCommand': 'sqs:DeleteMessage',
  'client-sns:PublishCommand': 'sns:Publish',
};

async function sdkCommandsIn(name: string): Promise<string[]> {
  const { metafile } = await build({
    entryPoints: [join(ROOT, 'functions', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    write: false,
    outdir: join(ROOT, '.permissions-test'),
    metafile: true,
    logLevel: 'silent',
  });
  const files = Object.values(metafile.outputs).flatMap((o) =>
    Object.entries(o.inputs)
      .filter(([path, input]) => !path.startsWith('node_modules/') && input.bytesInOutput > 0)
      .map(([path]) => path),
  );
  const commands = new Set<string>();
  for (const file of files) {
    const source = readFileSync(join(ROOT, file), 'utf8');
    for (const m of source.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/([\w-]+)'/g)) {
      if (m[0].startsWith('import type')) continue;
      for (const raw of m[1]!.split(',')) {
        const id = raw.trim();
        if (/^\w+Command$/.test(id)) commands.add(`${m[2]}:${id}`);
      }
    }
  }
  return [...commands].sort();
}

describe('IAM: each function is granted exactly what its bundle calls', () => {
  it.each(FUNCTIONS)(
    '%s',
    async (name) => {
      const commands = await sdkCommandsIn(name);
      const unknown = commands.filter((c) => !ACTION[c]);
      expect(unknown, 'SDK commands with no IAM action in this test: add them to ACTION').toEqual([]);
      const needed = [...new Set(commands.map((c) => ACTION[c]!))].sort();
      const granted = PERMISSIONS[name];
      expect(needed.filter((a) => a.startsWith('dynamodb:'))).toEqual([...granted.table].sort());
      expect(needed.filter((a) => a.startsWith('sqs:'))).toEqual(
        [...new Set([...granted.events, ...granted.commands])].sort(),
      );
      expect(needed.filter((a) => a.startsWith('sns:'))).toEqual([...granted.topic].sort());
    },
    60_000,
  );

  it('the API function may not delete, write in batches or run transactions, and sends to the events queue only', () => {
    const api = PERMISSIONS.api;
    for (const forbidden of ['DeleteItem', 'BatchWriteItem', 'ConditionCheckItem', 'UpdateItem'])
      expect(api.table).not.toContain(`dynamodb:${forbidden}`);
    expect(api.commands).toEqual([]);
    expect(PERMISSIONS.worker.events).toEqual([]);
  });
});
