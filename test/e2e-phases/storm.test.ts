import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { slurmLocalTime } from '../../relay/slurm.ts';
import { HOG, ReboundProcess, slurm, submit, tagged, waitFor } from '../e2e/harness.ts';

// Issue 14 on the real test cluster, in its own phase (a hundred jobs at once would slow the concurrent
// suites, and their timings would slow these): a failure storm is resubmitted about as fast as Slurm takes
// submissions, and a job whose accounting record is late holds up no other job's retry.

const RUN = Date.now().toString(36);
const STORM = `storm-${RUN}`;
const LATE = `late-${RUN}`;
const OUT = ['-o', '/dev/null'];
// Partition "storm" (scripts/slurm-env.sh) lets 32 jobs share each CPU; only account "storm" may use it.
const STORM_PARTITION = ['-p', 'storm', '-A', 'storm'];

/** A `sacct` in front of the real one that leaves out one job's records until a moment (as a slow slurmdbd). */
function lateSacct(): { dir: string; hold: (jobId: string, forMs: number) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rebound-late-sacct-'));
  chmodSync(dir, 0o755);
  const holdFile = join(dir, 'hold');
  writeFileSync(holdFile, '', { mode: 0o644 });
  const real = slurm(['sh', '-c', 'command -v sacct']).trim();
  writeFileSync(
    join(dir, 'sacct'),
    `#!/bin/bash
read -r job until < ${holdFile}
if [[ -n $job && $(date +%s) -lt $until ]]; then
  ${real} "$@" | grep -v -E "^$job([.]|$(printf '\\x1f')|[|])"
  exit "\${PIPESTATUS[0]}"
fi
exec ${real} "$@"
`,
    { mode: 0o755 },
  );
  return {
    dir,
    hold: (jobId, forMs) => writeFileSync(holdFile, `${jobId} ${Math.ceil((Date.now() + forMs) / 1000)}\n`),
  };
}

const late = lateSacct();
let rebound: ReboundProcess;
beforeAll(async () => {
  rebound = new ReboundProcess(
    18_806,
    // One retry each: the storm's retries (more memory, still too little) must not keep failing under the next test.
    // A failure of LATE (exit 1, unknown) is retried as it was: its reading waits for sacct's record (an OOM's
    // need not: core/heuristics.ts peakMayMatter).
    { policy: { overrides: { [STORM]: { maxRetries: 1 }, [LATE]: { maxRetries: 1, retryUnknown: true } } } },
    {
      match: tagged(STORM, LATE),
      partition: 'storm',
      env: { REBOUND_SACCT_INTERVAL: '0', PATH: `${late.dir}:${process.env.PATH}` },
    },
  );
  await rebound.start();
}, 30_000);
/** The retries need not run: cancel whatever of this run's workload is still queued or running. */
function cancel(workload: string) {
  const ids = slurm(['squeue', '-h', '-u', 'alice', '-o', '%i %k'])
    .split('\n')
    .filter((l) => l.includes(`rebound:${workload}`))
    .map((l) => l.split(' ')[0]!);
  if (ids.length) slurm(['scancel', ...ids]);
}
afterAll(async () => {
  cancel(STORM);
  cancel(LATE);
  await rebound?.dispose();
});

/** Slurm's times (whole seconds, local time without a zone) as epoch ms. */
const at = (slurmTime: string) => new Date(slurmTime).getTime();
/** The job a retry was submitted for: its comment carries the command's id, `<cluster>:<job>:a<n>`. */
const origin = (comment: string) => /\/[^:]+:(\d+):a\d+/.exec(comment)?.[1];

function times(workload: string) {
  const out = slurm(['sacct', '-n', '-P', '-X', '-S', 'now-1hours', '--format=JobID,Submit,End,Comment']);
  const rows = out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [jobId, submitted, ended, ...comment] = l.split('|');
      return { jobId: jobId!, submitted: at(submitted!), ended: at(ended!), comment: comment.join('|') };
    })
    .filter((r) => r.comment === `rebound:${workload}` || r.comment.startsWith(`rebound:${workload}/`));
  const originals = rows.filter((r) => r.comment === `rebound:${workload}`);
  const retries = rows.filter((r) => r.comment !== `rebound:${workload}`);
  return { originals, retries, retryOf: new Map(retries.map((r) => [origin(r.comment), r])) };
}

it("100 tagged jobs that run out of memory together are all resubmitted within 30 s (2 × a plain loop of 100 sbatch, the issue's yardstick, is printed, not met)", async () => {
  // The yardstick: 100 sbatch calls one after another on the same cluster, now (held, never run).
  const loopStart = Date.now();
  const held = Array.from({ length: 100 }, () =>
    submit([...STORM_PARTITION, '--hold', '--mem=10M', '-J', `loop-${RUN}`, ...OUT], 'true'),
  );
  const loopMs = Date.now() - loopStart;
  slurm(['scancel', ...held]);
  // Their ends (partition storm routes here) are read and recorded before the storm: its calls alone below.
  const before = (await rebound.idle()).slurmCalls;

  // The storm: 100 jobs that start together (one begin time) and run out of memory within seconds.
  const begin = slurmLocalTime(Date.now() + 15_000);
  for (let i = 0; i < 100; i++)
    submit(
      [
        ...STORM_PARTITION,
        `--begin=${begin}`,
        '--mem=20M',
        '-J',
        `storm-${i}`,
        `--comment=rebound:${STORM}`,
        ...OUT,
      ],
      HOG(60),
    );
  const storm = await waitFor(
    'all 100 resubmitted',
    () => {
      const t = times(STORM);
      return t.originals.length === 100 && t.originals.every((o) => t.retryOf.has(o.jobId)) && t;
    },
    240_000,
  );
  const retryOf = (id: string) => storm.retryOf.get(id)!;
  const lastFailure = Math.max(...storm.originals.map((r) => r.ended));
  const firstFailure = Math.min(...storm.originals.map((r) => r.ended));
  const lastResubmission = Math.max(...storm.originals.map((r) => retryOf(r.jobId).submitted));
  const tookMs = lastResubmission - lastFailure;
  console.log(
    `storm: 100 failures within ${(lastFailure - firstFailure) / 1000} s; last failure → last resubmission ${tookMs / 1000} s; a plain loop of 100 sbatch: ${loopMs / 1000} s`,
  );
  cancel(STORM);
  const waits = storm.originals.map((r) => retryOf(r.jobId).submitted - r.ended).sort((a, b) => a - b);
  console.log(`storm: end → resubmission p50 ${waits[49]! / 1000} s, p99 ${waits[98]! / 1000} s`);
  const calls = Object.entries((await rebound.health()).slurmCalls)
    .map(([command, n]) => [command, n - (before[command] ?? 0)] as const)
    .filter(([, n]) => n > 0);
  console.log(
    `storm: the relay's Slurm commands meanwhile (the retries' own ends included): ${calls.map(([c, n]) => `${c} ${n}`).join(', ')}`,
  );
  if (process.env.DEBUG_STORM) console.log(rebound.output);
  // The issue's yardstick (2 × the loop) is printed above; on the lab, where an idle sbatch takes ~4 ms, it
  // is not met: the ends reach the relay within a second, but its 4 Slurm slots stay busy for seconds while
  // slurmctld is loaded by the storm itself (an sbatch then takes ~80 ms; README "Performance" has the
  // breakdown). What is held: the bench's storm bound (bench/slurm-load.ts), for a hundred real jobs.
  expect(tookMs).toBeLessThan(30_000);
}, 300_000);

it('a job whose accounting record is 20 s late holds up no other: every other job end → retry ≤ 5 s', async () => {
  const ids = Array.from({ length: 10 }, (_, i) =>
    submit(['-J', `late-${i}`, `--comment=rebound:${LATE}`, ...OUT], 'sleep 2; exit 1'),
  );
  late.hold(ids[0]!, 20_000);
  const burst = await waitFor(
    'the nine others resubmitted',
    () => {
      const t = times(LATE);
      return ids.slice(1).every((id) => t.retryOf.has(id)) && t;
    },
    120_000,
  );
  const waits = burst.originals
    .filter((r) => r.jobId !== ids[0])
    .map((r) => burst.retryOf.get(r.jobId)!.submitted - r.ended)
    .sort((a, b) => a - b);
  console.log(`late record: the other 9 jobs' end → resubmission ${waits.map((w) => w / 1000).join(', ')} s`);
  if (process.env.DEBUG_STORM) console.log(rebound.output);
  expect(waits.at(-1)).toBeLessThanOrEqual(5000);
  // And the late one is recovered once its record arrives.
  const own = await waitFor('the late job resubmitted', () => times(LATE).retryOf.get(ids[0]!), 90_000);
  const its = times(LATE).originals.find((r) => r.jobId === ids[0])!;
  expect(own.submitted - its.ended).toBeGreaterThanOrEqual(15_000);
  const all = times(LATE);
  expect(all.originals.length + all.retries.length).toBe(20);
}, 240_000);
