import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { completed, HOG, ReboundProcess, slurm, submit, tagged, waitFor } from '../e2e/harness.ts';

// Its own phase: the controller is reconfigured with kill_invalid_depend (Slurm 22.05 reads it from
// DependencyParameters), under which Slurm cancels a job whose dependency can never be met. The cancelled dependents are resubmitted as their
// own chains once their prerequisite is, each waiting on the new job (issue 12, acceptance 4).

const RUN = Date.now().toString(36);
const workload = `killdep-${RUN}`;
const CONF = join(process.env.REBOUND_SLURM_DIR ?? '/var/tmp/rebound-slurm', 'etc', 'slurm.conf');
const original = readFileSync(CONF, 'utf8');
let rebound: ReboundProcess;

beforeAll(async () => {
  // The cluster to itself: jobs the other tiers left running finish first (the controller is reconfigured).
  await waitFor(
    'the node to be idle',
    () => slurm(['sinfo', '-h', '-n', 'vm', '-o', '%T']) === 'idle',
    240_000,
  );
  writeFileSync(CONF, `${original.trimEnd()}\nDependencyParameters=kill_invalid_depend\n`);
  slurm(['scontrol', 'reconfigure']);
  await waitFor(
    'the controller to take kill_invalid_depend',
    () => /DependencyParameters\s+= kill_invalid_depend/.test(slurm(['scontrol', 'show', 'config'])),
    30_000,
  );
  rebound = new ReboundProcess(18_804, {}, { match: tagged(workload), env: { REBOUND_SACCT_INTERVAL: '0' } });
  await rebound.start();
}, 300_000);
afterAll(async () => {
  writeFileSync(CONF, original);
  slurm(['scontrol', 'reconfigure']);
  await rebound?.dispose();
});

it('A → B (afterok:A) → C (afterok:B), A runs out of memory, Slurm cancels B and C: A, then B, then C are resubmitted, each waiting on the one before, and complete in order', async () => {
  const tag = `--comment=rebound:${workload}`;
  const out = (n: string) => ['-o', `/tmp/rebound-e2e-${RUN}-${n}-%j.out`];
  const a = submit(['-J', 'killA', '--mem=200M', tag, ...out('A')], HOG(250));
  const b = submit(['-J', 'killB', `--dependency=afterok:${a}`, tag, ...out('B')], 'sleep 1');
  const c = submit(['-J', 'killC', `--dependency=afterok:${b}`, tag, ...out('C')], 'sleep 1');
  // A job Slurm cancelled while pending is listed by `sacct -j` only (a time window leaves it out).
  const state = (id: string) => slurm(['sacct', '-n', '-P', '-X', '-j', id, '--format=State,Reason']);
  const jobs = await waitFor(
    'A, its retry and the resubmissions of B and C',
    completed(workload, 4),
    180_000,
  ).catch((error: Error) => {
    // What Rebound and Slurm knew when it did not happen, for the person reading CI's log.
    throw new Error(
      `${error.message}\nhistory:\n${rebound.cli(['history', workload])}\nsqueue:\n${slurm(['squeue', '-h', '-o', '%i %j %T %r %E'])}`,
    );
  });
  expect([state(b), state(c)]).toEqual(['CANCELLED|Dependency', 'CANCELLED|Dependency']);
  expect(jobs.map((j) => [j.name, j.state])).toEqual([
    ['killA', 'OUT_OF_MEMORY'],
    ['killA', 'COMPLETED'],
    ['killB', 'COMPLETED'],
    ['killC', 'COMPLETED'],
  ]);
  const [a2, b2, c2] = jobs.slice(1).map((j) => j.jobId);
  const times = Object.fromEntries(
    slurm(['sacct', '-n', '-P', '-X', '-j', [a2, b2, c2].join(','), '--format=JobID,Start,End'])
      .split('\n')
      .map((l) => l.split('|'))
      .map(([id, start, end]) => [id!, { start: start!, end: end! }]),
  );
  expect(times[b2!]!.start >= times[a2!]!.end).toBe(true);
  expect(times[c2!]!.start >= times[b2!]!.end).toBe(true);
  const history = rebound.cli(['history', workload]);
  // C (and B too, when its end is read before A's retry is submitted) waits for the job it waited on.
  expect(history).toMatch(
    new RegExp(
      `cancelled by Slurm because a job it waited on \\(afterok:(${a}|${b})\\) failed: resubmitted once that job is`,
    ),
  );
  expect(history).toContain(`resubmitted to wait on its resubmission (afterok:${a2})`);
  expect(history).toContain(`resubmitted to wait on its resubmission (afterok:${b2})`);
}, 240_000);
