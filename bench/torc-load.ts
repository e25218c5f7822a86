// What a watched workflow costs Torc (issue 14, target 6): the relay's forwarder against the Torc test
// double (every request counted), for a 100,000-job workflow in the middle of its run — 60,000 jobs
// completed, 1,000 failed, the rest ready, two allocations live. The forwarder's clock is a fake one
// stepped one poll (15 s) at a time. Prints the requests of a full read and of each poll once the
// workflow has settled, and what an hour of polls costs on average (the hourly full read included); then
// checks a failure that comes is still posted. Fails when an idle poll costs more than 2 requests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event } from '../core/events.ts';
import { TorcClient } from '../relay/torc-client.ts';
import { TorcForwarder } from '../relay/torc-forwarder.ts';
import { FULL_READ_MS } from '../relay/torc-quiet.ts';
import { registerWorkflow } from '../relay/torc-registry.ts';
import { TorcDouble } from '../test/support/torc-double.ts';
import { target, verdict } from './targets.ts';

const quick = process.argv.includes('--quick');
const JOBS = quick ? 10_000 : 100_000;
const POLL_MS = 15_000;

const torc = new TorcDouble();
await torc.start();
let t = Date.now();
const id = torc.createWorkflow({
  name: 'large',
  resourceRequirements: Array.from({ length: 20 }, (_, i) => ({
    name: `rr${i}`,
    memory: `${1 + i}g`,
    runtime: 'PT2H',
  })),
  jobs: Array.from({ length: JOBS }, (_, i) => ({ name: `j${i}`, command: 'true', rr: `rr${i % 20}` })),
});
torc.finishAll(id, (job) => {
  const n = job.id % 100;
  if (n < 60) return { status: 'completed', returnCode: 0 };
  if (n === 60) return { status: 'failed', returnCode: 137, peakMemoryBytes: 2 ** 30 };
  return undefined;
});
const allocations = ['7001', '7002'].map((slurmId) => {
  const scn = torc.addScheduledNode(id, 'active');
  torc.scns.get(scn)!.scheduler_id = Number(slurmId);
  return slurmId;
});
console.log(`a ${JOBS.toLocaleString()}-job workflow in the Torc double in ${Date.now() - t} ms`);

const dir = mkdtempSync(join(tmpdir(), 'rebound-torc-load-'));
registerWorkflow(join(dir, 'registry.json'), id);
let clock = Date.parse('2026-01-01T00:00:00Z');
const posted: Event[] = [];
const forwarder = new TorcForwarder({
  client: new TorcClient({ url: torc.url }),
  cluster: 'bench',
  post: async (events) => {
    posted.push(...events);
  },
  registryFile: join(dir, 'registry.json'),
  stateFile: join(dir, 'state.json'),
  log: () => {},
  slurmJobs: async () => new Set(allocations),
  now: () => new Date(clock),
});

/** One timer poll: the Torc requests it made (the event stream, opened once, is not a poll's). */
async function poll(): Promise<{ requests: number; ms: number }> {
  clock += POLL_MS;
  const before = torc.requests.length;
  const started = performance.now();
  await forwarder.sync();
  const requests = torc.requests.slice(before).filter((r) => !r.includes('/events/stream')).length;
  return { requests, ms: performance.now() - started };
}

const first = await poll();
console.log(`first poll (a full read): ${first.requests} requests, ${first.ms.toFixed(0)} ms`);
for (let i = 0; i < 100 && !torc.requests.some((r) => r.includes('/events/stream')); i++)
  await new Promise((r) => setTimeout(r, 20));
let settling = 0;
let last = await poll();
while (last.requests > 2 && settling < 10) {
  settling++;
  last = await poll();
}
console.log(`settled after ${settling + 1} more full read(s)`);
const idle: number[] = [];
for (let i = 0; i < 20; i++) idle.push((await poll()).requests);
const worst = Math.max(...idle);
console.log(`idle polls: ${idle.join(' ')} requests (worst ${worst})`);
const pollsPerHour = FULL_READ_MS / POLL_MS;
const hourly = (first.requests + (pollsPerHour - 1) * worst) / pollsPerHour;
console.log(
  `an hour of polls (${pollsPerHour}, one of them the hourly full read of ${first.requests}): ${hourly.toFixed(2)} requests per poll on average`,
);
target('requests per idle poll', worst, '<', 2.01, 'requests');
target('full reads before the workflow is idle', settling + 1, '<', 4, 'reads');

// A failure after all that: its SSE event starts a full read at once, which posts it.
const ready = torc.jobsOf(id).find((j) => j.status === 'ready')!;
t = Date.now();
await new TorcClient({ url: torc.url }).completeJob(ready.id, 'failed', 1, {
  job_id: ready.id,
  workflow_id: id,
  run_id: 1,
  attempt_id: 1,
  compute_node_id: 1,
  return_code: 137,
  exec_time_minutes: 1,
  completion_time: new Date().toISOString(),
  status: 'failed',
});
for (
  let i = 0;
  i < 600 && !posted.some((e) => e.type === 'torc.job.finished' && e.data.jobId === ready.id);
  i++
)
  await new Promise((r) => setTimeout(r, 50));
const seen = posted.some((e) => e.type === 'torc.job.finished' && e.data.jobId === ready.id);
console.log(
  `a new failure ${seen ? `posted ${Date.now() - t} ms after it was recorded` : 'NOT posted in 30 s'}`,
);
target('a new failure posted (1 = yes)', seen ? 1 : 0, '>=', 1, '');
forwarder.stop();
await torc.stop();
if (torc.violations.length) console.error(torc.violations.slice(0, 5));
target('answers off the Torc spec', torc.violations.length, '<', 1, '');
verdict('bench:torc-load');
