import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { mountMcp } from '../../functions/mcp-server.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { mintToken } from '../../service/tokens.ts';
import { type TestDeps, testDeps } from '../support/deps.ts';
import { sacctEvent } from '../support/events.ts';
import { MemoryQueue } from '../support/memory-queue.ts';

// The MCP tools through the SDK's own client over Streamable HTTP (the app in process), with a worker that
// handles what the tools queue: the tool list with its inputs, reads, a write by hand, and refusals.

const TOOLS = [
  'get_workflow_status',
  'list_failed_jobs',
  'get_job_logs',
  'check_resource_utilization',
  'update_job_resources',
  'resubmit_workflow',
  'get_recovery_plan',
  'get_history',
];

let deps: TestDeps & { events: MemoryQueue<Event> };
let stop = false;
let worker: Promise<void>;

beforeEach(async () => {
  // Real time: the tools poll the store for the worker's lines.
  deps = {
    ...testDeps({ policy: { maxRetries: 0 } }, new Date().toISOString()),
    events: new MemoryQueue<Event>(),
  };
  stop = false;
  worker = (async () => {
    while (!stop) {
      for (const m of await deps.events.receive(10, 30)) {
        await handleEvent(deps, m.body);
        await deps.events.delete(m.receipt);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Job 77 ran out of memory; max retries 0 stops it at once.
  await handleEvent(deps, sacctEvent('77', { comment: 'rebound:train' }));
});
afterEach(async () => {
  stop = true;
  await worker;
});

function app() {
  const a = createApp({
    events: deps.events,
    store: deps.store,
    config: deps.config,
    secret: 'x'.repeat(32),
  });
  mountMcp(a, deps);
  return a;
}

async function client(user = 'alice', admin = true) {
  const token = await mintToken(deps.store, { user, uid: 1501, admin }, new Date());
  const served = app();
  const transport = new StreamableHTTPClientTransport(new URL('http://rebound.test/v1/mcp'), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: async (url, init) => served.request(String(url), init),
  });
  const c = new Client({ name: 'test', version: '1' });
  await c.connect(transport);
  return c;
}

const textOf = (r: Awaited<ReturnType<Client['callTool']>>) =>
  (r.content as { type: string; text: string }[]).map((c) => c.text).join('\n');

describe('the MCP server', () => {
  it('lists its tools, each with the input properties it documents', async () => {
    const c = await client();
    const { tools } = await c.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
    const props = (name: string) =>
      Object.keys(tools.find((t) => t.name === name)!.inputSchema.properties ?? {});
    expect(props('resubmit_workflow')).toEqual(
      expect.arrayContaining([
        'workload',
        'memoryMultiplier',
        'runtimeMultiplier',
        'retryUnknown',
        'recoveryHook',
        'job',
        'dryRun',
      ]),
    );
    expect(props('update_job_resources')).toEqual(['workload', 'job', 'memory', 'runtime']);
    expect(props('get_job_logs')).toEqual(['workload', 'job', 'stderr', 'tail']);
    for (const t of tools) expect(t.description?.length).toBeGreaterThan(20);
    await c.close();
  });

  it('reads a workload that needs attention, sets a job’s next resources and recovers it by hand, via MCP', async () => {
    const c = await client();
    const status = JSON.parse(
      textOf(await c.callTool({ name: 'get_workflow_status', arguments: { workload: 'train' } })),
    );
    expect(status).toMatchObject({ key: 'train', status: 'exhausted' });
    const failed = JSON.parse(
      textOf(await c.callTool({ name: 'list_failed_jobs', arguments: { workload: 'train' } })),
    );
    expect(failed).toMatchObject([{ jobId: '77', cause: 'oom', evidence: expect.any(Array) }]);
    const report = JSON.parse(
      textOf(await c.callTool({ name: 'check_resource_utilization', arguments: { workload: 'train' } })),
    );
    expect(report.totals).toMatchObject({ jobs: 1, failed: 1 });
    const plan = JSON.parse(
      textOf(await c.callTool({ name: 'get_recovery_plan', arguments: { workload: 'train' } })),
    );
    expect(plan[0]).toMatchObject({ outcome: 'stop', stopReason: 'max-retries' });
    expect(
      textOf(await c.callTool({ name: 'get_history', arguments: { workload: 'train', last: 2 } })),
    ).toMatch(/By hand: `rebound recover train`/);

    const set = await c.callTool({
      name: 'update_job_resources',
      arguments: { workload: 'train', job: '77', memory: '2G' },
    });
    expect(set.isError).toBeFalsy();
    expect(textOf(set)).toMatch(/job 77 \(hog\)'s next retry set to memory 2G, by alice via MCP/);
    const done = await c.callTool({ name: 'resubmit_workflow', arguments: { workload: 'train' } });
    expect(JSON.parse(textOf(done))).toMatchObject({
      outcome: 'started',
      lines: expect.arrayContaining([expect.stringMatching(/by alice via MCP/)]),
    });
    expect(deps.commands.sent().at(-1)).toMatchObject({
      type: 'slurm.resubmit',
      jobId: '77',
      resources: { mem: '2G' },
    });
    await c.close();
  });

  it('refuses bad input and other users’ workloads, changing nothing', async () => {
    const c = await client('mallory', false);
    const before = deps.commands.sent().length;
    const refusals = [
      { name: 'get_workflow_status', arguments: { workload: 'train' }, says: /no workload "train"/ },
      { name: 'resubmit_workflow', arguments: { workload: 'train' }, says: /no workload "train"/ },
      { name: 'get_job_logs', arguments: { workload: 'train', job: '77' }, says: /no workload "train"/ },
    ];
    for (const r of refusals) {
      const answer = await c.callTool(r);
      expect(answer.isError).toBe(true);
      expect(textOf(answer)).toMatch(r.says);
    }
    const admin = await client();
    for (const [name, args, says] of [
      ['resubmit_workflow', { workload: 'train', memoryMultiplier: -2 }, /memoryMultiplier/],
      ['get_job_logs', { workload: 'train', job: '77', tail: 1_000_000 }, /tail/],
      ['update_job_resources', { workload: 'train', job: '77' }, /give memory, runtime or both/],
      ['update_job_resources', { workload: 'train', job: '4242', memory: '2G' }, /no failed job 4242/],
      ['get_history', { workload: '../etc' }, /workload/],
    ] as const) {
      const answer = await admin.callTool({ name, arguments: args });
      expect(answer.isError, name).toBe(true);
      expect(textOf(answer)).toMatch(says);
    }
    expect(deps.commands.sent()).toHaveLength(before);
    await c.close();
    await admin.close();
  });

  it('rebound mcp bridges a local assistant’s stdio to the service, with the person’s token', async () => {
    const token = await mintToken(deps.store, { user: 'alice', uid: 1501, admin: false }, new Date());
    const server = serve({ fetch: app().fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(import.meta.dirname, '..', '..', 'bin', 'rebound.mjs'), 'mcp'],
      env: { PATH: process.env.PATH ?? '', REBOUND_URL: `http://127.0.0.1:${port}`, REBOUND_TOKEN: token },
      stderr: 'pipe',
    });
    const c = new Client({ name: 'stdio-test', version: '1' });
    try {
      await c.connect(transport);
      expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
      // alice's own token: the workload "train" is not hers (no owner in its key, she is no administrator).
      const answer = await c.callTool({ name: 'get_history', arguments: { workload: 'train' } });
      expect(answer.isError).toBe(true);
    } finally {
      await c.close();
      await new Promise((r) => server.close(r));
    }
  }, 30_000);
});
