import { describe, expect, it } from 'vitest';
import type { CommandOf } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { ManualRecoverySchema } from '../../core/manual.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { ingest } from '../../service/ingest.ts';
import { requestRecovery, requestSync } from '../../service/person-requests.ts';
import { type TestDeps, testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';
import { MemoryQueue } from '../support/memory-queue.ts';

// A person's recovery by hand and orphan clean-up, on in-memory ports: the API's answer, then the
// worker's handling of the queued request — through the same claims as an automatic attempt.

const ALICE = { by: 'alice', via: 'cli' as const };
const request = (r: Record<string, unknown> = {}) => ManualRecoverySchema.parse(r);

function withEvents(deps: TestDeps) {
  const events = new MemoryQueue<Event>();
  return { ...deps, events };
}

const resubmits = (deps: TestDeps) =>
  deps.commands.sent().filter((c) => c.type === 'slurm.resubmit') as CommandOf<'slurm.resubmit'>[];
const lines = async (deps: TestDeps, workload: string) =>
  (await deps.store.listHistory(workload)).map((h) => h.line);

/** Job 77 runs out of memory; its retries (78, 79) too, until max retries (2) stops the chain. */
async function exhausted() {
  const deps = testDeps({ policy: { maxRetries: 2 } });
  await handleEvent(deps, sacctEvent('77'));
  let id = 77;
  for (const attempt of [1, 2]) {
    const c = resubmits(deps).at(-1)!;
    id++;
    await handleEvent(deps, resultEvent(c, { slurmJobIds: [String(id)] }));
    await handleEvent(deps, {
      ...sacctEvent(String(id), {
        reqMem: c.resources.mem!,
        maxRss: '2G',
        comment: `rebound:nightly/lab:77:a${attempt}`,
      }),
    });
  }
  expect((await deps.store.getWorkload('nightly'))?.status).toBe('exhausted');
  return withEvents(deps);
}

async function handleQueued(deps: ReturnType<typeof withEvents>) {
  for (const m of await deps.events.receive(10, 30)) {
    await handleEvent(deps, m.body);
    await deps.events.delete(m.receipt);
  }
}

describe('rebound recover, plain Slurm', () => {
  it('after max retries: one attempt by hand with the multiplier given, recorded as manual and not counted', async () => {
    const deps = await exhausted();
    expect((await lines(deps, 'nightly')).at(-1)).toMatch(/^By hand: `rebound recover nightly`/);
    const w = (await deps.store.getWorkload('nightly'))!;
    const answer = await requestRecovery(deps, w, request({ memoryMultiplier: 3 }), ALICE);
    expect(answer).toMatchObject({ outcome: 'started', requestId: expect.any(String) });
    expect(answer.plans[0]).toMatchObject({ attempt: 3, manual: { by: 'alice', automaticUsed: 2 } });

    const sentBefore = deps.commands.sent().length;
    await handleQueued(deps);
    const c = resubmits(deps).at(-1)!;
    // 79 asked for 3G (78's 2G peak x 1.5) and was killed at it: x3 of that, not the policy's x1.5.
    expect(c).toMatchObject({ id: 'lab:77:a3', jobId: '79', resources: { mem: '9G' } });
    expect(deps.commands.sent()).toHaveLength(sentBefore + 1);
    expect(await deps.store.countAttempts('lab:77')).toEqual({ claimed: 3, manual: 1 });
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('recovering');
    const history = await lines(deps, 'nightly');
    expect(history).toContain(
      `Request ${answer.requestId}: recovery by hand by alice via the CLI (memory x3)`,
    );
    expect(
      history.some((l) => l.startsWith('Manual recovery attempt 3 for nightly, by alice via the CLI')),
    ).toBe(true);

    // Delivered again after a crash before it was marked handled (another id, so not skipped as handled):
    // the same command again (deduplicated downstream), never a fourth attempt.
    await handleEvent(deps, { ...requestEventOf(deps, answer.requestId!), id: 'request:redelivered' });
    expect(resubmits(deps).at(-1)?.id).toBe('lab:77:a3');
    expect(new Set(resubmits(deps).map((x) => x.id))).toEqual(
      new Set(['lab:77:a1', 'lab:77:a2', 'lab:77:a3']),
    );
    expect(await deps.store.countAttempts('lab:77')).toEqual({ claimed: 3, manual: 1 });

    // Its result links the new job; asked again, there is nothing to do: the retry is under way.
    await handleEvent(deps, resultEvent(c, { slurmJobIds: ['80'] }));
    expect(await deps.store.getJob('lab:80')).toMatchObject({ lineage: 'lab:77', attempt: 3 });
    const again = await requestRecovery(deps, (await deps.store.getWorkload('nightly'))!, request(), ALICE);
    expect(again.outcome).toBe('nothing-to-do');
  });

  it('automatic recovery resumes after a manual attempt, with the retries it had', async () => {
    const deps = withEvents(testDeps());
    // An unknown cause stops automatic recovery; the person includes it by hand.
    await handleEvent(deps, sacctEvent('77', { state: 'FAILED', exitCode: '3:0', maxRss: '10M' }));
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
    const w = (await deps.store.getWorkload('nightly'))!;
    const answer = await requestRecovery(deps, w, request({ retryUnknown: true }), ALICE);
    expect(answer.outcome).toBe('started');
    await handleQueued(deps);
    const manual = resubmits(deps).at(-1)!;
    expect(manual).toMatchObject({ id: 'lab:77:a1', jobId: '77' });
    await handleEvent(deps, resultEvent(manual, { slurmJobIds: ['78'] }));
    // Its retry runs out of memory: an automatic attempt follows (numbered after the manual one).
    await handleEvent(deps, sacctEvent('78', { comment: 'rebound:nightly/lab:77:a1' }));
    expect(resubmits(deps).at(-1)).toMatchObject({ id: 'lab:77:a2', jobId: '78' });
    expect(
      (await lines(deps, 'nightly')).some((l) =>
        l.startsWith(
          "Job 78 (hog) (retry 1 for job 77's chain, 1 of them by hand (not counted against max retries 3)): oom",
        ),
      ),
    ).toBe(true);
    expect((await lines(deps, 'nightly')).some((l) => l.startsWith('Recovery attempt 2/3 for nightly'))).toBe(
      true,
    );
  });

  it('a dry run plans and changes nothing; bad requests change nothing either', async () => {
    const deps = await exhausted();
    const w = (await deps.store.getWorkload('nightly'))!;
    const before = JSON.stringify([await deps.store.listAttempts('nightly'), await lines(deps, 'nightly')]);
    const dry = await requestRecovery(deps, w, request({ memoryMultiplier: 3, dryRun: true }), ALICE);
    expect(dry).toMatchObject({ outcome: 'started', plans: [{ outcome: 'recover' }] });
    expect(dry.requestId).toBeUndefined();
    expect(await deps.events.receive(10, 30)).toEqual([]);
    const unknownJob = await requestRecovery(deps, w, request({ job: '12345' }), ALICE);
    expect(unknownJob).toMatchObject({ outcome: 'unknown-job', lines: ['no job 12345 in nightly'] });
    const earlier = await requestRecovery(deps, w, request({ job: '77' }), ALICE);
    expect(earlier.outcome).toBe('unknown-job');
    expect(earlier.lines[0]).toMatch(/not the latest of its chain/);
    expect(JSON.stringify([await deps.store.listAttempts('nightly'), await lines(deps, 'nightly')])).toBe(
      before,
    );
    expect(ManualRecoverySchema.safeParse({ memoryMultiplier: -2 }).success).toBe(false);
    expect(ManualRecoverySchema.safeParse({ recoveryHook: 'rm -rf /' }).success).toBe(false);
    expect(ManualRecoverySchema.safeParse({ owner: 'mallory' }).success).toBe(false);
  });

  it('says when nothing can be recovered (exit 1), as the planner does', async () => {
    const deps = withEvents(testDeps());
    await handleEvent(deps, sacctEvent('77', { state: 'FAILED', exitCode: '3:0', maxRss: '10M' }));
    const w = (await deps.store.getWorkload('nightly'))!;
    const answer = await requestRecovery(deps, w, request(), ALICE);
    expect(answer.outcome).toBe('nothing-recoverable');
    expect(answer.lines).toContain('No recoverable jobs found. 1 job(s) failed with unknown causes.');
  });
});

describe('rebound recover and sync, Torc', () => {
  it('is not allowed while a run waits for live allocations; sync goes to the relay', async () => {
    const deps = withEvents(testDeps());
    await deps.store.putWorkload(
      {
        key: 'torc-wf5',
        kind: 'torc',
        status: 'watching',
        updatedAt: 't',
        cluster: 'lab',
        lastRun: 1,
        waiting: { runId: 1, since: 't', occurredAt: 't', live: 2 },
      },
      undefined,
    );
    const w = (await deps.store.getWorkload('torc-wf5'))!;
    const answer = await requestRecovery(deps, w, request(), ALICE);
    expect(answer.outcome).toBe('not-allowed');
    expect(answer.lines[0]).toMatch(/2 allocation\(s\) still pending or running.*rebound sync torc-wf5/);

    const sync = await requestSync(deps, w, true, ALICE);
    expect(sync).toMatchObject({ outcome: 'sent', requestId: expect.any(String) });
    await handleQueued(deps);
    const c = deps.commands.sent().at(-1)!;
    expect(c).toMatchObject({ type: 'torc.sync', workflowId: 5, dryRun: true, protocol: 4 });
    expect(c.id).toBe(`sync:${sync.requestId}`);
    await handleEvent(
      deps,
      resultEvent(c, { output: 'No orphans found: 0 allocation(s) Torc counts as live, all known to Slurm' }),
    );
    expect((await lines(deps, 'torc-wf5')).at(-1)).toBe(
      `${c.id}: No orphans found: 0 allocation(s) Torc counts as live, all known to Slurm`,
    );
  });

  it('a plain workload has nothing of the kind to sync', async () => {
    const deps = withEvents(testDeps());
    await handleEvent(deps, sacctEvent('77'));
    const sync = await requestSync(deps, (await deps.store.getWorkload('nightly'))!, false, ALICE);
    expect(sync.outcome).toBe('nothing-to-do');
    expect(sync.lines[0]).toMatch(/plain Slurm workload: there is nothing of the kind to sync/);
  });
});

describe('the webhook never takes a person request', () => {
  it('refuses person.request from outside, naming the field', async () => {
    const queue = new MemoryQueue<Event>();
    const event = {
      id: 'request:abcdefgh',
      version: 1,
      source: 'hook',
      occurredAt: '2026-11-30T12:00:00Z',
      cluster: 'lab',
      type: 'person.request',
      data: {
        action: 'recover',
        workload: 'nightly',
        mark: { by: 'root', via: 'cli', requestId: 'abcdefgh' },
        request: {},
      },
    };
    expect(await ingest(queue, JSON.stringify(event))).toEqual({
      ok: false,
      errors: [
        `event.type: "person.request" is made by the service from a person's token, never accepted here`,
      ],
    });
    expect(await queue.receive(10, 30)).toEqual([]);
  });
});

function requestEventOf(deps: TestDeps, requestId: string): Event {
  return {
    id: `request:${requestId}`,
    version: 1,
    source: 'service:api',
    occurredAt: deps.now().toISOString(),
    cluster: 'service',
    type: 'person.request',
    data: {
      action: 'recover',
      workload: 'nightly',
      mark: { by: 'alice', via: 'cli', requestId },
      request: request({ memoryMultiplier: 3 }),
    },
  };
}
