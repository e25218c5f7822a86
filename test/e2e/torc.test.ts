import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TorcDouble, type WorkflowSpec } from '../support/torc-double.ts';
import { ReboundProcess, slurm, waitFor } from './harness.ts';

// Torc workflows end to end on the real Slurm: a Torc server (test double, validated against Torc's
// OpenAPI), Rebound (`rebound start` + `rebound watch`), and Torc's runner (a stand-in, also a test
// double) inside real Slurm allocations that Rebound submits. Nothing is typed after `rebound watch`.

const RUNNER = join(import.meta.dirname, '..', 'support', 'torc-runner-stand-in.mjs');
const HOG = (mb: number) => `python3 -c "x = b'a' * (${mb} * 1024 * 1024); import time; time.sleep(2)"`;
const work = mkdtempSync(join(tmpdir(), 'rebound-torc-e2e-'));
const hook = (name: string, body: string) => {
  const path = join(work, name);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
};

const torc = new TorcDouble();
let rebound: ReboundProcess;

beforeAll(async () => {
  await torc.start();
  rebound = new ReboundProcess(
    18_789,
    {
      profile: {
        name: 'rebound-lab',
        displayName: 'Rebound test cluster',
        partitions: [
          { name: 'short', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 60 },
          { name: 'long', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 'UNLIMITED' },
        ],
      },
      // The stand-in runner stops 30 s before its allocation ends and claims in whole minutes, so 90 s of
      // each allocation are not for jobs (Torc's runner: 180 s).
      torc: { runnerBufferSeconds: 90 },
      policy: {
        autoSchedule: { threshold: 2, cooldownSeconds: 5, strandedTimeoutSeconds: 0 },
        overrides: {},
      },
      relay: {
        torc: { url: torc.url, runner: RUNNER, outputDir: join(work, 'torc_output'), pollSeconds: 2 },
        hooks: {
          'fail-hook': [hook('fail-hook.sh', 'echo "hook saw workflow $1 ($TORC_WORKFLOW_ID)"; echo boom >&2; exit 1')],
        },
      },
    },
    { env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_TICK_SECONDS: '2' } },
  );
  await rebound.start();
}, 60_000);

afterAll(async () => {
  await rebound?.stop();
  await torc.stop();
  slurm(['scancel', '--name=worker', '-u', 'root']);
  expect(torc.violations).toEqual([]);
});

type View = { status: string; history: { line: string }[] };
const view = async (workflowId: number) => (await rebound.get<View>(`/v1/workloads/torc-wf${workflowId}`)).body;
const lines = async (workflowId: number) => (await view(workflowId)).history.map((h) => h.line);
const allComplete = (workflowId: number) => () =>
  torc.jobsOf(workflowId).every((j) => j.status === 'completed');

describe.sequential('Torc workflows', () => {
  it('1. a 20-job workflow with 3 OOM jobs and 1 timeout ends all-complete after `rebound watch` alone', async () => {
    const spec: WorkflowSpec = {
      name: 'twenty',
      resourceRequirements: [
        { name: 'small', memory: '200m', runtime: 'PT1M' },
        { name: 'quick', memory: '200m', runtime: 'PT1M' },
      ],
      jobs: [
        { name: 'prep', command: 'sleep 1', rr: 'small' },
        ...Array.from({ length: 14 }, (_, i) => ({ name: `work_${i}`, command: 'sleep 1', rr: 'small', dependsOn: ['prep'] })),
        ...[1, 2, 3].map((i) => ({ name: `big_${i}`, command: HOG(250), rr: 'small', dependsOn: ['prep'] })),
        // Its first allocation (PT1M × 1.5 + 90 s → 3 min) stops it at 150 s: terminated, a timeout.
        { name: 'slow', command: 'sleep 170', rr: 'quick' },
        { name: 'merge', command: 'sleep 1', rr: 'small', dependsOn: ['work_0', 'big_1', 'big_2', 'big_3', 'slow'] },
      ],
    };
    const id = torc.createWorkflow(spec);
    expect(torc.jobsOf(id)).toHaveLength(20);
    expect(rebound.cli(['watch', String(id)])).toContain(`Watching Torc workflow ${id}`);

    await waitFor('every job completed', allComplete(id), 900_000);
    await waitFor('the healthy completion', async () => (await view(id)).status === 'healthy', 60_000);
    const history = await lines(id);
    expect(history.filter((l) => l.includes('OOM detected'))).toHaveLength(3);
    expect(history.some((l) => /Job \d+ \(big_1\): OOM detected, increasing memory 200m -> 300m/.test(l))).toBe(true);
    expect(history.some((l) => /Job \d+ \(slow\): Timeout detected, increasing runtime PT1M -> /.test(l))).toBe(true);
    expect(history.some((l) => l.includes('Resource requirements "small" copied to "small_a1"'))).toBe(true);
    expect(history.some((l) => /\d+ allocation\(s\) submitted/.test(l))).toBe(true);
    expect(history.some((l) => l.startsWith('Auto-schedule:'))).toBe(true);
    // Exactly the failed jobs were reset: the 15 that succeeded the first time ran once.
    const reran = torc.jobsOf(id).filter((j) => [...torc.results.values()].filter((r) => r.job_id === j.id).length > 1);
    expect(reran.map((j) => j.name).sort()).toEqual(['big_1', 'big_2', 'big_3', 'slow']);
  }, 1_000_000);
});
