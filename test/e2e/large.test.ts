import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStore } from '../../aws/dynamo-store.ts';
import { WORKER_TIMEOUT_SECONDS } from '../../aws/lambda-limits.ts';
import { dynamoClient, type Emulators, startEmulators } from '../aws/emulators.ts';
import type { HostStats } from '../aws/lambda-host.ts';
import { LAB_PROFILE } from '../support/lab-profile.ts';
import { TorcDouble } from '../support/torc-double.ts';
import { ALICE, ReboundProcess, SLURM_CONF, slurm, waitFor } from './harness.ts';

// Acceptance 3 of "never silent, never stuck": a 100,000-job Torc workflow with 10,000 OOM failures,
// recovered from its events alone — in the local shell, and in the AWS shell with 256 KB queue messages
// and the worker under a 450 MB heap. The rows are copied with more memory for exactly the failed jobs,
// exactly those are reset, and allocations are submitted on the real Slurm (then cancelled: their runner
// is /bin/true, the jobs need not run).

const JOBS = 100_000;
const ROWS = 10;
const torc = new TorcDouble();
const work = mkdtempSync(join(tmpdir(), 'rebound-large-e2e-'));
chownSync(work, ALICE.uid, ALICE.gid);

/** 10 rows of 100m / 1 s; 1 job in 10 (1,000 per row) ran out of memory, the rest completed. */
function largeWorkflow(name: string) {
  const id = torc.createWorkflow({
    name,
    resourceRequirements: Array.from({ length: ROWS }, (_, r) => ({
      name: `r${r}`,
      memory: '100m',
      runtime: 'PT1S',
    })),
    jobs: Array.from({ length: JOBS }, (_, i) => ({ name: `j${i}`, command: 'true', rr: `r${i % ROWS}` })),
  });
  const jobs = torc.jobsOf(id);
  const failed = new Set(jobs.filter((_, i) => i % 100 < 10).map((j) => j.id));
  torc.finishAll(id, (job) =>
    failed.has(job.id)
      ? { status: 'failed', returnCode: 137, peakMemoryBytes: 100 * 1024 ** 2 }
      : { status: 'completed', returnCode: 0 },
  );
  return { id, failed };
}

const config = (workflowId: number) => ({
  profile: LAB_PROFILE,
  torc: { runnerBufferSeconds: 0 },
  // Nothing but the recovery submits allocations here.
  policy: { autoSchedule: { enabled: false } },
  relay: {
    torc: {
      url: torc.url,
      runner: '/bin/true',
      outputDir: join(work, 'torc_output'),
      pollSeconds: 5,
      workflows: [workflowId],
    },
  },
});

/**
 * Exactly the failed jobs were reset (ready again) onto copies of their rows with 150m; nothing else
 * changed. `history` is shown when it is not so.
 */
function expectRecovered(id: number, failed: Set<number>, history: string[]) {
  const why = `history:\n${history.slice(0, 60).join('\n')}`;
  const rows = new Map([...torc.rrs.values()].filter((r) => r.workflow_id === id).map((r) => [r.id, r]));
  const jobs = torc.jobsOf(id);
  const reset = jobs.filter((j) => j.status !== 'completed');
  expect(reset).toHaveLength(failed.size);
  expect(
    reset.filter((j) => !failed.has(j.id) || j.status !== 'ready').map((j) => `${j.id} ${j.status}`),
  ).toEqual([]);
  const copies = [...rows.values()].filter((r) => r.name.endsWith('_a1'));
  expect(copies.map((r) => [r.name, r.memory]).sort()).toEqual(
    Array.from({ length: ROWS }, (_, r) => [`r${r}_a1`, '150m']),
  );
  const rowsOfReset = new Map<string, number>();
  for (const j of reset) {
    const name = String(rows.get(j.resource_requirements_id)?.name);
    rowsOfReset.set(name, (rowsOfReset.get(name) ?? 0) + 1);
  }
  expect(Object.fromEntries(rowsOfReset), why).toEqual(
    Object.fromEntries(Array.from({ length: ROWS }, (_, r) => [`r${r}_a1`, failed.size / ROWS])),
  );
  expect(
    jobs
      .filter((j) => !failed.has(j.id))
      .every((j) => /^r\d$/.test(String(rows.get(j.resource_requirements_id)?.name))),
  ).toBe(true);
}

/** The allocations the history says were submitted: all in Slurm, then cancelled. */
function allocationsOf(history: string[]): string[] {
  const planned = Number(
    history.find((l) => l.startsWith('Submitting '))?.match(/^Submitting (\d+) allocation/)?.[1],
  );
  const submitted = history.find((l) => /allocation\(s\) submitted: /.test(l))!;
  const ids = submitted.split(': ')[1]!.split(', ');
  expect(ids).toHaveLength(planned);
  return ids;
}

beforeAll(async () => {
  await torc.start();
});
afterAll(async () => {
  await torc.stop();
  expect(torc.violations).toEqual([]);
});

// One after the other: each alone keeps two cores busy for minutes, and the suite's other files run beside.
describe('a 100,000-job workflow with 10,000 failures', () => {
  it('local: recovered from its events alone', async () => {
    const { id, failed } = largeWorkflow('large-local');
    const started = Date.now();
    const rebound = new ReboundProcess(18_801, config(id), {
      env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_TICK_SECONDS: '5' },
    });
    try {
      await rebound.start();
      // The workload exists (200) once its first event is handled.
      const history = async () =>
        (await rebound.get<{ history?: { line: string }[] }>(`/v1/workloads/torc-wf${id}`)).body.history?.map(
          (h) => h.line,
        ) ?? [];
      const lines = await waitFor(
        'the allocations',
        async () => {
          const h = await history();
          return h.some((l) => /allocation\(s\) submitted: /.test(l)) && h;
        },
        600_000,
      );
      console.log(`large (local): recovered in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      expectRecovered(id, failed, lines);
      const ids = allocationsOf(lines);
      expect(lines).toContain(
        `Resetting ${failed.size} job(s): ${[...failed].slice(0, 50).join(', ')} and ${failed.size - 50} more`,
      );
      slurm(['scancel', ...ids]);
    } finally {
      await rebound.dispose();
    }
  }, 900_000);

  it('AWS: the same with 256 KB queue messages and the worker under a 450 MB heap, each batch within the worker timeout', async () => {
    const { id, failed } = largeWorkflow('large-aws');
    const started = Date.now();
    const secret = 'large-aws-e2e-secret-not-for-production';
    let emulators: Emulators | undefined;
    let host: ChildProcess | undefined;
    let relay: ChildProcess | undefined;
    let output = '';
    try {
      emulators = await startEmulators();
      const port = 18_802;
      host = spawn(
        process.execPath,
        [
          '--max-old-space-size=450',
          '--import',
          'tsx',
          join(import.meta.dirname, '..', 'aws', 'lambda-host-main.ts'),
          JSON.stringify({
            port,
            config: { profile: LAB_PROFILE, torc: { runnerBufferSeconds: 0 }, policy: config(id).policy },
            secret,
            dynamoEndpoint: emulators.dynamoEndpoint,
            sqsEndpoint: emulators.sqsEndpoint,
            concurrency: 4,
            maxMessageBytes: 256 * 1024,
            cronSeconds: 5,
          }),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      host.stdout!.on('data', (d) => (output += d));
      host.stderr!.on('data', (d) => (output += d));
      const ready = await waitFor(
        'the Lambda host',
        () => /^READY (.*)$/m.exec(output)?.[1] ?? (host!.exitCode !== null && 'exited'),
        60_000,
      );
      if (ready === 'exited') throw new Error(`the Lambda host exited: ${output}`);
      const env = JSON.parse(ready) as Record<string, string>;

      const dir = join(work, 'aws');
      mkdirSync(dir);
      const secretFile = join(dir, 'secret');
      writeFileSync(secretFile, secret, { mode: 0o600 });
      writeFileSync(join(dir, 'relay.config.json'), JSON.stringify({ relay: config(id).relay }));
      for (const f of ['', 'secret', 'relay.config.json']) chownSync(join(dir, f), ALICE.uid, ALICE.gid);
      relay = spawn(
        process.execPath,
        [join(import.meta.dirname, '..', '..', 'bin', 'rebound.mjs'), 'relay'],
        {
          uid: ALICE.uid,
          gid: ALICE.gid,
          env: {
            ...process.env,
            ...env,
            HOME: dir,
            USER: ALICE.name,
            LOGNAME: ALICE.name,
            SLURM_CONF,
            REBOUND_DATA: join(dir, 'relay-data'),
            REBOUND_URL: `http://127.0.0.1:${port}`,
            REBOUND_SECRET_FILE: secretFile,
            REBOUND_SACCT_INTERVAL: '0',
            REBOUND_CONFIG: join(dir, 'relay.config.json'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      relay.stdout!.on('data', (d) => (output += d));
      relay.stderr!.on('data', (d) => (output += d));

      const store = new DynamoStore(dynamoClient(emulators.dynamoEndpoint), env.REBOUND_TABLE!);
      const lines = await waitFor(
        'the allocations',
        async () => {
          if (host!.exitCode !== null || relay!.exitCode !== null)
            throw new Error(`a process exited: ${output}`);
          const h = (await store.listHistory(`torc-wf${id}`)).map((e) => e.line);
          return h.some((l) => /allocation\(s\) submitted: /.test(l)) && h;
        },
        840_000,
      );
      const stats = (await (await fetch(`http://127.0.0.1:${port}/_host/stats`)).json()) as HostStats;
      console.log(
        `large (AWS): recovered in ${((Date.now() - started) / 1000).toFixed(0)} s; ${stats.batches} worker batches, slowest ${stats.slowestMs.toFixed(0)} ms, heap ≤ ${(stats.heapBytes / 2 ** 20).toFixed(0)} MB`,
      );
      expect(stats.slowestMs).toBeLessThan(WORKER_TIMEOUT_SECONDS * 1000);
      expectRecovered(id, failed, lines);
      slurm(['scancel', ...allocationsOf(lines)]);
      expect(output).not.toMatch(/MessageTooLong|BatchRequestTooLong|answered 413|body larger than/);
    } finally {
      relay?.kill('SIGTERM');
      host?.kill('SIGTERM');
      await emulators?.stop();
    }
  }, 900_000);
});
