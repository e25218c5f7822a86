import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_PROFILE } from '../support/lab-profile.ts';
import { TorcDouble, type WorkflowSpec } from '../support/torc-double.ts';
import { ALICE, HOG, mcpClient, ReboundProcess, slurm, TORC_RUNNER, waitFor } from './harness.ts';

// Torc workflows end to end on the real Slurm: a Torc server (test double, validated against Torc's
// OpenAPI), Rebound (`rebound start` + `rebound watch`), and Torc's runner (a stand-in, also a test
// double) inside real Slurm allocations that Rebound submits. Nothing is typed after `rebound watch`.

const work = mkdtempSync(join(tmpdir(), 'rebound-torc-e2e-'));
// Rebound runs as alice (user mode): its allocations write their output here.
chownSync(work, ALICE.uid, ALICE.gid);
const hook = (name: string, body: string) => {
  const path = join(work, name);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
};

const torc = new TorcDouble();
const marker = join(work, 'second-time');
const small = [{ name: 'small', memory: '200m', runtime: 'PT1M' }];
const bug = (name: string, command: string): WorkflowSpec => ({
  name: `bug-${name}`,
  resourceRequirements: small,
  jobs: [
    { name: 'ok', command: 'true', rr: 'small' },
    { name: 'broken', command, rr: 'small' },
  ],
});

// Every scenario's workflow, created before Rebound starts so that the policy can name them; Torc's ids
// (the test double's) start anywhere, and no scenario assumes which.
const WF = {} as Record<'twenty' | 'stuck' | 'flaky' | 'hooked' | 'killed' | 'retried' | 'mcp', number>;
let rebound: ReboundProcess;

beforeAll(async () => {
  await torc.start();
  WF.twenty = torc.createWorkflow({
    name: 'twenty',
    resourceRequirements: [...small, { name: 'quick', memory: '200m', runtime: 'PT1M' }],
    jobs: [
      { name: 'prep', command: 'sleep 1', rr: 'small' },
      ...Array.from({ length: 14 }, (_, i) => ({
        name: `work_${i}`,
        command: 'sleep 1',
        rr: 'small',
        dependsOn: ['prep'],
      })),
      ...[1, 2, 3].map((i) => ({ name: `big_${i}`, command: HOG(250), rr: 'small', dependsOn: ['prep'] })),
      // Its first allocation (PT1M × 1.5 + 90 s → 3 min) stops it at 150 s: terminated, a timeout.
      { name: 'slow', command: 'sleep 170', rr: 'quick' },
      {
        name: 'merge',
        command: 'sleep 1',
        rr: 'small',
        dependsOn: ['work_0', 'big_1', 'big_2', 'big_3', 'slow'],
      },
    ],
  });
  WF.stuck = torc.createWorkflow(bug('stuck', 'exit 3'));
  WF.flaky = torc.createWorkflow(bug('flaky', `test -f ${marker} || { touch ${marker}; exit 3; }`));
  WF.mcp = torc.createWorkflow(
    bug('mcp', `test -f ${marker}-mcp || { touch ${marker}-mcp; echo "first try fails" >&2; exit 3; }`),
  );
  WF.hooked = torc.createWorkflow({
    name: 'hooked',
    resourceRequirements: small,
    jobs: [{ name: 'broken', command: 'exit 3', rr: 'small' }],
  });
  WF.killed = torc.createWorkflow({
    name: 'killed',
    resourceRequirements: small,
    jobs: [
      { name: 'long_a', command: 'sleep 40', rr: 'small' },
      { name: 'long_b', command: 'sleep 40', rr: 'small' },
    ],
  });
  WF.retried = torc.createWorkflow({
    name: 'retried',
    resourceRequirements: small,
    jobs: [
      { name: 'r1', command: 'true', rr: 'small' },
      { name: 'r2', command: 'true', rr: 'small' },
    ],
  });
  rebound = new ReboundProcess(
    18_789,
    {
      profile: LAB_PROFILE,
      // The stand-in runner stops 30 s before its allocation ends and claims in whole minutes, so 90 s of
      // each allocation are not for jobs (Torc's runner: 180 s).
      torc: { runnerBufferSeconds: 90 },
      policy: {
        autoSchedule: { threshold: 2, cooldownSeconds: 5, strandedTimeoutSeconds: 0 },
        overrides: {
          [`torc-wf${WF.flaky}`]: { retryUnknown: true },
          [`torc-wf${WF.hooked}`]: { unknownFailureHook: 'fail-hook' },
          [`torc-wf${WF.retried}`]: {
            autoSchedule: { threshold: 2, cooldownSeconds: 20, strandedTimeoutSeconds: 0 },
          },
        },
      },
      relay: {
        torc: { url: torc.url, runner: TORC_RUNNER, outputDir: join(work, 'torc_output'), pollSeconds: 2 },
        hooks: {
          'fail-hook': [
            hook('fail-hook.sh', 'echo "hook saw workflow $1 ($TORC_WORKFLOW_ID)"; echo boom >&2; exit 1'),
          ],
        },
      },
    },
    // The end of one of its allocations comes from the hook (orphan clean-up); the rest from Torc.
    { match: '^rebound:torc-wf', env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_TICK_SECONDS: '2' } },
  );
  await rebound.start();
}, 60_000);

afterAll(async () => {
  await rebound?.dispose();
  await torc.stop();
  slurm(['scancel', '--name=worker', '-u', ALICE.name]);
  expect(torc.violations).toEqual([]);
});

type View = { status: string; history: { line: string }[] };
const view = async (workflowId: number) =>
  (await rebound.get<View>(`/v1/workloads/torc-wf${workflowId}`)).body;
const lines = async (workflowId: number) => (await view(workflowId)).history.map((h) => h.line);
const allComplete = (workflowId: number) => () =>
  torc.jobsOf(workflowId).every((j) => j.status === 'completed');

describe.concurrent('Torc workflows', () => {
  it('1. a 20-job workflow with 3 OOM jobs and 1 timeout ends all-complete after `rebound watch` alone', async () => {
    const id = WF.twenty;
    expect(torc.jobsOf(id)).toHaveLength(20);
    expect(rebound.cli(['watch', String(id)])).toContain(`Watching Torc workflow ${id}`);

    await waitFor('every job completed', allComplete(id), 900_000);
    await waitFor('the healthy completion', async () => (await view(id)).status === 'healthy', 60_000);
    const history = await lines(id);
    expect(history.filter((l) => l.includes('OOM detected'))).toHaveLength(3);
    expect(
      history.some((l) => /Job \d+ \(big_1\): OOM detected, increasing memory 200m -> 300m/.test(l)),
    ).toBe(true);
    expect(
      history.some((l) => /Job \d+ \(slow\): Timeout detected, increasing runtime PT1M -> /.test(l)),
    ).toBe(true);
    expect(history.some((l) => l.includes('Resource requirements "small" copied to "small_a1"'))).toBe(true);
    expect(history.some((l) => /\d+ allocation\(s\) submitted/.test(l))).toBe(true);
    expect(history.some((l) => l.startsWith('Auto-schedule:'))).toBe(true);
    // Exactly the failed jobs were reset: the 15 that succeeded the first time ran once.
    const reran = torc
      .jobsOf(id)
      .filter((j) => [...torc.results.values()].filter((r) => r.job_id === j.id).length > 1);
    expect(reran.map((j) => j.name).sort()).toEqual(['big_1', 'big_2', 'big_3', 'slow']);
  }, 1_000_000);

  it('2. a workflow whose failures are all unknown needs attention; with retry-unknown on they are retried', async () => {
    const { stuck, flaky } = WF;
    rebound.cli(['watch', String(stuck)]);
    rebound.cli(['watch', String(flaky)]);

    await waitFor('needs attention', async () => (await view(stuck)).status === 'needs-attention', 180_000);
    expect(await lines(stuck)).toContain('No recoverable jobs found. 1 job(s) failed with unknown causes.');
    expect(torc.jobsOf(stuck).find((j) => j.name === 'broken')?.status).toBe('failed');

    await waitFor('the unknown failure retried to completion', allComplete(flaky), 300_000);
    expect((await lines(flaky)).some((l) => /broken\): Unknown failure .* retried as is/.test(l))).toBe(true);
  }, 500_000);

  it('3. a hook that exits 1 stops recovery, with its output in history; `rebound plan` then changes nothing', async () => {
    const id = WF.hooked;
    rebound.cli(['watch', String(id)]);
    await waitFor('the stop', async () => (await view(id)).status === 'needs-attention', 180_000);
    const history = await lines(id);
    expect(history).toContain('Attempt 1: recovery stopped at the recovery hook: hook "fail-hook" exited 1');
    expect(history.find((l) => l.startsWith('  output:'))).toMatch(
      new RegExp(`hook saw workflow ${id} \\(${id}\\)[\\s\\S]*boom`),
    );
    // Stopped before the reset: the job stays failed.
    expect(torc.jobsOf(id)[0]?.status).toBe('failed');

    // `rebound plan` prints what the next attempt would do, and changes nothing.
    await rebound.idle();
    const before = torc.snapshot(id);
    const attempts = async () =>
      (await rebound.get<{ attempts: unknown[] }>(`/v1/workloads/torc-wf${id}`)).body.attempts.length;
    const attemptsBefore = await attempts();
    const out = rebound.cli(['plan', `torc-wf${id}`]);
    expect(out).toContain(`Recovery attempt 2/3 for torc-wf${id}`);
    expect(out).toContain('Running recovery hook "fail-hook" for 1 unknown failure(s)');
    expect(out).toMatch(/Resetting 1 job\(s\)/);
    // Nothing was queued by it: Rebound is idle, Torc and the attempts are as they were.
    await rebound.idle();
    expect(torc.snapshot(id)).toBe(before);
    expect(await attempts()).toBe(attemptsBefore);
  }, 300_000);

  it('4. killing an allocation fails its running jobs within seconds, and they are recovered', async () => {
    const id = WF.killed;
    rebound.cli(['watch', String(id)]);
    await waitFor('both jobs running', () => torc.jobsOf(id).every((j) => j.status === 'running'), 120_000);
    const allocation = [...torc.scns.values()].find((n) => n.workflow_id === id && n.status === 'active')!;
    const killedAt = Date.now();
    slurm(['scancel', String(allocation.scheduler_id)]);
    await waitFor(
      'orphaned jobs failed',
      () =>
        torc
          .jobsOf(id)
          .every((j) => j.status === 'failed' || j.status === 'uninitialized' || j.status === 'ready'),
      60_000,
    );
    const seconds = (Date.now() - killedAt) / 1000;
    expect(seconds).toBeLessThan(45);
    expect(
      [...torc.results.values()].filter((r) => r.workflow_id === id && r.return_code === -128),
    ).toHaveLength(2);
    await waitFor('the recovery', allComplete(id), 300_000);
    expect((await lines(id)).some((l) => l.includes('marked failed (orphaned)'))).toBe(true);
  }, 500_000);

  it('5. auto-schedule gives retry jobs allocations after the cooldown, once however often the tick runs', async () => {
    const id = WF.retried;
    // As a failure handler leaves them: ready again with attempt 2, while an allocation still lives.
    for (const j of torc.jobsOf(id)) j.attempt_id = 2;
    const live = torc.addScheduledNode(id, 'active');
    const watchedAt = Date.now();
    rebound.cli(['watch', String(id)]);
    const ours = () => [...torc.scns.values()].filter((n) => n.workflow_id === id && n.id !== live);
    await waitFor('the scheduled allocation', () => ours().length > 0, 120_000);
    expect(Date.now() - watchedAt).toBeGreaterThanOrEqual(20_000);
    await waitFor('the retry jobs done', allComplete(id), 180_000);
    // Ticks every 2 s, dozens of them by now: still the one schedule.
    expect(ours()).toHaveLength(1);
    expect((await lines(id)).filter((l) => l.startsWith('Auto-schedule:'))).toHaveLength(1);
  }, 400_000);

  it('6. via MCP (the SDK client): every read tool on a workflow that needs attention, then update_job_resources and resubmit_workflow recover it', async () => {
    const id = WF.mcp;
    const workload = `torc-wf${id}`;
    rebound.cli(['watch', String(id)]);
    await waitFor('needs attention', async () => (await view(id)).status === 'needs-attention', 180_000);
    const broken = torc.jobsOf(id).find((j) => j.name === 'broken')!;
    const { client, call } = await mcpClient(rebound);
    try {
      expect((await client.listTools()).tools).toHaveLength(8);
      expect((await call('get_workflow_status', { workload })).json()).toMatchObject({
        status: 'needs-attention',
      });
      expect((await call('list_failed_jobs', { workload })).json()).toMatchObject([
        { jobId: String(broken.id), name: 'broken', cause: 'unknown' },
      ]);
      // The job's stderr, from Torc's output folder (job_stdio), read by the relay.
      const log = await call('get_job_logs', { workload, job: String(broken.id), stderr: true });
      expect(log.isError).toBe(false);
      expect(log.text).toContain('first try fails');
      expect((await call('check_resource_utilization', { workload })).json()).toMatchObject({
        totals: { failed: 1 },
      });
      expect((await call('get_recovery_plan', { workload })).json()).toMatchObject([
        { stopReason: 'nothing-recoverable' },
      ]);
      expect((await call('get_history', { workload })).text).toContain(
        'No recoverable jobs found. 1 job(s) failed with unknown causes.',
      );

      const set = await call('update_job_resources', { workload, job: String(broken.id), memory: '300M' });
      expect(set.text).toMatch(/next retry set to memory 300M, by alice via MCP/);
      expect((await call('resubmit_workflow', { workload })).json()).toMatchObject({ outcome: 'started' });
      await waitFor('the workflow recovered', allComplete(id), 300_000);
      const history = await lines(id);
      expect(
        history.some((l) => l.startsWith(`Manual recovery attempt 1 for ${workload}, by alice via MCP`)),
      ).toBe(true);
      // Its row was copied with the memory the assistant set.
      const row = torc.rrs.get(torc.jobs.get(broken.id)!.resource_requirements_id)!;
      expect(row.memory).toBe('300m');
    } finally {
      await client.close();
    }
  }, 500_000);
});
