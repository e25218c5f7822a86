import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Event, EventSchema } from '../../core/events.ts';
import { TorcClient } from '../../relay/torc-client.ts';
import { TorcForwarder } from '../../relay/torc-forwarder.ts';
import { registerWorkflow } from '../../relay/torc-registry.ts';
import { TorcDouble } from '../support/torc-double.ts';

// The forwarder and the typed client against the Torc test double (every request and answer checked
// against torc-openapi.yaml): SSE-driven, lossless across a dropped stream and a relay restart.

const torc = new TorcDouble();
let client: TorcClient;
const dir = mkdtempSync(join(tmpdir(), 'rebound-forwarder-'));

beforeAll(async () => {
  await torc.start();
  client = new TorcClient({ url: torc.url, attempts: 2 });
});
afterAll(async () => {
  await torc.stop();
  expect(torc.violations).toEqual([]);
});

function forwarder(posted: Event[], slurmJobs?: () => Promise<Set<string>>, now?: () => Date) {
  return new TorcForwarder({
    ...(slurmJobs ? { slurmJobs } : {}),
    ...(now ? { now } : {}),
    client,
    cluster: 'lab',
    post: async (events) => {
      posted.push(...events.map((e) => EventSchema.parse(e)));
    },
    registryFile: join(dir, 'registry.json'),
    stateFile: join(dir, 'state.json'),
    log: () => {},
  });
}

async function finish(jobId: number, status: 'completed' | 'failed', returnCode: number) {
  const { run_id } = await client.status(torc.jobs.get(jobId)!.workflow_id);
  await client.completeJob(jobId, status, run_id, {
    job_id: jobId,
    workflow_id: torc.jobs.get(jobId)!.workflow_id,
    run_id,
    attempt_id: 1,
    compute_node_id: 1,
    return_code: returnCode,
    exec_time_minutes: 0.5,
    completion_time: new Date().toISOString(),
    status,
    peak_memory_bytes: 123,
  });
}

const until = async (what: string, probe: () => boolean) => {
  for (let i = 0; i < 100 && !probe(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!probe()) throw new Error(`timed out waiting for ${what}`);
};

/** A workflow of three jobs, a, b and c after a. */
const abc = (name: string) =>
  torc.createWorkflow({
    name,
    resourceRequirements: [{ name: 'small', memory: '200m', runtime: 'PT1M' }],
    jobs: [
      { name: 'a', command: 'true', rr: 'small' },
      { name: 'b', command: 'true', rr: 'small' },
      { name: 'c', command: 'true', rr: 'small', dependsOn: ['a'] },
    ],
  });

describe('Torc forwarder', () => {
  it('posts each unsuccessful result once (never a completed one), the completion after them, and nothing twice across a dropped stream and a restart', async () => {
    const id = abc('three');
    const [a, b, c] = torc.jobsOf(id).map((j) => j.id);
    registerWorkflow(join(dir, 'registry.json'), id);
    const posted: Event[] = [];
    const f = forwarder(posted);
    await f.sync();
    expect(posted.map((e) => e.type)).toEqual(['torc.workflow.census']);

    await finish(a!, 'failed', 137);
    await until('the SSE-driven job event', () => posted.some((e) => e.type === 'torc.job.finished'));
    torc.dropStreams();
    // b completes (no event for it); c is cancelled behind a.
    await finish(b!, 'completed', 0);
    // The stream reconnects (backoff) and catches up from the API.
    await until('the completion', () => posted.some((e) => e.type === 'torc.workflow.completed'));
    f.stop();

    const jobEvents = posted.filter((e) => e.type === 'torc.job.finished');
    expect(jobEvents.map((e) => e.data.jobId)).toEqual([a]);
    const completion = posted.find((e) => e.type === 'torc.workflow.completed')!;
    expect(posted.indexOf(completion)).toBeGreaterThan(Math.max(...jobEvents.map((e) => posted.indexOf(e))));
    const rr = torc.jobs.get(a!)!.resource_requirements_id;
    expect(completion).toMatchObject({
      id: `torc-complete:${id}:1`,
      data: {
        failedJobIds: [a],
        canceled: [{ id: c, rrId: rr }],
        rrSizes: { [rr]: 3 },
        page: { index: 1, count: 1 },
        runId: 1,
      },
    });
    expect(jobEvents[0]).toMatchObject({
      data: {
        returnCode: 137,
        status: 'failed',
        peakMemoryBytes: 123,
        resourceRequirements: { memory: '200m' },
      },
    });

    const again: Event[] = [];
    const restarted = forwarder(again);
    await restarted.sync();
    restarted.stop();
    expect(again.filter((e) => e.type !== 'torc.workflow.census')).toEqual([]);
  });

  it('reports an allocation Torc thinks is live but Slurm no longer has, once', async () => {
    const id = torc.createWorkflow({
      name: 'orphaned',
      resourceRequirements: [{ name: 'small', memory: '200m', runtime: 'PT1M' }],
      jobs: [{ name: 'a', command: 'true', rr: 'small' }],
    });
    const scn = torc.addScheduledNode(id, 'active');
    torc.scns.get(scn)!.scheduler_id = 4242;
    registerWorkflow(join(dir, 'registry.json'), id);
    const posted: Event[] = [];
    let queued = new Set(['4242']);
    const f = forwarder(posted, async () => queued);
    await f.sync();
    expect(posted.filter((e) => e.type === 'slurm.allocation.ended')).toEqual([]);
    queued = new Set();
    await f.sync();
    await f.sync();
    f.stop();
    expect(posted.filter((e) => e.type === 'slurm.allocation.ended')).toMatchObject([
      {
        id: `allocation-ended:${id}:4242`,
        data: { workflowId: id, slurmJobId: '4242', scheduledComputeNodeId: scn },
      },
    ]);
  });

  it('costs two requests per poll while nothing changes, and reads everything again when something does', async () => {
    const id = abc('quiet');
    const [a, b] = torc.jobsOf(id).map((j) => j.id);
    registerWorkflow(join(dir, 'registry.json'), id);
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const posted: Event[] = [];
    const f = forwarder(posted, undefined, () => new Date(clock));
    const ours = new RegExp(`(/workflows/${id}/|workflow_id=${id}(&|$))`);
    /** One timer poll, 31 s after the last: the Torc requests it made about this workflow. */
    const poll = async () => {
      clock += 31_000;
      const before = torc.requests.length;
      await f.sync();
      return torc.requests.slice(before).filter((r) => ours.test(r) && !r.includes('/events/stream'));
    };
    await f.sync();
    await until('the event stream', () =>
      torc.requests.some((r) => r.startsWith(`GET /workflows/${id}/events/stream`)),
    );
    // Full reads until Torc's background pass has had its time after the first, then two requests.
    let cost = await poll();
    for (let i = 0; i < 5 && cost.length > 2; i++) cost = await poll();
    expect(cost.sort()).toEqual([
      `GET /results?workflow_id=${id}&sort_by=id&reverse_sort=true&offset=0&limit=1`,
      `GET /workflows/${id}/status`,
    ]);
    const censuses = posted.filter((e) => e.type === 'torc.workflow.census').length;
    for (let i = 0; i < 4; i++) expect(await poll()).toHaveLength(2);
    // The census is still refreshed each minute, with no request of its own.
    expect(posted.filter((e) => e.type === 'torc.workflow.census').length).toBeGreaterThan(censuses);

    // A job ends: its event is a hint, the next poll reads everything, and so do the polls of the
    // background pass after it.
    const asked = torc.requests.length;
    await finish(b!, 'completed', 0);
    await until('the read the hint starts', () =>
      torc.requests.slice(asked).some((r) => r.startsWith(`GET /jobs?workflow_id=${id}&`)),
    );
    expect((await poll()).length).toBeGreaterThan(2);
    // A failure that comes while the stream is down is found by the full reads that follow its return.
    torc.dropStreams();
    await finish(a!, 'failed', 137);
    await until('the failure', () =>
      posted.some((e) => e.type === 'torc.job.finished' && e.data.jobId === a),
    );
    await until('the completion', () => posted.some((e) => e.type === 'torc.workflow.completed'));
    cost = await poll();
    for (let i = 0; i < 5 && cost.length > 2; i++) cost = await poll();
    expect(cost).toHaveLength(2);
    f.stop();
  });

  it('sends Basic auth from the relay config, as a --require-auth server wants', async () => {
    const locked = new TorcDouble({ auth: { username: 'alice', password: 's3cret' } });
    await locked.start();
    try {
      const id = locked.createWorkflow({ name: 'locked', resourceRequirements: [], jobs: [] });
      await expect(new TorcClient({ url: locked.url }).status(id)).rejects.toThrow(/HTTP 401: Unauthorized/);
      await expect(
        new TorcClient({ url: locked.url, username: 'alice', password: 'nope' }).status(id),
      ).rejects.toThrow(/401/);
      expect(
        await new TorcClient({ url: locked.url, username: 'alice', password: 's3cret' }).status(id),
      ).toMatchObject({ run_id: 1 });
    } finally {
      await locked.stop();
    }
    expect(locked.violations).toEqual([]);
  });

  it('pages through long lists, retries 5xx and reports Torc errors with the server message', async () => {
    const id = torc.createWorkflow({
      name: 'many',
      resourceRequirements: [{ name: 'small', memory: '1g', runtime: 'PT1M' }],
      jobs: Array.from({ length: 25 }, (_, i) => ({ name: `j${i}`, command: 'true', rr: 'small' })),
    });
    expect(await client.jobs(id)).toHaveLength(25);
    await expect(client.manageStatusChange(torc.jobsOf(id)[0]!.id, 'uninitialized', 99)).rejects.toThrow(
      /HTTP 422: run_id mismatch/,
    );
    torc.failNext(2);
    expect(await new TorcClient({ url: torc.url, attempts: 3 }).status(id)).toMatchObject({ run_id: 1 });
    torc.failNext(2);
    await expect(client.status(id)).rejects.toThrow(/HTTP 500: An internal error occurred/);
    await expect(
      new TorcClient({ url: 'http://127.0.0.1:9/torc-service/v1', attempts: 2 }).status(id),
    ).rejects.toThrow(/Torc \/workflows\/\d+\/status/);
  });
});
