import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { Executor } from '../../relay/executor.ts';
import { backoffMs } from '../../relay/loop-health.ts';
import { Poster, postFailure } from '../../relay/poster.ts';
import { Relay } from '../../relay/relay.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { someEvent as event } from '../support/events.ts';
import { MemoryQueue } from '../support/memory-queue.ts';
import { MemoryStore } from '../support/memory-store.ts';

// The relay never dies and never hides: a queue that refuses connections, a spool folder removed under
// it, a service that answers 401 — each is survived, logged once per episode with what it means, and
// shown in the loop's health; nothing accepted is lost.

const SECRET = 'relay-faults-secret-of-32-bytes-at-least';
const events = new MemoryQueue<Event>();
let server: ReturnType<typeof serve>;
let url: string;
beforeAll(async () => {
  const app = createApp({ events, store: new MemoryStore(), config: parseServiceConfig({}), secret: SECRET });
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const until = async (what: string, probe: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('the relay under faults', () => {
  it('survives a commands queue that refuses connections, logs it once, and goes on when it is back', async () => {
    const commands = new MemoryQueue<Command>();
    let refusing = 3;
    const receive = commands.receive.bind(commands);
    commands.receive = async (max, visibility) => {
      if (refusing-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:9324');
      return receive(max, visibility);
    };
    const log: string[] = [];
    const spool = mkdtempSync(join(tmpdir(), 'rebound-faults-'));
    const poster = new Poster({ url, secret: SECRET, spoolDir: spool, log: (l) => log.push(l) });
    const executor = new Executor({
      cluster: 'lab',
      stateDir: mkdtempSync(join(tmpdir(), 'rebound-faults-state-')),
      hooks: {},
      actingFor: { mode: 'user', uid: 1501, user: 'alice' },
    });
    const relay = new Relay({ commands, executor, poster, log: (l) => log.push(l) });
    // A command of a newer protocol: answered with a failed result once the queue is back (no Slurm needed).
    const newer = {
      id: 'lab:7:a1',
      type: 'slurm.enrich' as const,
      protocol: 99,
      workload: 'w',
      createdAt: '2026-11-30T12:00:00Z',
      jobId: '7',
      eventId: 'jobcomp:lab:7',
    };
    await commands.send([{ id: 'lab:7:a1', body: newer }]);
    relay.start();
    await until('the refused command answered', () => events.offered.includes('result:lab:7:a1'));
    await relay.stop();
    expect(log.filter((l) => l.startsWith('relay: connect ECONNREFUSED'))).toHaveLength(1);
    expect(log).toContainEqual(expect.stringMatching(/^relay: working again \(after: connect ECONNREFUSED/));
    expect(relay.health()).toMatchObject({
      lastSuccessAt: expect.any(String),
      lastError: { message: 'connect ECONNREFUSED 127.0.0.1:9324' },
    });
  });

  it('makes the spool folder again when it is removed, and loses no event', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'rebound-faults-'));
    const log: string[] = [];
    const down = new Poster({
      url: 'http://127.0.0.1:9',
      secret: SECRET,
      spoolDir: spool,
      log: (l) => log.push(l),
    });
    rmSync(spool, { recursive: true });
    await down.drain();
    await down.post([event('spooled-after-rm')]);
    expect(readdirSync(spool).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    expect(log).toEqual([expect.stringContaining('the service cannot be reached')]);
    const up = new Poster({ url, secret: SECRET, spoolDir: spool });
    expect(await up.drain()).toBe(1);
    expect(events.offered).toContain('spooled-after-rm');
    expect(existsSync(join(spool, 'rejected'))).toBe(true);
  });

  it("says what a 401 means: the relay's secret is not the service's (once per episode)", async () => {
    const log: string[] = [];
    const poster = new Poster({
      url,
      secret: 'not-the-services-secret-but-32-bytes-long',
      spoolDir: mkdtempSync(join(tmpdir(), 'rebound-faults-')),
      log: (l) => log.push(l),
    });
    await poster.post([event('wrong-secret-1')]);
    await poster.post([event('wrong-secret-2')]);
    expect(log).toEqual([
      expect.stringContaining("events are not accepted: the relay's secret does not match the service's"),
    ]);
    expect(poster.health.lastError?.message).toMatch(/secret does not match/);
  });

  it('names clock skew by its size, from the clock the service sends back', () => {
    expect(postFailure(401, { error: 'stale signature', serverTime: 1_000_400 }, 1_000_000)).toBe(
      'clock skew of 400 s between this host and the service (signatures are good for 5 minutes): fix the clock (NTP)',
    );
    expect(postFailure(500, { error: 'internal error' }, 0)).toBe('the service answered 500: internal error');
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 500, 30_000, 1)).toBe(500);
    expect(backoffMs(4, 500, 30_000, 1)).toBe(4000);
    expect(backoffMs(20, 500, 30_000, 1)).toBe(30_000);
    expect(backoffMs(20, 500, 30_000, 0)).toBe(15_000);
  });
});
