// bench:bundle — each Lambda function bundled as SST bundles it (esbuild, ESM, minified, Node 22), with
// its size, and its cold init: the time to load the bundle and build its adapters in a fresh Node process
// (median of 5). Targets: < 1 MB and < 150 ms each.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lambdaBundle } from './lambda-build.ts';
import { target, verdict } from './targets.ts';

const FUNCTIONS = ['api', 'worker', 'auto-schedule', 'mcp'];
const out = mkdtempSync(join(tmpdir(), 'rebound-bundle-'));
// Values only: init builds clients and parses config, it never calls AWS.
const env = {
  ...process.env,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  REBOUND_TABLE: 'bench',
  REBOUND_EVENTS_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/events',
  REBOUND_COMMANDS_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/commands.fifo',
  SST_RESOURCE_App: JSON.stringify({ name: 'rebound', stage: 'bench' }),
  SST_RESOURCE_WebhookSecret: JSON.stringify({ value: 'bench-secret-of-at-least-32-bytes-0123' }),
  REBOUND_CONFIG: '{}',
};

console.log('function        bundle     cold init (median of 5)   targets < 1 MB, < 150 ms');
for (const name of FUNCTIONS) {
  const file = join(out, `${name}.mjs`);
  await lambdaBundle(join(import.meta.dirname, '..', 'functions', `${name}.ts`), file);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    let ms: string;
    try {
      ms = execFileSync(
        process.execPath,
        [
          '--no-warnings',
          '--input-type=module',
          '-e',
          `const t = performance.now(); try { await import(${JSON.stringify(file)}) } catch (e) { console.error('init: ' + e.message); process.exit(1) } console.log(performance.now() - t);`,
        ],
        // A bundle that throws at init says why in one line (Node would print its whole minified line).
        { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '');
      const reason =
        stderr
          .split('\n')
          .find((l) => l.startsWith('init: '))
          ?.slice(6) ?? 'no message';
      console.error(`${name}: the bundle failed to initialise: ${reason.slice(0, 300)}`);
      process.exit(1);
    }
    times.push(Number(ms.trim()));
  }
  times.sort((a, b) => a - b);
  const kb = statSync(file).size / 1024;
  console.log(
    `${name.padEnd(15)} ${`${kb.toFixed(0)} KB`.padEnd(10)} ${times[2]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)})`,
  );
  target(`${name} bundle`, kb, '<', 1024, 'KB');
  target(`${name} cold init (median)`, times[2]!, '<', 150, 'ms');
}
verdict('bench:bundle');
