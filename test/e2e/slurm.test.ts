import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_PROFILE } from '../support/lab-profile.ts';
import {
  ALICE,
  completed,
  HOG,
  jobsOf,
  noticeReceiver,
  ReboundProcess,
  slurm,
  submit,
  tagged,
  unixUser,
  waitFor,
} from './harness.ts';

// End to end on a real Slurm (scripts/slurm-env.sh): jobcomp hook → webhook → queue → worker → relay →
// sbatch. Workload names carry a run id so earlier runs' accounting never counts.
const RUN = Date.now().toString(36);
const w = (name: string) => `${name}-${RUN}`;
// No profile, no policy: Rebound plans with the partitions its relay reads from the cluster (scontrol),
// as a new user's `rebound start` does with no config file (issue 12, acceptance 1).
const CONFIG = {};
const out = (name: string) => ['-o', `/tmp/rebound-e2e-${RUN}-${name}-%j.out`];

type View = {
  status: string;
  jobs: { jobId: string; cause?: string; evidence: unknown[] }[];
  history: { line: string }[];
};

const waitForOom = (id: string) =>
  waitFor(
    'the OOM',
    () => slurm(['sacct', '-n', '-X', '-P', '-j', id, '--format=State']) === 'OUT_OF_MEMORY',
    60_000,
  );

// One Rebound for the recovery scenarios; the crash, outage, watcher and hostile-input scenarios each
// have their own (they stop it, or need its state untouched), so every scenario stands alone and all run
// at once. Each process gets the hook events of its own workloads only (the test cluster's hook router).
const CANARY = `canary-${RUN}-must-not-leak`;
const MAIN = [
  'oom',
  'timeout',
  'exit3',
  'always-oom',
  'idem',
  'cancelled',
  'array',
  'env',
  'chain',
  'capped',
].map(w);
// A variable of the relay's own that sbatch would pass on (relay/exec.ts lets LANG through): a retry that
// replays the job's own environment must not have it (scenario 14).
const DECOY_LANG = 'C.decoy';
let rebound: ReboundProcess;
beforeAll(async () => {
  // Hooks only: these scenarios must pass without the sacct watcher's help (scenario 10 tests it alone).
  rebound = new ReboundProcess(18_787, CONFIG, {
    match: tagged(...MAIN),
    // Secrets a relay may hold: none may reach a resubmitted job (scenario 1).
    env: {
      REBOUND_SACCT_INTERVAL: '0',
      TORC_PASSWORD: CANARY,
      AWS_SECRET_ACCESS_KEY: CANARY,
      LANG: DECOY_LANG,
    },
  });
  await rebound.start();
}, 30_000);
afterAll(async () => rebound?.dispose());

describe.concurrent('recovery of plain Slurm jobs', () => {
  it("1. an OOM job is resubmitted with --mem=300M and completes; status shows both attempts; the retry sees none of the relay's secrets", async () => {
    const workload = w('oom');
    const envDump = `/tmp/rebound-e2e-${RUN}-oom-env-$SLURM_JOB_ID`;
    submit(
      [
        '-J',
        'oom-job',
        '-p',
        'short',
        '--mem=200M',
        '--mail-type=END',
        '--mail-user=alice@example.org',
        `--comment=rebound:${workload}`,
        ...out('oom'),
      ],
      `env > ${envDump}; ${HOG(250)}`,
    );
    const jobs = await waitFor('the OOM job and its retry', completed(workload, 2), 120_000);
    expect(jobs.map((j) => j.state)).toEqual(['OUT_OF_MEMORY', 'COMPLETED']);
    expect(jobs.map((j) => j.reqMem)).toEqual(['200M', '300M']);
    // The retry was submitted with the job's other options too (here its mail settings).
    expect(slurm(['scontrol', 'show', 'job', '-o', jobs[1]!.jobId])).toMatch(
      /MailUser=alice@example\.org MailType=END\b/,
    );
    const status = rebound.cli(['status', workload]);
    expect(status).toContain('oom');
    expect(status).toMatch(/memory 200M -> 300M/);
    expect(status).toMatch(/slurm state=OUT_OF_MEMORY/);
    // The relay's loops, as `rebound status` lists them (from /healthz).
    const loops = rebound.cli(['status']);
    expect(loops).toMatch(/\nLoops:\n/);
    for (const loop of ['worker', 'relay', 'poster'])
      expect(loops).toMatch(new RegExp(`^ {2}${loop}: ok, last success \\S+$`, 'm'));
    const history = rebound.cli(['history', workload]);
    expect(history).toContain('OOM detected, increasing memory 200M -> 300M');
    expect(history).toMatch(/resubmitted as job \d+/);
    // The retry was submitted by the relay: its environment holds nothing of the relay's own settings.
    const retryEnv = readFileSync(`/tmp/rebound-e2e-${RUN}-oom-env-${jobs[1]!.jobId}`, 'utf8');
    expect(retryEnv).toContain('SLURM_JOB_ID=');
    for (const leak of [CANARY, rebound.secret, 'REBOUND_', 'AWS_SECRET_ACCESS_KEY'])
      expect(retryEnv).not.toContain(leak);
  }, 150_000);

  it("2. a TIMEOUT job on the 1-minute partition is resubmitted with --time=2 to the one that allows it (the cluster's own partitions) and completes", async () => {
    const workload = w('timeout');
    submit(
      ['-J', 'slow-job', '-p', 'short', '--time=1', `--comment=rebound:${workload}`, ...out('timeout')],
      'sleep 100',
    );
    const jobs = await waitFor('the timeout job and its retry', completed(workload, 2), 330_000);
    expect(jobs.map((j) => j.state)).toEqual(['TIMEOUT', 'COMPLETED']);
    expect(jobs.map((j) => j.timelimit)).toEqual(['00:01:00', '00:02:00']);
    expect(jobs[1]!.partition).toBe('long');
    expect(rebound.cli(['history', workload])).toContain(
      'increasing runtime 1 -> 2, moving partition short -> long',
    );
  }, 360_000);

  it('3. a job that exits 3 is diagnosed unknown and not resubmitted', async () => {
    const workload = w('exit3');
    submit(['-J', 'bug', `--comment=rebound:${workload}`, ...out('exit3')], 'exit 3');
    await waitFor(
      'the verdict',
      async () => (await rebound.get<View>(`/v1/workloads/${workload}`)).body.status === 'needs-attention',
      60_000,
    );
    const view = (await rebound.get<View>(`/v1/workloads/${workload}`)).body;
    expect(view.jobs.map((j) => j.cause)).toEqual(['unknown']);
    expect(view.history.map((h) => h.line)).toContain(
      'No recoverable jobs found. 1 job(s) failed with unknown causes.',
    );
    expect(jobsOf(workload)).toHaveLength(1);
  }, 90_000);

  it('4. a job that always runs out of memory stops after max retries (3)', async () => {
    const workload = w('always-oom');
    submit(['-J', 'hog', '--mem=200M', `--comment=rebound:${workload}`, ...out('always')], HOG(2000));
    await waitFor(
      'exhaustion',
      async () => (await rebound.get<View>(`/v1/workloads/${workload}`)).body.status === 'exhausted',
      150_000,
    );
    const jobs = jobsOf(workload);
    expect(jobs.map((j) => j.reqMem)).toEqual(['200M', '300M', '450M', '675M']);
    expect(rebound.cli(['history', workload])).toContain(
      'Max retries (3) exceeded. Manual intervention required.',
    );
  }, 180_000);

  it('7. an untagged job that runs out of memory is recorded and never resubmitted', async () => {
    const name = `untagged-${RUN}`;
    const id = submit(['-J', name, '--mem=200M', ...out('untagged')], HOG(250));
    await waitFor(
      'the record',
      async () => {
        const view = (await rebound.get<View>('/v1/workloads/~untagged')).body;
        return view.jobs?.some((j) => j.jobId === id && j.cause === 'oom');
      },
      60_000,
    );
    await rebound.idle();
    expect(
      slurm(['sacct', '-n', '-X', '-P', '-S', 'now-1hours', '--name', name, '--format=JobID']).split('\n'),
    ).toEqual([id]);
  }, 90_000);

  it('12. a job its owner cancels (scancel) is recorded as cancelled by them: not retried, nobody told', async () => {
    const workload = w('cancelled');
    const id = submit(['-J', 'cancel-me', `--comment=rebound:${workload}`, ...out('cancelled')], 'sleep 300');
    await waitFor(
      'the job running',
      () => slurm(['squeue', '-h', '-j', id, '-o', '%T']) === 'RUNNING',
      60_000,
    );
    slurm(['scancel', id], ALICE);
    const history = await waitFor(
      'the record',
      async () => {
        const view = (await rebound.get<View & { notices?: unknown[] }>(`/v1/workloads/${workload}`)).body;
        return view.history?.some((h) => h.line.includes('cancelled by its owner alice')) && view;
      },
      60_000,
    );
    await rebound.idle();
    const view = (await rebound.get<View & { notices?: unknown[] }>(`/v1/workloads/${workload}`)).body;
    expect(view.status).toBe('watching');
    expect(view.notices ?? []).toEqual([]);
    expect(history.history.map((h) => h.line)).toContain(
      `Job ${id} (cancel-me): Cancelled (cancelled by uid ${ALICE.uid}); cancelled by its owner alice, not retried`,
    );
    expect(jobsOf(workload)).toHaveLength(1);
  }, 120_000);

  it('13. an array whose tasks 2 and 4 run out of memory: one resubmission --array=2,4 with more memory, both complete, tasks 1, 3, 5 never rerun', async () => {
    const workload = w('array');
    const array = submit(
      [
        '-J',
        'arr',
        '--array=1-5',
        '--mem=200M',
        `--comment=rebound:${workload}`,
        '-o',
        `/tmp/rebound-e2e-${RUN}-arr-%A_%a.out`,
      ],
      `echo "task $SLURM_ARRAY_TASK_ID"; if [ "$SLURM_ARRAY_TASK_ID" = 2 ] || [ "$SLURM_ARRAY_TASK_ID" = 4 ]; then ${HOG(250)}; fi`,
    );
    const jobs = await waitFor('the array and its retry', completed(workload, 7), 150_000);
    const byId = Object.fromEntries(jobs.map((j) => [j.jobId, j]));
    for (const t of [1, 3, 5]) expect(byId[`${array}_${t}`]?.state).toBe('COMPLETED');
    for (const t of [2, 4]) expect(byId[`${array}_${t}`]?.state).toBe('OUT_OF_MEMORY');
    const retries = jobs.filter((j) => !j.jobId.startsWith(`${array}_`));
    const retry = retries[0]!.jobId.split('_')[0]!;
    expect(retries.map((j) => [j.jobId, j.state, j.reqMem])).toEqual([
      [`${retry}_2`, 'COMPLETED', '300M'],
      [`${retry}_4`, 'COMPLETED', '300M'],
    ]);
    // %A/%a kept their meaning: each retried task wrote its own file under the new array's number.
    for (const t of [2, 4])
      expect(readFileSync(`/tmp/rebound-e2e-${RUN}-arr-${retry}_${t}.out`, 'utf8')).toContain(`task ${t}`);
    const history = rebound.cli(['history', workload]);
    expect(history).toContain(`Array ${array}: no task left to run; resubmitting tasks 2,4`);
    expect(history).toContain(`Array ${array} tasks 2,4 resubmitted as array ${retry}`);
    await rebound.idle();
    expect(rebound.cli(['status', workload])).toMatch(new RegExp(`${retry}_4 +${retry} +arr`));
  }, 180_000);

  it("14. a job submitted with --export=ALL,VAR=value, --chdir and -o 'o-%x-%j.out' is retried with exactly its own environment, in its folder, writing its own log", async () => {
    const workload = w('env');
    const dir = `/tmp/rebound-e2e-${RUN}-envdir`;
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, ALICE.uid, ALICE.gid);
    submit(
      [
        '-J',
        'envjob',
        '--mem=200M',
        '--export=ALL,VAR=value',
        `--chdir=${dir}`,
        '-o',
        'o-%x-%j.out',
        `--comment=rebound:${workload}`,
      ],
      `env > env-$SLURM_JOB_ID; pwd > pwd-$SLURM_JOB_ID; ${HOG(250)}`,
    );
    const jobs = await waitFor('the job and its retry', completed(workload, 2), 120_000);
    expect(jobs.map((j) => j.state)).toEqual(['OUT_OF_MEMORY', 'COMPLETED']);
    const retry = jobs[1]!.jobId;
    const env = readFileSync(join(dir, `env-${retry}`), 'utf8').split('\n');
    expect(env).toContain('VAR=value');
    expect(env).toContain('LANG=C.UTF-8');
    expect(env.join('\n')).not.toContain(DECOY_LANG);
    expect(readFileSync(join(dir, `pwd-${retry}`), 'utf8').trim()).toBe(dir);
    expect(existsSync(join(dir, `o-envjob-${retry}.out`))).toBe(true);
  }, 150_000);

  it('15. A → B (afterok:A) → C (afterok:B): A runs out of memory and is resubmitted, B is rewired to the new A, then B and C complete in order, each once', async () => {
    const workload = w('chain');
    const tag = `--comment=rebound:${workload}`;
    const a = submit(['-J', 'chainA', '--mem=200M', tag, ...out('chainA')], HOG(250));
    const b = submit(['-J', 'chainB', `--dependency=afterok:${a}`, tag, ...out('chainB')], 'sleep 1');
    const c = submit(['-J', 'chainC', `--dependency=afterok:${b}`, tag, ...out('chainC')], 'sleep 1');
    const jobs = await waitFor('A, its retry, B and C', completed(workload, 4), 150_000);
    const retry = jobs.find((j) => ![a, b, c].includes(j.jobId))!.jobId;
    expect(jobs.map((j) => [j.jobId, j.name, j.state])).toEqual([
      [a, 'chainA', 'OUT_OF_MEMORY'],
      [b, 'chainB', 'COMPLETED'],
      [c, 'chainC', 'COMPLETED'],
      [retry, 'chainA', 'COMPLETED'],
    ]);
    // In order: B started once the new A had ended, C once B had.
    const times = Object.fromEntries(
      slurm(['sacct', '-n', '-P', '-X', '-j', [retry, b, c].join(','), '--format=JobID,Start,End'])
        .split('\n')
        .map((l) => l.split('|'))
        .map(([id, start, end]) => [id!, { start: start!, end: end! }]),
    );
    expect(times[b]!.start >= times[retry]!.end).toBe(true);
    expect(times[c]!.start >= times[b]!.end).toBe(true);
    expect(rebound.cli(['history', workload])).toContain(
      `Job ${b} (alice) waited on job ${a}: it now waits on job ${retry} (Dependency=afterok:${retry})`,
    );
  }, 180_000);

  it('16. a limit above every partition the job may use (account capped: only partition capped, MaxMemPerNode 300M) needs attention naming it; nothing submitted', async () => {
    const workload = w('capped');
    submit(
      [
        '-J',
        'capped',
        '-A',
        'capped',
        '-p',
        'capped',
        '--mem=250M',
        `--comment=rebound:${workload}`,
        ...out('capped'),
      ],
      HOG(280),
    );
    const view = await waitFor(
      'the verdict',
      async () => {
        const v = (await rebound.get<View>(`/v1/workloads/${workload}`)).body;
        return v.status === 'needs-attention' && v;
      },
      90_000,
    );
    expect(view.history.map((h) => h.line).join('\n')).toMatch(
      /not retried: the new request needs 375\.0 MiB memory.*the largest partitions of discovered:\S+ offer 300\.0 MiB memory \(capped\)/,
    );
    await rebound.idle();
    expect(jobsOf(workload)).toHaveLength(1);
  }, 120_000);
});

describe.concurrent('idempotency and hostile input', () => {
  it('5. every jobcomp event POSTed 5 more times still gives exactly one sbatch per retry', async () => {
    const workload = w('idem');
    submit(['-J', 'idem', '--mem=200M', `--comment=rebound:${workload}`, ...out('idem')], HOG(250));
    const jobs = await waitFor('the OOM job and its retry', completed(workload, 2), 120_000);
    await rebound.idle();
    for (let round = 0; round < 5; round++) {
      for (const j of jobs) {
        const event = {
          id: `jobcomp:rebound:${j.jobId}`,
          version: 1,
          source: 'jobcomp',
          occurredAt: new Date().toISOString(),
          cluster: 'rebound',
          type: 'slurm.jobcomp',
          data: { jobId: j.jobId, jobName: j.name, state: j.state, exitCode: '0:0', timeLimit: j.timelimit },
        };
        expect(await rebound.post(JSON.stringify(event))).toBe(202);
      }
    }
    // Everything accepted has been acted on (or ignored): only then is "nothing more" a fact.
    await rebound.idle();
    expect(jobsOf(workload)).toHaveLength(2);
    expect(
      (await rebound.get<View>(`/v1/workloads/${workload}`)).body.history.filter((h) =>
        h.line.includes('resubmitted as'),
      ),
    ).toHaveLength(1);
  }, 180_000);

  it('8. 1,000 malformed, oversized, unsigned and replayed requests get only 4xx and store nothing', async () => {
    // No queue watch either: it would post the tagged jobs of the other scenarios.
    const target = new ReboundProcess(18_791, CONFIG, {
      env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_PENDING_INTERVAL: '0' },
    });
    await target.start();
    try {
      const valid = JSON.stringify({
        id: 'x',
        version: 1,
        source: 's',
        occurredAt: new Date().toISOString(),
        cluster: 'c',
        type: 'slurm.jobcomp',
        data: { jobId: '1', state: 'FAILED', exitCode: '1:0' },
      });
      const stale = {
        'content-type': 'application/json',
        'x-rebound-timestamp': String(Math.floor(Date.now() / 1000) - 3600),
        'x-rebound-signature': `sha256=${'0'.repeat(64)}`,
      };
      const kinds: (() => Promise<number>)[] = [
        () => target.post('{"id":'),
        () => target.post(JSON.stringify({ ...JSON.parse(valid), type: 'nope' })),
        () => target.post(JSON.stringify({ ...JSON.parse(valid), data: { jobId: '$(reboot)' } })),
        () => target.post('x'.repeat(300 * 1024)),
        () => target.post(valid, { 'content-type': 'application/json' }),
        () => target.post(valid, stale),
        () => target.post(JSON.stringify(Array.from({ length: 101 }, () => JSON.parse(valid)))),
        () => target.post('[]'),
      ];
      const statuses = await Promise.all(Array.from({ length: 1000 }, (_, i) => kinds[i % kinds.length]!()));
      expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);
      expect(new Set(statuses)).toEqual(new Set([400, 401, 413]));
      // The one event handled is the relay's own report of the cluster's partitions.
      const health = await waitFor(
        'the cluster discovery handled',
        async () => {
          const h = await target.health();
          return h.worker?.handled === 1 && h;
        },
        30_000,
      );
      expect(health).toMatchObject({
        ok: true,
        events: { ready: 0, leased: 0, dead: 0 },
        worker: { handled: 1, failed: 0, lastEventId: expect.stringMatching(/^cluster:/) },
      });
      const rejected = Object.entries((health as { metrics?: Record<string, number> }).metrics ?? {})
        .filter(([k]) => k.startsWith('EventsRejected.'))
        .reduce((n, [, v]) => n + v, 0);
      expect(rejected).toBe(1000);
      expect((await target.get<unknown[]>('/v1/workloads')).body).toEqual([]);
    } finally {
      await target.dispose();
    }
  }, 60_000);
});

describe.concurrent('crash and outage', () => {
  it('6. killed (SIGKILL) between accepting an event and acting on it, the job is still recovered once', async () => {
    const workload = w('crash');
    const crashed = new ReboundProcess(18_792, CONFIG, {
      match: tagged(workload),
      env: { REBOUND_SACCT_INTERVAL: '0' },
    });
    await crashed.start();
    try {
      const id = submit(
        ['-J', 'crash', '--mem=200M', `--comment=rebound:${workload}`, ...out('crash')],
        HOG(250),
      );
      await waitForOom(id);
      await crashed.stop('SIGKILL');
      await crashed.start();
      // Leases expire (events 30 s, commands 60 s), then the work is redone once.
      const jobs = await waitFor('the retry', completed(workload, 2), 180_000);
      expect(jobs.map((j) => j.state)).toEqual(['OUT_OF_MEMORY', 'COMPLETED']);
      await crashed.idle(120_000);
      expect(jobsOf(workload)).toHaveLength(2);
    } finally {
      await crashed.dispose();
    }
  }, 300_000);

  it('9. with the service stopped, the hook spools the event; started again, it recovers the job', async () => {
    const workload = w('outage');
    const down = new ReboundProcess(18_793, CONFIG, {
      match: tagged(workload),
      env: { REBOUND_SACCT_INTERVAL: '0' },
    });
    try {
      const id = submit(
        ['-J', 'outage', '--mem=200M', `--comment=rebound:${workload}`, ...out('outage')],
        HOG(250),
      );
      await waitForOom(id);
      // The positive signal that the hook ran and could not post: its event waits in the spool.
      const spool = join(down.dataDir, 'spool');
      await waitFor(
        'the spooled event',
        // jobcomp-<cluster>-<job>-e<end of its run>.json (hooks/jobcomp.sh)
        () => existsSync(spool) && readdirSync(spool).some((f) => new RegExp(`-${id}-e\\d+\\.json$`).test(f)),
        60_000,
      );
      await down.start();
      const jobs = await waitFor('the retry', completed(workload, 2), 90_000);
      expect(jobs.map((j) => j.reqMem)).toEqual(['200M', '300M']);
    } finally {
      await down.dispose();
    }
  }, 240_000);

  it('10. without site hooks, the sacct watcher alone recovers a job, and posts it once across a restart', async () => {
    // As its own user: the watcher asks sacct for the jobs of the user it runs as, so the other scenarios'
    // (alice's) jobs are not its business.
    const user = unixUser('nobody');
    const watcher = new ReboundProcess(18_788, CONFIG, { as: user, env: { REBOUND_SACCT_INTERVAL: '5' } });
    await watcher.start();
    try {
      const workload = w('watched');
      const id = submit(
        ['-J', 'watched', '--mem=200M', `--comment=rebound:${workload}`, ...out('watched')],
        HOG(250),
        user,
      );
      const jobs = await waitFor('the retry', completed(workload, 2), 120_000);
      expect(jobs.map((j) => j.reqMem)).toEqual(['200M', '300M']);
      await watcher.stop('SIGTERM');
      const restartedAt = Date.now();
      await watcher.start();
      // The positive signal: a poll after the restart completed (its cursor moved past the restart).
      const state = join(watcher.dataDir, 'relay', 'sacct-watcher.json');
      await waitFor(
        'a poll after the restart',
        () => JSON.parse(readFileSync(state, 'utf8')).polledAt > restartedAt,
        30_000,
      );
      await watcher.idle();
      const posted = (jobId: string) =>
        watcher.output
          .split('\n')
          .filter((l) => l.includes('sacct watcher: posted') && l.split(' ').includes(`jobcomp:${jobId}`));
      expect(posted(id)).toHaveLength(1);
      expect(posted(jobs[1]!.jobId)).toHaveLength(1);
      expect(jobsOf(workload)).toHaveLength(2);
    } finally {
      await watcher.dispose();
    }
  }, 240_000);
});

describe('stalls', () => {
  it('11. a resubmission that can never start (a profile that lists the partition too generously) needs attention, with the reason', async () => {
    const workload = w('stuck');
    // The profile says "short" takes 10 minutes; Slurm's short takes 1: the retry's --time=2 never starts.
    // A person is told through a webhook that refuses its first two deliveries.
    const receiver = await noticeReceiver(2);
    const generous = {
      ...CONFIG,
      profile: { ...LAB_PROFILE, partitions: [{ ...LAB_PROFILE.partitions[0]!, maxWalltimeSeconds: 600 }] },
      notify: [{ type: 'webhook', url: `${receiver.url}/rebound` }],
    };
    const stuck = new ReboundProcess(18_797, generous, {
      match: tagged(workload),
      env: { REBOUND_SACCT_INTERVAL: '0', REBOUND_PENDING_INTERVAL: '5', REBOUND_TICK_SECONDS: '2' },
    });
    await stuck.start();
    let retryId: string | undefined;
    try {
      submit(
        ['-J', 'slow', '-p', 'short', '--time=1', `--comment=rebound:${workload}`, ...out('stuck')],
        'sleep 100',
      );
      await waitFor(
        'the verdict',
        async () => (await stuck.get<View>(`/v1/workloads/${workload}`)).body.status === 'needs-attention',
        240_000,
      );
      const history = (await stuck.get<View>(`/v1/workloads/${workload}`)).body.history.map((h) => h.line);
      expect(history).toContainEqual(
        expect.stringMatching(
          // Slurm names the first reason it finds: PartitionTimeLimit alone, PartitionConfig while other
          // jobs (the suite's others) hold the partition's node.
          /^Job \d+ \(retry 1 of 3 for job \d+'s chain\) cannot start: .+ \(Slurm: (PartitionTimeLimit|PartitionConfig)\)/,
        ),
      );
      const retry = history.map((l) => /resubmitted as job (\d+)$/.exec(l)?.[1]).find(Boolean);
      retryId = retry;
      // The same two reasons as above: which one Slurm names depends on what else holds the node.
      expect(slurm(['squeue', '-h', '-j', retry!, '-o', '%T|%l|%P|%r'])).toMatch(
        /^PENDING\|2:00\|short\|(PartitionTimeLimit|PartitionConfig)$/,
      );
      // Delivered on the third try (10 s, then 20 s of backoff), once, with the reason.
      const [notice] = await waitFor(
        'the notice',
        () => receiver.received.length > 0 && receiver.received,
        90_000,
      );
      expect(notice).toMatchObject({
        workload,
        status: 'needs-attention',
        inspect: `rebound status ${workload}`,
      });
      expect(notice!.reason.join('\n')).toMatch(
        /cannot start: its --time is above the partition's time limit/,
      );
      await waitFor(
        'a quiet minute of ticks',
        async () => {
          const view = (await stuck.get<View & { notices?: unknown[] }>(`/v1/workloads/${workload}`)).body;
          return view.notices?.length === 0;
        },
        30_000,
      );
      expect(receiver.refused).toBe(2);
      expect(receiver.received).toHaveLength(1);
    } finally {
      if (retryId) slurm(['scancel', retryId]);
      await stuck.dispose();
      await receiver.close();
    }
  }, 300_000);
});
