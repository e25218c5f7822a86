import { describe, expect, it } from 'vitest';
import { LOG_BYTES_MAX } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { LogsRequestSchema } from '../../core/manual.ts';
import { lastLines } from '../../relay/job-logs.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { requestLogs } from '../../service/job-logs.ts';
import { testDeps as freshDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';
import { MemoryQueue } from '../support/memory-queue.ts';

// `rebound logs`: the service asks the relay for a job of the workload by id and stream only (never a
// path), and keeps the relay's answer for the person; the relay keeps the tail within its byte limit.

describe('the tail of a log', () => {
  it('keeps the last lines, says when there were more, and never passes the byte limit', () => {
    expect(lastLines('/p', 'a\nb\nc\n', 2)).toEqual({ path: '/p', text: 'b\nc\n', truncated: true });
    expect(lastLines('/p', 'a\nb', 5)).toEqual({ path: '/p', text: 'a\nb', truncated: false });
    expect(lastLines('/p', '', 5)).toEqual({ path: '/p', text: '', truncated: false });
    const big = `${'x'.repeat(100)}\n${'y\n'.repeat(LOG_BYTES_MAX / 2)}`;
    const tail = lastLines('/p', big.slice(-(LOG_BYTES_MAX + 1)), 100_000);
    expect(tail.truncated).toBe(true);
    expect(Buffer.byteLength(tail.text)).toBeLessThanOrEqual(LOG_BYTES_MAX);
    expect(tail.text.startsWith('y\n')).toBe(true);
  });

  it('refuses a tail that is not 1 to 10000 lines', () => {
    expect(LogsRequestSchema.safeParse({ job: '7', tail: 10_001 }).success).toBe(false);
    expect(LogsRequestSchema.safeParse({ job: '7', tail: 0 }).success).toBe(false);
    expect(LogsRequestSchema.safeParse({ job: '../etc/passwd' }).success).toBe(false);
    expect(LogsRequestSchema.parse({ job: '7' })).toEqual({ job: '7', stderr: false, tail: 100 });
  });
});

describe('rebound logs in the service', () => {
  // Answers expire by the real clock (as the stores' TTLs do): the service's clock starts now.
  const testDeps = () => freshDeps({}, new Date().toISOString());
  it("asks the relay for a workload's job by id, and keeps its answer for the person", async () => {
    const deps = { ...testDeps(), events: new MemoryQueue<Event>() };
    await handleEvent(deps, sacctEvent('77'));
    const w = (await deps.store.getWorkload('nightly'))!;
    const who = { by: 'alice', via: 'cli' as const };
    expect(await requestLogs(deps, w, LogsRequestSchema.parse({ job: '99' }), who)).toEqual({
      outcome: 'unknown-job',
      error: 'no job 99 in nightly',
    });
    const asked = await requestLogs(
      deps,
      w,
      LogsRequestSchema.parse({ job: '77', stderr: true, tail: 5 }),
      who,
    );
    if (asked.outcome !== 'sent') throw new Error('not sent');
    for (const m of await deps.events.receive(10, 30)) await handleEvent(deps, m.body);
    const c = deps.commands.sent().at(-1)!;
    expect(c).toEqual({
      type: 'job.logs',
      id: `logs:${asked.requestId}`,
      protocol: 4,
      workload: 'nightly',
      createdAt: expect.any(String),
      jobId: '77',
      stream: 'stderr',
      lines: 5,
    });
    const log = { path: '/home/alice/o-77.err', text: 'MemoryError\n', truncated: false };
    await handleEvent(deps, resultEvent(c, { output: log.path, log }));
    expect(await deps.store.getAnswer(asked.requestId)).toMatchObject({
      workload: 'nightly',
      ok: true,
      text: 'MemoryError\n',
      path: '/home/alice/o-77.err',
    });
  });

  it("keeps the relay's refusal as the answer", async () => {
    const deps = testDeps();
    const c = { id: 'logs:abcdefgh', type: 'job.logs' as const, workload: 'nightly' };
    await handleEvent(deps, resultEvent(c, { ok: false, error: 'no capture of job 77 on this relay' }));
    expect(await deps.store.getAnswer('abcdefgh')).toMatchObject({
      ok: false,
      text: 'no capture of job 77 on this relay',
    });
  });
});
