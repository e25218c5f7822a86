import { statSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completed,
  HOG,
  jobsOf,
  mcpClient,
  ReboundProcess,
  slurm,
  submit,
  tagged,
  waitFor,
} from './harness.ts';

// A person's recovery by hand (issue 13), end to end on the real Slurm test cluster: automatic recovery
// stops after max retries, `rebound recover` tries once more with the person's multiplier, the job completes.
const RUN = Date.now().toString(36);
const w = (name: string) => `${name}-${RUN}`;
const MANUAL = w('manual');
const VIA_MCP = w('mcp');
const out = (name: string) => ['-o', `/tmp/rebound-e2e-${RUN}-${name}-%j.out`];

// Debian's Chromium as root, on a machine with no network: no sandbox, nothing that phones home.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

type View = { status: string; attempts: unknown[]; history: { line: string }[] };

let rebound: ReboundProcess;
beforeAll(async () => {
  rebound = new ReboundProcess(
    18_805,
    { policy: { overrides: { [MANUAL]: { maxRetries: 2 }, [VIA_MCP]: { maxRetries: 0 } } } },
    // A tool (or `rebound logs`) waits for the relay; under the e2e load (issue 14: commands run in batches
    // that wait for the slowest) longer than the 30 s a person gets.
    { match: tagged(MANUAL, VIA_MCP), env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_MCP_WAIT_MS: '240000' } },
  );
  await rebound.start();
}, 30_000);
afterAll(async () => rebound?.dispose());

describe.concurrent('recovery by hand', () => {
  it('rebound recover after "Max retries (2) exceeded" with --memory-multiplier 3: the job completes, history shows the manual attempt; --dry-run and bad input change nothing', async () => {
    // Needs 700M: 200M, 300M and 450M all run out of memory, and max retries (2) stops there.
    submit(['-J', `big-${RUN}`, '--mem=200M', `--comment=rebound:${MANUAL}`, ...out('manual')], HOG(700));
    const view = async () => (await rebound.get<View>(`/v1/workloads/${MANUAL}`)).body;
    await waitFor('exhaustion', async () => (await view()).status === 'exhausted', 150_000);
    const history = rebound.cli(['history', MANUAL]);
    expect(history).toContain('Max retries (2) exceeded. Manual intervention required.');
    expect(history).toContain(`By hand: \`rebound recover ${MANUAL}\``);

    // The failed job's error output, read by the relay on the login node (issue 13, acceptance 3).
    const first = jobsOf(MANUAL)[0]!.jobId;
    const log = rebound.run(['logs', MANUAL, first, '--stderr', '--tail', '5'], {
      REBOUND_WAIT_MS: '240000',
    });
    expect(log.status).toBe(0);
    expect(log.stdout).toContain(`/tmp/rebound-e2e-${RUN}-manual-${first}.out`);
    expect(log.stdout).toMatch(/Detected 1 oom-kill event\(s\) in StepId=\d+\.batch/);
    for (const bad of [
      {
        args: ['logs', MANUAL, first, '--tail', '100000'],
        status: 2,
        says: /--tail: must be at most 10000 lines/,
      },
      { args: ['logs', MANUAL, '424242'], status: 3, says: /no job 424242 in/ },
      { args: ['logs', `nope-${RUN}`, first], status: 3, says: /no workload/ },
      { args: ['logs', MANUAL], status: 2, says: /logs needs a workload and a job/ },
    ]) {
      const done = rebound.run(bad.args);
      expect({ args: bad.args, status: done.status }).toEqual({ args: bad.args, status: bad.status });
      expect(done.stderr).toMatch(bad.says);
    }

    // A dry run and bad input: the store (the workload as the API shows it) and Slurm are as they were.
    await rebound.idle();
    const before = { view: await view(), jobs: jobsOf(MANUAL) };
    const dry = rebound.run(['recover', MANUAL, '--memory-multiplier', '3', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('Dry run: nothing changed.');
    expect(dry.stdout).toContain('increasing memory 450M -> 1350M');
    const refusals = [
      { args: ['recover', MANUAL, '--memory-multiplier', '-3'], status: 2, says: /--memory-multiplier/ },
      { args: ['recover', MANUAL, '--memory-multiplier', 'lots'], status: 2, says: /"lots" is not a number/ },
      { args: ['recover', MANUAL, '--recovery-hook', 'rm -rf /'], status: 2, says: /--recovery-hook/ },
      { args: ['recover', `nope-${RUN}`], status: 3, says: /no workload/ },
      { args: ['recover', MANUAL, '--job', '999999999'], status: 3, says: /no job 999999999/ },
      { args: ['recover'], status: 2, says: /recover needs a workload/ },
    ];
    for (const r of refusals) {
      const done = rebound.run(r.args);
      expect({ args: r.args, status: done.status }).toEqual({ args: r.args, status: r.status });
      expect(done.stderr).toMatch(r.says);
    }
    await rebound.idle();
    expect({ view: await view(), jobs: jobsOf(MANUAL) }).toEqual(before);

    const done = rebound.run(['recover', MANUAL, '--memory-multiplier', '3']);
    expect(done.status).toBe(0);
    expect(done.stdout).toMatch(
      /Manual recovery attempt 3 for \S+, by \S+ via the CLI \(request \S+; automatic retries used 2 of 2/,
    );
    const jobs = await waitFor('the manual retry', completed(MANUAL, 4), 120_000);
    expect(jobs.map((j) => j.state)).toEqual([
      'OUT_OF_MEMORY',
      'OUT_OF_MEMORY',
      'OUT_OF_MEMORY',
      'COMPLETED',
    ]);
    expect(jobs.map((j) => j.reqMem)).toEqual(['200M', '300M', '450M', '1350M']);
    await waitFor('healthy', async () => (await view()).status === 'healthy', 60_000);
    const lines = rebound.cli(['history', MANUAL]);
    expect(lines).toMatch(/Request \S+: recovery by hand by \S+ via the CLI \(memory x3\)/);
    expect(lines).toMatch(/Attempt 3: job \d+ resubmitted as job \d+/);
    // The utilization report: the four jobs, three out of memory (their allocations wasted), the last a retry
    // that completed, with sacct's CPU time.
    const report = JSON.parse(rebound.cli(['report', MANUAL, '--json'])) as {
      jobs: {
        jobId: string;
        cause: string;
        retry: boolean;
        memoryPercent?: number;
        cpuEfficiencyPercent?: number;
      }[];
      totals: { jobs: number; failed: number; retries: number; wastedGbHours: number };
    };
    expect(report.jobs.map((j) => [j.jobId, j.cause, j.retry])).toEqual(
      jobs.map((j, i) => [j.jobId, i < 3 ? 'oom' : 'success', i > 0]),
    );
    expect(report.totals).toMatchObject({ jobs: 4, failed: 3, retries: 3 });
    expect(report.jobs[3]!.memoryPercent).toBeGreaterThan(40);
    expect(report.jobs[3]!.cpuEfficiencyPercent).toBeGreaterThan(0);
    expect(rebound.cli(['report', MANUAL])).toMatch(
      /Resource utilization of \S+: 4 job\(s\), 3 failed, 3 retries/,
    );

    // The status page in headless Chromium (issue 13, acceptance 4): signed in with the token (never put in a
    // URL), the chart has one mark per job, each naming its job and whether it is a retry; a screenshot is
    // written, and it is not blank.
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      expect((await page.goto(`${rebound.url}/ui/w/${MANUAL}`))?.status()).toBe(401);
      await page.fill('input[name=token]', rebound.token);
      await Promise.all([page.waitForURL(`${rebound.url}/ui`), page.click('button[type=submit]')]);
      await Promise.all([page.waitForURL(/\/ui\/w\//), page.click(`a[href="/ui/w/${MANUAL}"]`)]);
      const marks = await page.$$eval('svg.usage g.job', (gs) =>
        gs.map((g) => [g.getAttribute('data-job-id'), g.getAttribute('data-retry')]),
      );
      expect(marks).toEqual(jobs.map((j, i) => [j.jobId, String(i > 0)]));
      expect(await page.textContent('h1')).toContain('healthy');
      expect(page.url()).not.toContain('rbt:');
      const shot = `/tmp/rebound-e2e-${RUN}-status-page.png`;
      const png = await page.screenshot({ path: shot, fullPage: true });
      const blank = await (await browser.newPage({ viewport: { width: 1100, height: 900 } })).screenshot();
      expect(statSync(shot).size).toBe(png.length);
      expect(png.length).toBeGreaterThan(blank.length * 3);
    } finally {
      await browser.close();
    }

    // Asked again, there is nothing left to recover: exit 0, nothing submitted.
    const again = rebound.run(['recover', MANUAL]);
    expect(again.status).toBe(0);
    expect(slurm(['squeue', '-h', '-n', `big-${RUN}`, '-o', '%i'])).toBe('');
  }, 600_000);

  it('an assistant with the MCP SDK client reads a job that needs attention with every read tool, gives it more memory, and it is recovered', async () => {
    const id = submit(
      ['-J', `mcp-${RUN}`, '--mem=200M', `--comment=rebound:${VIA_MCP}`, ...out('mcp')],
      HOG(700),
    );
    const view = async () => (await rebound.get<View>(`/v1/workloads/${VIA_MCP}`)).body;
    // Max retries 0: automatic recovery stops at the first OOM.
    await waitFor('exhaustion', async () => (await view()).status === 'exhausted', 90_000);
    const { client, call } = await mcpClient(rebound);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(
        [
          'check_resource_utilization',
          'get_history',
          'get_job_logs',
          'get_recovery_plan',
          'get_workflow_status',
          'list_failed_jobs',
          'resubmit_workflow',
          'update_job_resources',
        ].sort(),
      );
      const workload = VIA_MCP;
      expect((await call('get_workflow_status', { workload })).json()).toMatchObject({ status: 'exhausted' });
      expect((await call('list_failed_jobs', { workload })).json()).toMatchObject([
        { jobId: id, cause: 'oom' },
      ]);
      const log = await call('get_job_logs', { workload, job: id, stderr: true, tail: 3 });
      expect(log.isError).toBe(false);
      expect(log.text).toMatch(/Detected 1 oom-kill event/);
      expect((await call('check_resource_utilization', { workload })).json()).toMatchObject({
        totals: { jobs: 1, failed: 1 },
      });
      expect((await call('get_recovery_plan', { workload })).json()).toMatchObject([
        { stopReason: 'max-retries' },
      ]);
      expect((await call('get_history', { workload, last: 5 })).text).toContain('Max retries (0) exceeded.');
      // Bad input changes nothing.
      for (const args of [
        { workload, job: id, memory: '-1G' },
        { workload, job: '999999999', memory: '1G' },
        { workload: `nope-${RUN}`, job: id, memory: '1G' },
      ])
        expect((await call('update_job_resources', args)).isError).toBe(true);
      expect((await call('resubmit_workflow', { workload, memoryMultiplier: 0.5 })).isError).toBe(true);
      expect(jobsOf(VIA_MCP)).toHaveLength(1);

      const set = await call('update_job_resources', { workload, job: id, memory: '1G' });
      expect(set.text).toMatch(/next retry set to memory 1G, by \S+ via MCP/);
      const again = await call('resubmit_workflow', { workload });
      expect(again.json()).toMatchObject({ outcome: 'started' });
      const jobs = await waitFor('the retry', completed(VIA_MCP, 2), 120_000);
      expect(jobs.map((j) => [j.state, j.reqMem])).toEqual([
        ['OUT_OF_MEMORY', '200M'],
        ['COMPLETED', '1G'],
      ]);
      expect((await call('get_history', { workload })).text).toMatch(
        /Manual recovery attempt 1 for \S+, by \S+ via MCP/,
      );
    } finally {
      await client.close();
    }
  }, 480_000);
});
