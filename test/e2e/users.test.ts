import { chmodSync, chownSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_PROFILE } from '../support/lab-profile.ts';
import { TorcDouble } from '../support/torc-double.ts';
import {
  ALICE,
  completed,
  HOG,
  jobsOf,
  MALLORY,
  ReboundProcess,
  slurm,
  submit,
  TORC_RUNNER,
  tagged,
  waitFor,
} from './harness.ts';

// A shared cluster: alice and mallory are ordinary users (scripts/slurm-env.sh). Rebound acts for a job's
// owner, as that owner, or not at all — in user mode (alice's own Rebound) and in site mode (root's).

const RUN = Date.now().toString(36);
const w = (name: string) => `${name}-${RUN}`;
const out = (name: string) => ['-o', `/tmp/rebound-e2e-users-${RUN}-${name}-%j.out`];

type View = { status: string; history: { line: string }[] };
const historyOf = async (rebound: ReboundProcess, workload: string) =>
  (await rebound.get<View>(`/v1/workloads/${encodeURIComponent(workload)}`)).body.history?.map(
    (h) => h.line,
  ) ?? [];
const foreignLine = (rebound: ReboundProcess, jobId: string) =>
  waitFor(
    `job ${jobId} recorded as foreign`,
    async () => (await historyOf(rebound, '~foreign')).find((l) => l.startsWith(`Job ${jobId} `)),
    90_000,
  );

describe.concurrent('a shared cluster', () => {
  describe('user mode (alice)', () => {
    const mine = w('alice-own');
    const theirs = w('mallory-reported');
    const pipes = w('pipes');
    let rebound: ReboundProcess;
    beforeAll(async () => {
      // A misconfigured site: the hook reports mallory's jobs to alice's Rebound too.
      rebound = new ReboundProcess(
        18_794,
        { profile: LAB_PROFILE },
        { match: `${tagged(mine, theirs)}|^rebound:${pipes}`, env: { REBOUND_SACCT_INTERVAL: '0' } },
      );
      await rebound.start();
    }, 30_000);
    afterAll(async () => rebound?.dispose());

    it('starts saying whose jobs it recovers; as root it refuses, naming site mode', async () => {
      expect(rebound.output).toMatch(/in user mode: recovers the jobs of alice \(uid 1501\) only/);
      const asRoot = new ReboundProcess(18_796, { profile: LAB_PROFILE }, { as: 'root' });
      try {
        const failure = await asRoot.start().catch((e: Error) => e);
        expect(String(failure)).toMatch(/user mode runs as the user whose jobs it recovers, never as root/);
        expect(String(failure)).toContain('"mode": "site"');
      } finally {
        await asRoot.dispose();
      }
    }, 60_000);

    it('a job named a|b with the comment rebound:w|x is diagnosed right from sacct (and is no tag)', async () => {
      const id = submit(
        ['-J', 'a|b', '--mem=200M', `--comment=rebound:${pipes}|x`, ...out('pipes')],
        HOG(250),
      );
      const line = await waitFor(
        'the verdict',
        async () => (await historyOf(rebound, '~untagged')).find((l) => l.startsWith(`Job ${id} `)),
        90_000,
      );
      expect(line).toMatch(/^Job \d+ \(a\|b\): oom \(.*\); not tagged rebound:<workload>, recorded only$/);
    }, 120_000);

    it("1. mallory's tagged OOM job is recorded as foreign and never resubmitted; alice's is recovered as alice", async () => {
      const theirId = submit(
        ['-J', 'theirs', '--mem=200M', `--comment=rebound:${theirs}`, ...out('theirs')],
        HOG(250),
        MALLORY,
      );
      submit(['-J', 'mine', '--mem=200M', `--comment=rebound:${mine}`, ...out('mine')], HOG(250));
      const jobs = await waitFor("alice's retry", completed(mine, 2), 150_000);
      expect(jobs.map((j) => [j.user, j.state, j.reqMem])).toEqual([
        ['alice', 'OUT_OF_MEMORY', '200M'],
        ['alice', 'COMPLETED', '300M'],
      ]);
      expect(await foreignLine(rebound, theirId)).toContain(
        'owned by mallory (uid 1502), not by alice, the user this Rebound runs as: recorded only, never recovered',
      );
      await rebound.idle();
      expect(jobsOf(theirs)).toHaveLength(1);
      expect(await historyOf(rebound, theirs)).toEqual([]);
    }, 180_000);
  });

  describe('site mode (root)', () => {
    const torc = new TorcDouble();
    let workflow: number;
    const aliceWork = w('site-alice');
    const rootWork = w('site-root');
    const chain = w('site-chain');
    const forged = w('site-forged');
    let rebound: ReboundProcess;
    beforeAll(async () => {
      await torc.start();
      workflow = torc.createWorkflow({
        name: 'site',
        resourceRequirements: [{ name: 'small', memory: '200m', runtime: 'PT1M' }],
        jobs: [{ name: 'hello', command: 'true', rr: 'small' }],
      });
      rebound = new ReboundProcess(
        18_795,
        {
          profile: LAB_PROFILE,
          mode: 'site',
          // The stand-in runner stops 30 s before its allocation ends: 90 s of each are not for jobs.
          torc: { runnerBufferSeconds: 90 },
          policy: {
            overrides: { [chain]: { maxRetries: 3 } },
            autoSchedule: { threshold: 1, cooldownSeconds: 5, strandedTimeoutSeconds: 0 },
          },
          relay: { torc: { url: torc.url, runner: TORC_RUNNER, outputDir: 'torc_output', pollSeconds: 2 } },
        },
        {
          as: 'root',
          match: tagged(aliceWork, rootWork, chain, forged),
          // The queue watch every 3 s: a tagged job that completes is followed once a poll has seen it.
          env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_TICK_SECONDS: '2', REBOUND_PENDING_INTERVAL: '3' },
        },
      );
      await rebound.start();
    }, 30_000);
    afterAll(async () => {
      await rebound?.dispose();
      await torc.stop();
      expect(torc.violations).toEqual([]);
    });

    it("a Torc workflow watched for alice gets its allocations as alice, and alice's token reads it", async () => {
      // Site mode wants to know whom the allocations run as.
      expect(() => rebound.cli(['watch', String(workflow)])).toThrow(/--user <name>/);
      expect(rebound.cli(['watch', String(workflow), '--user', ALICE.name])).toContain(
        'its allocations run as alice',
      );
      await waitFor(
        'the workflow complete',
        () => torc.jobsOf(workflow).every((j) => j.status === 'completed'),
        180_000,
      );
      const key = `torc-wf${workflow}`;
      const submitted = (await historyOf(rebound, key))
        .map((l) => /submitted (\d+) as alice$/.exec(l)?.[1])
        .find(Boolean);
      expect(submitted).toBeDefined();
      // slurmctld's word (sacct may still hold its first stub of a job that just started).
      expect(slurm(['squeue', '-h', '-t', 'all', '-j', submitted!, '-o', '%u'])).toBe('alice');
      const status = rebound.cliAs(ALICE, ['status']);
      expect(status.stdout).toContain(key);
      expect(rebound.cliAs(MALLORY, ['status']).stdout).not.toContain(key);
    }, 240_000);

    it("2. alice's OOM job is resubmitted as alice; root's (uid 0, below the minimum) never is", async () => {
      expect(rebound.output).toContain('in site mode: recovers each tagged job as its owner (uid >= 1000)');
      const rootId = submit(
        ['-J', 'root-job', '--mem=200M', `--comment=rebound:${rootWork}`, ...out('root')],
        HOG(250),
        'root',
      );
      const envDump = `/tmp/rebound-e2e-users-${RUN}-env-`;
      submit(
        ['-J', 'alice-job', '--mem=200M', `--comment=rebound:${aliceWork}`, ...out('alice')],
        `env > ${envDump}$SLURM_JOB_ID; ${HOG(250)}`,
      );
      const jobs = await waitFor("alice's retry", completed(aliceWork, 2), 150_000);
      expect(jobs.map((j) => [j.user, j.state, j.reqMem])).toEqual([
        ['alice', 'OUT_OF_MEMORY', '200M'],
        ['alice', 'COMPLETED', '300M'],
      ]);
      // Submitted by alice herself (runuser): her home and name, nothing of root's or the relay's.
      const env = readFileSync(`${envDump}${jobs[1]!.jobId}`, 'utf8');
      expect(env).toMatch(/^HOME=\/home\/alice$/m);
      expect(env).toMatch(/^USER=alice$/m);
      expect(env).not.toMatch(/^HOME=\/root$/m);
      expect(env).not.toContain(rebound.secret);
      expect(env).not.toContain('REBOUND_');
      expect(await historyOf(rebound, `${aliceWork}@alice`)).toContainEqual(
        expect.stringMatching(/resubmitted as job \d+/),
      );
      expect(await foreignLine(rebound, rootId)).toContain("below the site's minimum uid 1000");
      await rebound.idle();
      expect(jobsOf(rootWork)).toHaveLength(1);

      // `rebound logs` reads a job's output as its owner, never as root: alice's log, as Slurm wrote it, is
      // read; made root's own (mode 0600), the same request is refused with tail's own words.
      const first = jobs[0]!.jobId;
      const log = `/tmp/rebound-e2e-users-${RUN}-alice-${first}.out`;
      // The relay runs commands in batches that wait for the slowest (issue 14): under the e2e load, a logs
      // command can wait behind enrichments polling sacct, so the CLI waits longer here than its 60 s.
      const slow = { REBOUND_WAIT_MS: '240000' };
      const read = rebound.run(['logs', `${aliceWork}@alice`, first, '--tail', '5'], slow);
      expect({ status: read.status, stderr: read.stderr }).toEqual({ status: 0, stderr: '' });
      expect(read.stdout).toMatch(/oom-kill event/);
      chownSync(log, 0, 0);
      chmodSync(log, 0o600);
      const refused = rebound.run(['logs', `${aliceWork}@alice`, first], slow);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/Permission denied/);
    }, 600_000);

    it("3-4. mallory queues a job with the exact tag of alice's next resubmission: alice's is still resubmitted as alice, and mallory's joins nothing", async () => {
      // Alice's job: the first run runs out of memory at once, the second after 20 s (time for mallory),
      // the third completes.
      const count = `/tmp/rebound-e2e-users-${RUN}-count`;
      const script = `n=$(cat ${count} 2>/dev/null || echo 0); echo $((n+1)) > ${count}; if [ "$n" = 0 ]; then ${HOG(250)}; elif [ "$n" = 1 ]; then sleep 20; ${HOG(400)}; fi`;
      const first = submit(
        ['-J', 'chain', '--mem=200M', `--comment=rebound:${chain}`, ...out('chain')],
        script,
      );
      // The positive signal: the retry is queued, so the chain's nonce is in the store.
      await waitFor('the first retry', () => jobsOf(chain).length === 2, 90_000);
      const db = new Database(join(rebound.dataDir, 'rebound.db'), { readonly: true });
      const row = db.prepare('SELECT json FROM jobs WHERE key = ?').get(`rebound:${first}`) as {
        json: string;
      };
      db.close();
      const { nonce } = JSON.parse(row.json) as { nonce: string };
      expect(nonce).toMatch(/^[0-9a-f]{16}$/);
      const nextTag = `rebound:${chain}/rebound:${first}:a2.${nonce}`;
      // Mallory's job, held in the queue: exactly the comment alice's next resubmission will carry.
      const mallorys = submit(
        ['-J', 'decoy', '--hold', `--comment=${nextTag}`, ...out('decoy')],
        'true',
        MALLORY,
      );
      try {
        const alices = await waitFor("alice's second retry", completed(chain, 3, ALICE), 150_000);
        expect(alices.map((j) => j.state)).toEqual(['OUT_OF_MEMORY', 'OUT_OF_MEMORY', 'COMPLETED']);
        expect(alices.map((j) => j.reqMem)).toEqual(['200M', '300M', '450M']);
        expect(alices[2]!.comment).toBe(nextTag);
        // Mallory's job is still hers, still held: nothing took it for alice's resubmission.
        expect(slurm(['squeue', '-h', '-j', mallorys, '-o', '%u|%T|%k'])).toBe(`mallory|PENDING|${nextTag}`);
      } finally {
        slurm(['scancel', mallorys]);
      }
      // Mallory's job ends (cancelled): an ordinary job of hers, in her own workload, counted in no chain.
      await waitFor(
        "mallory's job recorded as hers",
        async () =>
          (await historyOf(rebound, `${chain}@mallory`)).find((l) => l.startsWith(`Job ${mallorys} `)),
        90_000,
      );
      await rebound.idle();
      const history = await historyOf(rebound, `${chain}@alice`);
      expect(history.filter((l) => /^Attempt \d+: job \d+ resubmitted as job \d+$/.test(l))).toHaveLength(2);
      expect(history.join('\n')).not.toContain(mallorys);
    }, 300_000);

    it("8. mallory's token reads no workload of alice's (status API, CLI); alice's job whose comment says UserId=mallory(1502) is still alice's", async () => {
      // The administrator makes each user's token; it lands in their home, theirs alone.
      expect(rebound.cli(['token', 'create', ALICE.name])).toContain('/home/alice/.config/rebound/token');
      rebound.cli(['token', 'create', MALLORY.name]);
      const tokenOf = (user: string) => {
        const file = `/home/${user}/.config/rebound/token`;
        expect(statSync(file).mode & 0o777).toBe(0o600);
        expect(statSync(file).uid).toBe(user === 'alice' ? ALICE.uid : MALLORY.uid);
        return readFileSync(file, 'utf8').trim();
      };
      const [alice, mallory] = [tokenOf('alice'), tokenOf('mallory')];
      const id = submit(
        ['-J', 'forged', '--mem=200M', `--comment=rebound:${forged} UserId=mallory(1502)`, ...out('forged')],
        HOG(250),
      );
      // And one of alice's own workloads: a tagged job that completes (running long enough for the queue
      // watch to see it: the end of a job nobody tracks is not recorded).
      submit(['-J', 'fine', `--comment=rebound:${forged}`, ...out('fine')], 'sleep 8');
      const mine = `${forged}@alice`;
      await waitFor(
        "alice's workload",
        async () =>
          (await rebound.get<View>(`/v1/workloads/${encodeURIComponent(mine)}`)).body.status === 'healthy',
        90_000,
      );
      const job = await waitFor(
        'the forged job decided',
        () => {
          const db = new Database(join(rebound.dataDir, 'rebound.db'), { readonly: true });
          const row = db.prepare('SELECT json FROM jobs WHERE key = ?').get(`rebound:${id}`) as
            | { json: string }
            | undefined;
          db.close();
          const record = row && (JSON.parse(row.json) as { decided: boolean; owner?: { user: string } });
          return record?.decided ? record : undefined;
        },
        90_000,
      );
      expect(job.owner).toMatchObject({ user: 'alice', uid: ALICE.uid });
      await rebound.idle();
      // The status API: alice sees her workloads, mallory none of them, not even that they exist.
      const keys = async (token: string) =>
        (await rebound.get<{ key: string }[]>('/v1/workloads', token)).body.map((w) => w.key);
      expect(await keys(alice)).toContain(`${aliceWork}@alice`);
      expect((await keys(mallory)).filter((k) => !k.endsWith('@mallory'))).toEqual([]);
      expect(
        (await rebound.get(`/v1/workloads/${encodeURIComponent(`${aliceWork}@alice`)}`, mallory)).status,
      ).toBe(404);
      // The CLI, run by mallory with only the URL and her own token.
      const list = rebound.cliAs(MALLORY, ['status']);
      expect(list.status).toBe(0);
      expect(list.stdout).not.toContain('@alice');
      const peek = rebound.cliAs(MALLORY, ['history', mine]);
      expect(peek.status).toBe(1);
      expect(peek.stderr).toContain(`no workload "${mine}"`);
      const own = rebound.cliAs(ALICE, ['history', mine]);
      expect(own.stdout).toMatch(/Job \d+ \(fine\): completed/);
    }, 180_000);
  });
});

afterAll(() => {
  // Nothing of alice's may outlive the suite.
  slurm(['scancel', '-u', ALICE.name, '--name=chain']);
});
