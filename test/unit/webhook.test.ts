import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { openDatabase } from '../../local/sqlite.ts';
import { SqliteQueue } from '../../local/sqlite-queue.ts';
import { SqliteStore } from '../../local/sqlite-store.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { sign, signedHeaders } from '../../service/signature.ts';
import { loadEvent } from '../support/events.ts';

const SECRET = 'webhook-test-secret-of-32-bytes-at-least';
let events: SqliteQueue<Event>;
let store: SqliteStore;
let app: ReturnType<typeof createApp>;

beforeEach(() => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-hook-')), 'db'));
  events = new SqliteQueue<Event>(db, 'events');
  store = new SqliteStore(db);
  app = createApp({ events, store, config: parseServiceConfig({}), secret: SECRET });
});

const post = (body: string, headers: Record<string, string> = signedHeaders(SECRET, body)) =>
  app.request('/v1/events', { method: 'POST', body, headers });

describe('POST /v1/events', () => {
  const event = loadEvent('jobcomp/oom', 'slurm.jobcomp');

  it('answers 202 once queued, and ignores a repeated id', async () => {
    const body = JSON.stringify(event);
    expect((await post(body)).status).toBe(202);
    expect((await post(body)).status).toBe(202);
    expect(events.stats().ready).toBe(1);
  });

  it('takes a batch of up to 100 and refuses 101', async () => {
    const batch = Array.from({ length: 100 }, (_, i) => ({ ...event, id: `e${i}` }));
    expect((await post(JSON.stringify(batch))).status).toBe(202);
    expect(events.stats().ready).toBe(100);
    const res = await post(JSON.stringify([...batch, { ...event, id: 'e100' }]));
    expect(res.status).toBe(400);
    expect(events.stats().ready).toBe(100);
  });

  it('names each bad field and stores nothing of a half-bad batch', async () => {
    const bad = { ...event, id: 'bad', data: { ...event.data, jobId: 'x1' } };
    const res = await post(JSON.stringify([{ ...event, id: 'good' }, bad]));
    expect(res.status).toBe(400);
    expect((await res.json()).fields).toEqual([expect.stringMatching(/^events\[1\]\.data\.jobId: /)]);
    expect(events.stats().ready).toBe(0);
  });

  it.each([
    ['no signature', {}],
    [
      'wrong signature',
      { 'x-rebound-timestamp': String(Math.floor(Date.now() / 1000)), 'x-rebound-signature': 'sha256=00' },
    ],
    [
      'stale signature',
      (b: string) => {
        const ts = Math.floor(Date.now() / 1000) - 301;
        return {
          'x-rebound-timestamp': String(ts),
          'x-rebound-signature': sign(SECRET, ts, { method: 'POST', path: '/v1/events', body: b }),
        };
      },
    ],
    ['signed with another secret', (b: string) => signedHeaders('other', b)],
    // A signature is for one method and path: a signed GET, or a POST signed for another path, is no good.
    ['signed for another path', (b: string) => signedHeaders(SECRET, b, { path: '/v1/other' })],
    ['signed for another method', (b: string) => signedHeaders(SECRET, b, { method: 'PUT' })],
  ])('refuses %s with 401', async (_n, headers) => {
    const body = JSON.stringify(event);
    const h = typeof headers === 'function' ? headers(body) : headers;
    expect((await post(body, h as Record<string, string>)).status).toBe(401);
    expect(events.stats().ready).toBe(0);
  });

  it('refuses a body over 256 KB with 413, streamed or with a Content-Length', async () => {
    const body = JSON.stringify({ ...event, pad: 'x'.repeat(300 * 1024) });
    expect((await post(body)).status).toBe(413);
    const length = { 'content-length': String(Buffer.byteLength(body)) };
    expect((await post(body, { ...signedHeaders(SECRET, body), ...length })).status).toBe(413);
    expect((await post('{}', { ...signedHeaders(SECRET, '{}'), 'content-length': 'x2' })).status).toBe(413);
    expect(events.stats().ready).toBe(0);
  });

  it('takes a signed body with its Content-Length (the fast path)', async () => {
    const body = JSON.stringify(event);
    const length = { 'content-length': String(Buffer.byteLength(body)) };
    expect((await post(body, { ...signedHeaders(SECRET, body), ...length })).status).toBe(202);
    expect(events.stats().ready).toBe(1);
  });

  it('refuses invalid JSON with 400', async () => {
    const res = await post('{nope');
    expect(res.status).toBe(400);
    expect((await res.json()).fields).toEqual(['body: not valid JSON']);
  });
});

describe('status API', () => {
  it('answers /healthz unsigned and refuses unsigned reads', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/v1/workloads')).status).toBe(401);
    const res = await app.request('/v1/workloads/nope', {
      headers: signedHeaders(SECRET, '', { method: 'GET', path: '/v1/workloads/nope' }),
    });
    expect(res.status).toBe(404);
    // A signed read is good for its own path only.
    const other = await app.request('/v1/workloads', {
      headers: signedHeaders(SECRET, '', { method: 'GET', path: '/v1/workloads/nope' }),
    });
    expect(other.status).toBe(401);
  });

  it('accepts the 0.1 signature (body only) this release, and reports each client that still sends it once', async () => {
    const body = JSON.stringify({ ...loadEvent('jobcomp/oom', 'slurm.jobcomp'), id: 'legacy-1' });
    const ts = Math.floor(Date.now() / 1000);
    const v1 = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
    const headers = {
      'x-rebound-timestamp': String(ts),
      'x-rebound-signature': v1,
      'user-agent': 'curl/7.88',
    };
    const logged: string[] = [];
    const legacy = createApp({
      events,
      store,
      config: parseServiceConfig({}),
      secret: SECRET,
      log: (l) => logged.push(l),
    });
    const send = () => legacy.request('/v1/events', { method: 'POST', body, headers });
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(202);
    expect(logged).toEqual([expect.stringContaining('from "curl/7.88" is signed the 0.1 way')]);
  });
});
