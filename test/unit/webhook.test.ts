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
  const mint = async (user: string, uid: number, admin = false) => {
    const body = JSON.stringify({ user, uid, admin });
    const res = await app.request('/v1/tokens', {
      method: 'POST',
      body,
      headers: signedHeaders(SECRET, body, { method: 'POST', path: '/v1/tokens' }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  };
  const read = (path: string, token?: string) =>
    app.request(path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const workload = (key: string) =>
    store.putWorkload({ key, kind: 'slurm', status: 'recovering', updatedAt: 't' }, undefined);

  it('answers /healthz to anyone; workloads only to a token, never to the webhook secret', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await read('/v1/workloads')).status).toBe(401);
    const signed = await app.request('/v1/workloads', {
      headers: signedHeaders(SECRET, '', { method: 'GET', path: '/v1/workloads' }),
    });
    expect(signed.status).toBe(401);
    expect((await signed.json()).error).toMatch(/rebound token create/);
    const admin = await mint('root', 0, true);
    expect((await read('/v1/workloads/nope', admin)).status).toBe(404);
  });

  it("a user's token reads that user's workloads only; an administrator's all", async () => {
    await workload('train@alice');
    await workload('train@mallory');
    await workload('~foreign');
    const alice = await mint('alice', 1501);
    const mallory = await mint('mallory', 1502);
    const admin = await mint('root', 0, true);
    const keys = async (token: string) =>
      ((await (await read('/v1/workloads', token)).json()) as { key: string }[]).map((w) => w.key);
    expect(await keys(mallory)).toEqual(['train@mallory']);
    expect(await keys(alice)).toEqual(['train@alice']);
    expect(await keys(admin)).toEqual(['train@alice', 'train@mallory', '~foreign']);
    // Another user's workload does not exist for mallory: the same 404 as a missing one.
    for (const path of [
      '/v1/workloads/train@alice',
      '/v1/workloads/train@alice/plan',
      '/v1/workloads/~foreign',
    ]) {
      const res = await read(path, mallory);
      expect(res.status).toBe(404);
    }
    expect((await read('/v1/workloads/train@alice', alice)).status).toBe(200);
    // A Torc workflow is its watcher's: the record names the owner.
    await store.putWorkload(
      { key: 'torc-wf9', kind: 'torc', status: 'watching', updatedAt: 't', owner: 'alice' },
      undefined,
    );
    expect(await keys(alice)).toEqual(['torc-wf9', 'train@alice']);
    expect((await read('/v1/workloads/torc-wf9', mallory)).status).toBe(404);
  });

  it("a person's requests act as the token's user, on their own workloads only; bad input is a 400 naming the field", async () => {
    await workload('train@alice');
    const alice = await mint('alice', 1501);
    const mallory = await mint('mallory', 1502);
    const ask = (path: string, body: unknown, token: string) =>
      app.request(path, {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
    const recover = '/v1/workloads/train@alice/recover';
    expect((await ask(recover, {}, mallory)).status).toBe(404);
    expect((await ask('/v1/workloads/train@alice/sync', {}, mallory)).status).toBe(404);
    const negative = await ask(recover, { memoryMultiplier: -2 }, alice);
    expect(negative.status).toBe(400);
    expect((await negative.json()).fields).toEqual(['memoryMultiplier: must be greater than 1']);
    const hook = await ask(recover, { recoveryHook: 'rm -rf /' }, alice);
    expect((await hook.json()).fields[0]).toMatch(/^recoveryHook: a hook name/);
    // Who asks comes from the token: a body naming someone is refused, not believed.
    expect((await ask(recover, { by: 'root' }, alice)).status).toBe(400);
    expect((await ask(recover, '{not json', alice)).status).toBe(400);
    const unknown = await ask(recover, { job: '4242' }, alice);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toBe('no job 4242 in train@alice');
    const nothing = await ask(recover, { dryRun: true }, alice);
    expect(nothing.status).toBe(200);
    expect(await nothing.json()).toMatchObject({ outcome: 'nothing-to-do', plans: [] });
    const sync = await ask('/v1/workloads/train@alice/sync', { dryRun: true }, alice);
    expect(await sync.json()).toMatchObject({ outcome: 'nothing-to-do' });
    expect(events.stats().ready).toBe(0);
  });

  it('refuses a wrong, malformed, replaced or revoked token', async () => {
    const alice = await mint('alice', 1501);
    const [prefix, user, secret] = alice.split(':') as [string, string, string];
    const flipped = `${prefix}:${user}:${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const token of [flipped, `${prefix}:mallory:${secret}`, 'rbt:alice', `Basic ${alice}`])
      expect((await read('/v1/workloads', token)).status).toBe(401);
    const newer = await mint('alice', 1501);
    expect((await read('/v1/workloads', alice)).status).toBe(401);
    expect((await read('/v1/workloads', newer)).status).toBe(200);
    const revoke = await app.request('/v1/tokens/alice/revoke', {
      method: 'POST',
      body: '',
      headers: signedHeaders(SECRET, '', { method: 'POST', path: '/v1/tokens/alice/revoke' }),
    });
    expect(await revoke.json()).toEqual({ revoked: true });
    expect((await read('/v1/workloads', newer)).status).toBe(401);
  });

  it('makes tokens only for a signed, well-formed request, naming the bad field', async () => {
    const body = JSON.stringify({ user: 'alice', uid: 1501 });
    const unsigned = await app.request('/v1/tokens', { method: 'POST', body });
    expect(unsigned.status).toBe(401);
    // A signature is good for its own method and path only.
    const elsewhere = await app.request('/v1/tokens', {
      method: 'POST',
      body,
      headers: signedHeaders(SECRET, body, { method: 'POST', path: '/v1/events' }),
    });
    expect(elsewhere.status).toBe(401);
    const bad = JSON.stringify({ user: 'al ice', uid: -1 });
    const res = await app.request('/v1/tokens', {
      method: 'POST',
      body: bad,
      headers: signedHeaders(SECRET, bad, { method: 'POST', path: '/v1/tokens' }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).fields).toEqual([
      expect.stringMatching(/^user: a Unix user name/),
      expect.stringMatching(/^uid: /),
    ]);
    expect(await store.getToken('al ice')).toBeUndefined();
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
