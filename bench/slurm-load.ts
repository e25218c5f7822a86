// What Rebound costs Slurm (issue 14): the whole embedded default (webhook, worker, relay) against the
// counting stand-ins of bench/fake-slurm.ts, with Slurm's latencies (sbatch 50 ms, scontrol 20 ms, squeue
// 50 ms, sacct 100 ms per call). Prints every call by kind and fails on a missed target:
//   A. 9,000 ends of jobs nobody tracks (untagged; 5 % failed): 0 Slurm calls beyond the polls;
//   B. 1,000 tagged ends, 500 of them out of memory: ≤ 5 calls per failed job, everything counted;
//   C. a storm: 1,000 tagged jobs fail within one second → every one resubmitted within 30 s;
//   D. no head-of-line blocking: 30 timeouts, slurmdbd holds one job's record back 20 s → every other job's
//      end → resubmission ≤ 5 s;
// and never more than the configured 4 Slurm commands at once.
import { appendFileSync, chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Event } from '../core/events.ts';
import { startLocal } from '../local/runtime.ts';
import { loadSettings } from '../local/settings.ts';
import { signedHeaders } from '../service/signature.ts';
import { FakeSlurm } from './fake-slurm.ts';
import { target, verdict } from './targets.ts';

const quick = process.argv.includes('--quick');
const fake = await new FakeSlurm().start();
chmodSync(fake.binDir, 0o755);
process.env.PATH = `${fake.binDir}:${process.env.PATH}`;

// As root it runs as a site would (site mode: each owner through runuser), otherwise for the user running it.
const root = process.getuid?.() === 0;
const owner = root ? { user: 'nobody', uid: 65534 } : { user: userInfo().username, uid: userInfo().uid };
const dataDir = mkdtempSync(join(tmpdir(), 'rebound-slurm-load-'));
const configFile = join(dataDir, 'rebound.config.json');
writeFileSync(
  configFile,
  JSON.stringify({ ...(root ? { mode: 'site', site: { minUid: 1000 } } : {}), policy: { maxRetries: 3 } }),
);
const settings = loadSettings({
  REBOUND_DATA: dataDir,
  REBOUND_PORT: '18899',
  REBOUND_CONFIG: configFile,
  REBOUND_SACCT_INTERVAL: '0',
  REBOUND_PENDING_INTERVAL: '2',
  REBOUND_TICK_SECONDS: '5',
});
const logFile = join(dataDir, 'rebound.log');
const runtime = await startLocal(settings, (line) =>
  appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`),
);
console.log(`Rebound's log: ${logFile}`);
const CLUSTER = 'bench';

const health = async () =>
  (await (await fetch(`${runtime.url}/healthz`)).json()) as {
    events: { ready: number; leased: number };
    commands: { ready: number; leased: number };
    loops: Record<string, { lastSuccessAt?: string }>;
  };
async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const idle = () =>
  until('Rebound to be idle', async () => {
    const h = await health();
    return h.events.ready + h.events.leased + h.commands.ready + h.commands.leased === 0;
  });
/** A queue-watch poll that started after now (the second to begin): the jobs added before it are known. */
async function aPoll() {
  const seen = fake.byKind['squeue (queue watch)'] ?? 0;
  await until('a queue watch poll', () => (fake.byKind['squeue (queue watch)'] ?? 0) >= seen + 2);
  await idle();
}

let nextId = 1;
const jobs = (n: number, comment: string) =>
  Array.from({ length: n }, () => {
    const id = String(nextId++);
    return fake.add({
      id,
      ...owner,
      comment,
      name: `j${id}`,
      reqMem: '100M',
      maxRss: '102000K',
      script: `#!/bin/bash\n# job ${id}\nsleep 1\n`,
    }).id;
  });
const endedAt = new Map<string, number>();
/** Ends the jobs in Slurm and posts their jobcomp events as the site hook would, `concurrency` at a time. */
async function end(ids: string[], state: (id: string) => string, concurrency = 50) {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < ids.length) {
        const id = ids[i++]!;
        fake.end(id, state(id));
        const now = Date.now();
        endedAt.set(id, now);
        const event: Event = {
          id: `jobcomp:${CLUSTER}:${id}:e${Math.floor(now / 1000)}`,
          version: 1,
          source: 'jobcomp',
          occurredAt: new Date(now).toISOString(),
          cluster: CLUSTER,
          type: 'slurm.jobcomp',
          data: {
            jobId: id,
            jobName: `j${id}`,
            state: state(id),
            exitCode: '0:0',
            endedAt: Math.floor(now / 1000),
          },
        };
        const body = JSON.stringify(event);
        const res = await fetch(`${runtime.url}/v1/events`, {
          method: 'POST',
          headers: signedHeaders(settings.secret, body),
          body,
        });
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
}
const calls = () => ({ ...fake.byKind });
const since = (before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(fake.byKind)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
const POLLS = new Set([
  'squeue (queue watch)',
  'scontrol show partition',
  'scontrol show node',
  'scontrol show config',
]);
const print = (title: string, c: Record<string, number>) => {
  console.log(title);
  for (const [k, v] of Object.entries(c).sort(([a], [b]) => a.localeCompare(b)))
    console.log(`  ${k.padEnd(40)} ${v}`);
};
/** The origin job of each resubmission (its script names it), and when it was submitted. */
const resubmittedAt = () =>
  new Map(fake.submissions.map((s) => [/# job (\d+)/.exec(fake.jobs.get(s.id)!.script)?.[1], s.at]));

try {
  await until('the cluster discovery', async () =>
    Boolean((await health()).loops['cluster discovery']?.lastSuccessAt),
  );
  const scale = quick ? 10 : 1;

  // A. Ends of jobs nobody tracks: 95 % completed, 5 % failed, none tagged.
  const untagged = jobs(9000 / scale, '');
  await aPoll();
  let before = calls();
  let t = Date.now();
  await end(untagged, (id) => (Number(id) % 20 === 0 ? 'FAILED' : 'COMPLETED'));
  console.log(`posted in ${Date.now() - t} ms`);
  t = Date.now();
  await idle();
  console.log(`idle after ${Date.now() - t} ms`);
  const a = since(before);
  print(`A. ${untagged.length} untracked job ends (5 % failed): Slurm calls by kind`, a);
  target(
    'A. Slurm calls for untracked ends, beyond the polls',
    total(Object.fromEntries(Object.entries(a).filter(([k]) => !POLLS.has(k)))),
    '<',
    1,
    'calls',
  );

  // B. Tagged ends: half completed, half out of memory.
  const tagged = jobs(1000 / scale, 'rebound:load');
  await aPoll();
  before = calls();
  const submitted = fake.submissions.length;
  await end(tagged, (id) => (Number(id) % 2 === 0 ? 'OUT_OF_MEMORY' : 'COMPLETED'));
  await until('every OOM resubmitted', () => fake.submissions.length - submitted === tagged.length / 2);
  await idle();
  const b = since(before);
  print(`B. ${tagged.length} tagged job ends (${tagged.length / 2} out of memory): Slurm calls by kind`, b);
  const perFailed = total(b) / (tagged.length / 2);
  console.log(`  per failed tagged job (every call of the phase, polls included): ${perFailed.toFixed(2)}`);
  target('B. Slurm calls per failed tagged job', perFailed, '<', 5.01, 'calls');

  // C. A storm: 1,000 tagged jobs fail within one second.
  const storm = jobs(1000 / scale, 'rebound:storm');
  await aPoll();
  before = calls();
  const stormStart = fake.submissions.length;
  const t0 = Date.now();
  await end(storm, () => 'OUT_OF_MEMORY', 200);
  const lastFailure = Date.now();
  await until('the storm resubmitted', () => fake.submissions.length - stormStart === storm.length, 180_000);
  const lastResubmission = Math.max(...fake.submissions.slice(stormStart).map((s) => s.at));
  await idle();
  const c = since(before);
  print(`C. storm: ${storm.length} failures posted in ${lastFailure - t0} ms: Slurm calls by kind`, c);
  console.log(`  per failed job: ${(total(c) / storm.length).toFixed(2)}`);
  console.log(
    `  last failure → last resubmission: ${((lastResubmission - lastFailure) / 1000).toFixed(1)} s`,
  );
  target('C. storm: last failure → last resubmission', (lastResubmission - lastFailure) / 1000, '<', 30, 's');

  // D. Head of line: slurmdbd holds one job's record back for 20 s.
  const burst = jobs(30, 'rebound:burst');
  await aPoll();
  const held = burst[0]!;
  fake.jobs.get(held)!.accountedFrom = Date.now() + 20_000;
  // Timeouts: their reading waits for sacct's record (an OOM's is slurmctld's own: core/heuristics.ts).
  await end(burst, () => 'TIMEOUT');
  const others = burst.slice(1);
  await until('the burst resubmitted', () => others.every((id) => resubmittedAt().has(id)), 60_000);
  const waits = others.map((id) => resubmittedAt().get(id)! - endedAt.get(id)!).sort((x, y) => x - y);
  const p99 = waits[Math.min(waits.length - 1, Math.ceil(waits.length * 0.99) - 1)]!;
  console.log(
    `D. 30 timeouts, one record held back 20 s: end → resubmission of the other 29 p50 ${waits[14]} ms, p99 ${p99} ms, max ${waits.at(-1)} ms`,
  );
  target('D. end → resubmission p99 with one record held back', p99 / 1000, '<', 5, 's');
  await until('the held-back job resubmitted', () => resubmittedAt().has(held), 60_000);

  console.log(`Slurm commands at once, at most: ${fake.mostAtOnce} (relay config slurmConcurrency 4)`);
  target('Slurm commands at once', fake.mostAtOnce, '<', 4.01, 'calls');
} finally {
  await runtime.stop();
  await fake.stop();
}
verdict('bench:slurm-load');
