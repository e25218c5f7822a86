import { describe, expect, it } from 'vitest';
import type { CommandOf } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { handleEvent, handleEvents } from '../../service/dispatch.ts';
import { planWorkload, workloadView } from '../../service/status.ts';
import { sentIds, type TestDeps, testDeps } from '../support/deps.ts';
import { loadEvent, resultEvent, sacctEvent } from '../support/events.ts';

// The plain-Slurm path through the service, on in-memory ports: job end → enrich → sacct decision →
// resubmission → its result links the new job to the chain → the new job's end continues (or ends) it.

const sacct = sacctEvent;
const result = resultEvent;

const lastResubmit = (deps: TestDeps) => {
  const c = deps.commands
    .sent()
    .filter((x) => x.type === 'slurm.resubmit')
    .at(-1);
  if (!c) throw new Error('no resubmission sent');
  return c as CommandOf<'slurm.resubmit'>;
};
const lines = async (deps: TestDeps, workload: string) =>
  (await deps.store.listHistory(workload)).map((h) => h.line);

describe('plain Slurm recovery in the service', () => {
  it('a job end becomes one enrich command and no write; its decision waits for sacct', async () => {
    const deps = testDeps();
    const end = loadEvent('jobcomp/oom', 'slurm.jobcomp');
    await handleEvents(deps, [end, end]);
    // The enrichment of this run of the job (its end, from the event's END).
    expect(sentIds(deps)).toEqual(['enrich:lab:2:e1795619549']);
    // Handled twice, it asked once: a job's end needs no processed mark (service/dispatch.ts).
    expect(await deps.store.wasProcessed(end.id)).toBe(false);
    // What the end says goes with it, for a reading the relay makes without accounting (a job Slurm
    // queued again, one nobody tags): the end itself is not written (a write each in AWS).
    expect(deps.commands.sent()[0]).toMatchObject({
      type: 'slurm.enrich',
      jobId: '2',
      protocol: 2,
      state: 'OUT_OF_MEMORY',
      jobName: 'oom',
      exitCode: '0:125',
    });
    expect(await deps.store.getJob('lab:2')).toBeUndefined();
  });

  it('an OOM is resubmitted with more memory, once, and the result links the new job to its chain', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('77'));
    const c = lastResubmit(deps);
    expect(c).toMatchObject({
      id: 'lab:77:a1',
      jobId: '77',
      workload: 'nightly',
      resources: { mem: '375M' },
    });
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('recovering');

    await handleEvent(deps, result(c, { slurmJobIds: ['78'], output: 'submitted 78' }));
    expect(await deps.store.getJob('lab:78')).toMatchObject({
      lineage: 'lab:77',
      attempt: 1,
      workload: 'nightly',
    });
    expect(await lines(deps, 'nightly')).toContain('Attempt 1: job 77 resubmitted as job 78');

    // The retry fails too: attempt 2 of the same chain resubmits job 78, not 77.
    await handleEvent(
      deps,
      sacct('78', { reqMem: '300M', maxRss: '330M', comment: 'rebound:nightly/lab:77:a1' }),
    );
    expect(lastResubmit(deps)).toMatchObject({ id: 'lab:77:a2', jobId: '78', resources: { mem: '495M' } });
    const history = await lines(deps, 'nightly');
    expect(history.some((l) => l.startsWith("Job 78 (hog) (retry 1 of 3 for job 77's chain): oom"))).toBe(
      true,
    );
    expect(history.join('\n')).not.toContain('undefined');
  });

  it('a retry that completes makes the workload healthy', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('77'));
    await handleEvent(deps, result(lastResubmit(deps), { slurmJobIds: ['78'] }));
    await handleEvent(
      deps,
      sacct('78', { state: 'COMPLETED', exitCode: '0:0', comment: 'rebound:nightly/lab:77:a1' }),
    );
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('healthy');
    expect(await lines(deps, 'nightly')).toContain(
      "Job 78 (hog) (retry 1 of 3 for job 77's chain): completed",
    );
  });

  it("a retry's completed end is read, then decided once; a later run of the job is decided afresh", async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('77'));
    await handleEvent(deps, result(lastResubmit(deps), { slurmJobIds: ['78'] }));
    const sent = deps.commands.sent().length;
    const end = (jobId: string, state: string, endedAt = 1): Event => ({
      ...sacct(jobId),
      id: `jobcomp:lab:${jobId}:e${endedAt}`,
      source: 'jobcomp',
      type: 'slurm.jobcomp',
      data: { jobId, jobName: 'hog', state, exitCode: '0:0', endedAt },
    });
    const retry = await deps.store.getJob('lab:78');
    await handleEvents(deps, [end('78', 'COMPLETED'), end('78', 'COMPLETED')]);
    // Asked to read it, once; nothing written until the reading says.
    expect(
      deps.commands
        .sent()
        .slice(sent)
        .map((c) => c.id),
    ).toEqual(['enrich:lab:78:e1']);
    expect(await deps.store.getJob('lab:78')).toEqual(retry);
    const reading = sacct('78', {
      state: 'COMPLETED',
      exitCode: '0:0',
      maxRss: '120M',
      comment: 'rebound:nightly/lab:77:a1',
      endedAt: 1,
    });
    await handleEvents(deps, [reading, reading]);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('healthy');
    expect(await deps.store.getJob('lab:78')).toMatchObject({
      decided: true,
      runEndedAt: 1,
      evidence: { peakMemoryBytes: 120 * 1024 * 1024 },
    });
    const completedLines = async () => (await lines(deps, 'nightly')).filter((l) => l.endsWith('completed'));
    expect(await completedLines()).toEqual(["Job 78 (hog) (retry 1 of 3 for job 77's chain): completed"]);
    // Settled by the job's record, decided: no processed mark; its repeat decided nothing again.
    expect(await deps.store.wasProcessed(reading.id)).toBe(false);
    expect(deps.commands.sent()).toHaveLength(sent + 1);
    // The same run's end again: nothing. A later run (Slurm ran the job again): its own end, read afresh.
    await handleEvent(deps, end('78', 'COMPLETED'));
    expect(deps.commands.sent()).toHaveLength(sent + 1);
    await handleEvent(deps, end('78', 'OUT_OF_MEMORY', 2));
    expect(deps.commands.sent().at(-1)).toMatchObject({ id: 'enrich:lab:78:e2' });
    expect(await deps.store.getJob('lab:78')).toMatchObject({ decided: false, runEndedAt: 2, evidence: {} });
    // An earlier run's reading arriving late changes nothing.
    await handleEvent(deps, { ...reading, id: 'sacct:lab:78:e1:late' });
    expect(await deps.store.getJob('lab:78')).toMatchObject({ decided: false, runEndedAt: 2, evidence: {} });
    // A job that is no retry of Rebound's (a tagged job the queue watch saw) is still read first.
    await handleEvent(deps, {
      ...sacct('90'),
      id: 'tracked:lab:1',
      source: 'relay:queue',
      type: 'slurm.tracked',
      data: { jobs: [{ jobId: '90', jobName: 'fine' }] },
    });
    await handleEvent(deps, end('90', 'COMPLETED'));
    expect(deps.commands.sent().at(-1)).toMatchObject({ type: 'slurm.enrich', jobId: '90' });
  });

  it('stops at max retries: exhausted, with the reason in history, and nothing more submitted', async () => {
    const deps = testDeps({ policy: { maxRetries: 1 } });
    await handleEvent(deps, sacct('77'));
    await handleEvent(deps, result(lastResubmit(deps), { slurmJobIds: ['78'] }));
    await handleEvent(deps, sacct('78', { reqMem: '300M', comment: 'rebound:nightly/lab:77:a1' }));
    expect(deps.commands.sent().filter((c) => c.type === 'slurm.resubmit')).toHaveLength(1);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('exhausted');
    expect((await lines(deps, 'nightly')).join('\n')).toMatch(/max retries/i);
  });

  it('a failed submission needs attention, with the relay’s reason', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('77'));
    await handleEvent(
      deps,
      result(lastResubmit(deps), { ok: false, error: 'sbatch: error: invalid partition' }),
    );
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
    expect(await lines(deps, 'nightly')).toContain(
      'Attempt 1 failed to submit job 77 again: sbatch: error: invalid partition',
    );
  });

  it('an untagged job is recorded only; a reserved tag is no tag', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('5', { comment: '' }));
    await handleEvent(deps, sacct('6', { comment: 'rebound:torc-wf42' }));
    expect(deps.commands.sent()).toEqual([]);
    expect(await lines(deps, '~untagged')).toEqual([
      expect.stringMatching(/^Job 5 \(hog\): oom .*not tagged/),
      expect.stringMatching(/^Job 6 \(hog\): oom .*not tagged/),
    ]);
  });

  it('a job whose comment claims a chain that Rebound did not submit it into joins nothing', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('77'));
    await handleEvent(deps, result(lastResubmit(deps), { slurmJobIds: ['78'] }));
    // Another job, not submitted by Rebound, with the comment of attempt 1 (or of another workload's).
    await handleEvent(deps, sacct('90', { comment: 'rebound:nightly/lab:77:a1' }));
    await handleEvent(deps, sacct('91', { comment: 'rebound:other/lab:77:a1' }));
    expect(await deps.store.getJob('lab:90')).toMatchObject({ lineage: 'lab:90', attempt: 0 });
    expect(await deps.store.getJob('lab:91')).toMatchObject({
      lineage: 'lab:91',
      attempt: 0,
      workload: 'other',
    });
    // The chain's attempts are its own: job 90's failure made a chain of its own, not attempt 2 of 77's.
    expect(await deps.store.countAttempts('lab:77')).toEqual({ claimed: 1, manual: 0 });
    expect(lastResubmit(deps)).toMatchObject({ id: 'lab:91:a1', jobId: '91' });
  });

  it('an unknown failure needs attention and the plan says why; the dry-run changes nothing', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('9', { state: 'FAILED', exitCode: '3:0', maxRss: '10M' }));
    expect(deps.commands.sent()).toEqual([]);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
    const before = JSON.stringify([...deps.store.attempts]);
    const [plan] = await planWorkload(deps, 'nightly');
    expect(plan).toMatchObject({ outcome: 'stop', stopReason: 'nothing-recoverable' });
    expect(JSON.stringify([...deps.store.attempts])).toBe(before);
    const view = await workloadView(deps, 'nightly');
    expect(view).toMatchObject({ status: 'needs-attention', counts: { unknown: 1 } });
  });

  it('an enrichment that failed is written to its workload’s history', async () => {
    const deps = testDeps();
    await handleEvent(
      deps,
      result(
        { id: 'enrich:lab:3', type: 'slurm.enrich', workload: '~untagged' },
        { ok: false, error: 'sacct has no final record of job 3' },
      ),
    );
    expect(await lines(deps, '~untagged')).toEqual([
      'Command enrich:lab:3 failed: sacct has no final record of job 3',
    ]);
  });

  describe('owners', () => {
    const alice = { uid: 1501, user: 'alice' };

    it("another user's job (the relay says why) is recorded as ~foreign and never recovered", async () => {
      const deps = testDeps();
      const reason = 'owned by mallory (uid 1502), not by alice, the user this Rebound runs as';
      await handleEvent(deps, sacct('90', { owner: { uid: 1502, user: 'mallory' }, foreign: reason }));
      expect(sentIds(deps)).toEqual([]);
      expect(await deps.store.getJob('lab:90')).toMatchObject({ workload: '~foreign', decided: true });
      expect((await deps.store.getWorkload('~foreign'))?.status).toBe('watching');
      expect(await lines(deps, '~foreign')).toEqual([
        `Job 90 (hog): oom; ${reason}: recorded only, never recovered`,
      ]);
      expect(await deps.store.getWorkload('nightly')).toBeUndefined();
    });

    it('a tagged allocation comment from a foreign job cleans nothing up', async () => {
      const deps = testDeps();
      const comment = 'rebound:torc-wf5/torc-wf5:a1:3-allocations:small:1';
      await handleEvent(deps, sacct('91', { comment, foreign: 'owned by mallory (uid 1502), …' }));
      expect(sentIds(deps)).toEqual([]);
    });

    it('site mode: the owner is part of the workload, and a relay that names no owner acts for nobody', async () => {
      const deps = testDeps({ mode: 'site' });
      await handleEvent(deps, sacct('92', { owner: alice }));
      const c = lastResubmit(deps);
      expect(c.workload).toBe('nightly@alice');
      expect(c.comment).toMatch(/^rebound:nightly\/lab:92:a1\.[0-9a-f]{16}$/);
      expect((await deps.store.getWorkload('nightly@alice'))?.status).toBe('recovering');

      await handleEvent(deps, sacct('93'));
      expect(await deps.store.getJob('lab:93')).toMatchObject({ workload: '~foreign' });
      expect((await lines(deps, '~foreign'))[0]).toMatch(/did not report whose job it is/);
    });

    it("the chain's nonce is random, kept across a redelivery, and inherited by the retry", async () => {
      const deps = testDeps();
      await handleEvent(deps, sacct('94', { owner: alice }));
      const first = lastResubmit(deps);
      const nonce = (await deps.store.getJob('lab:94'))?.nonce;
      expect(nonce).toMatch(/^[0-9a-f]{16}$/);
      expect(first.comment).toBe(`rebound:nightly/lab:94:a1.${nonce}`);
      // Another chain gets another nonce.
      await handleEvent(deps, sacct('95', { owner: alice }));
      expect((await deps.store.getJob('lab:95'))?.nonce).not.toBe(nonce);
      // The retry carries the chain's nonce: its own failure's tag is the chain's next.
      await handleEvent(deps, result(first, { slurmJobIds: ['96'] }));
      expect((await deps.store.getJob('lab:96'))?.nonce).toBe(nonce);
      await handleEvent(
        deps,
        sacct('96', { owner: alice, reqMem: '375M', maxRss: '380M', comment: first.comment }),
      );
      expect(lastResubmit(deps).comment).toBe(`rebound:nightly/lab:94:a2.${nonce}`);
    });

    it('a crash after the claim, before the job is marked decided: the redelivery resends the same tag', async () => {
      const deps = testDeps();
      const put = deps.store.putJob.bind(deps.store);
      let crashed = false;
      deps.store.putJob = async (job) => {
        if (job.decided && !crashed) {
          crashed = true;
          throw new Error('the worker stopped here');
        }
        return put(job);
      };
      // Every resubmission offered to the queue, repeats included (the queue keeps the first of an id).
      const offered: string[] = [];
      const sendCommands = deps.commands.send.bind(deps.commands);
      deps.commands.send = async (messages) => {
        for (const { body } of messages) if (body.type === 'slurm.resubmit') offered.push(body.comment);
        return sendCommands(messages);
      };
      await expect(handleEvent(deps, sacct('99', { owner: alice }))).rejects.toThrow('stopped here');
      // The claim was made; the job's record, decided, was not written (no nonce on it), nor the command sent.
      expect((await deps.store.getJob('lab:99'))?.nonce).toBeUndefined();
      expect(offered).toEqual([]);
      await handleEvent(deps, sacct('99', { owner: alice }));
      const nonce = (await deps.store.getJob('lab:99'))?.nonce;
      expect(offered).toEqual([`rebound:nightly/lab:99:a1.${nonce}`]);
      expect((await deps.store.findAttemptByCommand(lastResubmit(deps).id))?.nonce).toBe(nonce);
    });
  });

  describe('stalls', () => {
    const stuck = (jobId: string, reason = 'PartitionTimeLimit'): Event => ({
      id: `stuck:lab:${jobId}:${reason}`,
      version: 1,
      source: 'relay:queue-watch',
      occurredAt: '2026-11-25T12:05:00Z',
      cluster: 'lab',
      type: 'slurm.job.stuck',
      data: { jobId, reason },
    });

    it('a resubmission that can never start makes its workload need attention, with the reason in words', async () => {
      const deps = testDeps();
      await handleEvent(deps, sacct('97'));
      await handleEvent(deps, result(lastResubmit(deps), { slurmJobIds: ['98'] }));
      await handleEvent(deps, stuck('98'));
      expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');
      expect((await lines(deps, 'nightly')).at(-1)).toBe(
        "Job 98 (retry 1 of 3 for job 97's chain) cannot start: its --time is above the partition's time limit (Slurm: PartitionTimeLimit). " +
          "Cancel it (scancel 98) and fix the cause — a profile that lists a partition too generously, or the job's own options.",
      );
    });

    it('a job Rebound did not submit changes nothing, whatever its comment says', async () => {
      const deps = testDeps();
      await handleEvent(deps, stuck('99'));
      await handleEvent(deps, sacct('96', { state: 'COMPLETED', exitCode: '0:0' }));
      await handleEvent(deps, stuck('96'));
      expect(await deps.store.listWorkloads()).toEqual([
        expect.objectContaining({ key: 'nightly', status: 'healthy' }),
      ]);
    });
  });
});

describe('cancellations', () => {
  const alice = { uid: 1501, user: 'alice' };

  it("the owner's scancel is their decision: recorded in words, not retried, nobody told", async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('9', { state: 'CANCELLED by 1501', exitCode: '0:15', owner: alice }));
    expect(deps.commands.sent()).toEqual([]);
    const w = await deps.store.getWorkload('nightly');
    expect(w).toMatchObject({ status: 'watching' });
    expect(w?.notices ?? []).toEqual([]);
    expect(await lines(deps, 'nightly')).toEqual([
      'Job 9 (hog): cancelled [slurm state=CANCELLED, exit:signal=0:15, peak memory=250.0 MiB of 200.0 MiB (125.0%), elapsed=3 s of 600 s (0.5%)]',
      'Job 9 (hog): Cancelled (cancelled by uid 1501); cancelled by its owner alice, not retried',
      'Nothing to recover: cancelled by its owner.',
    ]);
  });

  it("someone else's cancellation (an administrator, root) is not retried, and the owner is told", async () => {
    const deps = testDeps();
    await handleEvent(deps, sacct('10', { state: 'CANCELLED by 0', exitCode: '0:15', owner: alice }));
    const w = await deps.store.getWorkload('nightly');
    expect(w).toMatchObject({ status: 'needs-attention' });
    expect(w?.notices).toHaveLength(1);
    expect(await lines(deps, 'nightly')).toContain(
      'Job 10 (hog): Cancelled (cancelled by uid 0); cancelled by uid 0, not by its owner alice: not retried',
    );
  });
});
