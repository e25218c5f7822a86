import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsQueue } from '../../aws/sqs-queue.ts';
import { type Command, PROTOCOL } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { Executor } from '../../relay/executor.ts';
import { Poster } from '../../relay/poster.ts';
import { Relay } from '../../relay/relay.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { createQueues, sqsClient } from '../aws/emulators.ts';
import { someEvent } from '../support/events.ts';
import { MemoryQueue } from '../support/memory-queue.ts';
import { MemoryStore } from '../support/memory-store.ts';
import { waitFor } from './harness.ts';

// Acceptance 2 of "never silent, never stuck": the relay against real faults — SQS (fauxqs) behind a TCP
// proxy that refuses connections for 30 s, the spool folder deleted, a FIFO in the spool, the service
// answering 500 and then 401. The relay stays up, logs each cause once per episode, and once the faults
// clear the service has every event the relay sent, each accepted once.

const SECRET = 'relay-faults-e2e-secret-of-32-bytes-at-least';
const OUTAGE_MS = 30_000;

/** A TCP proxy to `target` that a test switches off (every connection refused or cut) and on again. */
async function tcpProxy(target: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((r) => {
      server = createServer((client) => {
        const upstream = createConnection(target);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        r();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async off() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server!.close(() => r()));
    },
    on: listen,
  };
}
/** The service, with a switch: answers every POST with `fault` (500 or 401) while it is set. */
function faultyService(events: MemoryQueue<Event>) {
  const app = createApp({ events, store: new MemoryStore(), config: parseServiceConfig({}), secret: SECRET });
  const accepted: string[] = [];
  let fault: 500 | 401 | undefined;
  const server = serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      if (fault === 500) return Response.json({ error: 'internal error' }, { status: 500 });
      if (fault === 401)
        return Response.json(
          { error: 'bad signature', serverTime: Math.floor(Date.now() / 1000) },
          { status: 401 },
        );
      const body = await req.clone().text();
      const res = await app.fetch(req);
      if (res.status === 202) for (const e of JSON.parse(body) as Event[]) accepted.push(e.id);
      return res;
    },
  });
  return {
    server,
    accepted,
    set fault(value: 500 | 401 | undefined) {
      fault = value;
    },
  };
}

const hookCommand = (n: number): Command => ({
  id: `faults:hook:${n}`,
  type: 'hook.run',
  protocol: PROTOCOL,
  workload: 'faults',
  createdAt: new Date().toISOString(),
  hook: 'ok',
});

let sqs: Awaited<ReturnType<typeof startFauxqs>>;
beforeAll(async () => {
  sqs = await startFauxqs({ port: 0, logger: false });
});
afterAll(async () => sqs?.stop());

describe('the relay under real faults', () => {
  it('stays up through an SQS outage, a deleted spool, a FIFO in it and a service answering 500 then 401; every event arrives once', async () => {
    const direct = sqsClient(sqs.address);
    const queue = await createQueues(direct, 5, true);
    const proxy = await tcpProxy(Number(new URL(sqs.address).port));
    const viaProxy = sqsClient(`http://127.0.0.1:${proxy.port}`);
    const commands = new SqsQueue<Command>(viaProxy, { ...queue, fifo: true, waitSeconds: 1 });
    const enqueue = new SqsQueue<Command>(direct, { ...queue, fifo: true });

    const events = new MemoryQueue<Event>();
    const service = faultyService(events);
    await new Promise<void>((r) => service.server.once('listening', r));
    const url = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
    const spool = mkdtempSync(join(tmpdir(), 'rebound-faults-spool-'));
    const log: string[] = [];
    const poster = new Poster({ url, secret: SECRET, spoolDir: spool, log: (l) => log.push(l) });
    const executor = new Executor({
      cluster: 'lab',
      stateDir: mkdtempSync(join(tmpdir(), 'rebound-faults-state-')),
      hooks: { ok: { command: ['/bin/true'], env: [] } },
      actingFor: { mode: 'user', uid: process.getuid?.() ?? 0, user: 'root' },
    });
    const relay = new Relay({ commands, executor, poster, log: (l) => log.push(l) });
    const sent = new Set<string>();
    const post = async (id: string) => {
      sent.add(id);
      await poster.post([someEvent(id)]);
    };
    relay.start();
    try {
      // Working: a command and an event go through.
      await enqueue.send([{ id: 'faults:hook:1', body: hookCommand(1), group: 'faults' }]);
      sent.add('result:faults:hook:1');
      await post('before');
      await waitFor('the first result', () => service.accepted.includes('result:faults:hook:1'), 60_000);

      // SQS refuses connections for 30 s; commands queue up behind the outage.
      await proxy.off();
      for (let n = 2; n <= 4; n++) {
        await enqueue.send([{ id: `faults:hook:${n}`, body: hookCommand(n), group: 'faults' }]);
        sent.add(`result:faults:hook:${n}`);
      }
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      expect(relay.health().lastError?.message).toBeDefined();
      await proxy.on();
      await waitFor(
        'the commands after the outage',
        () => [2, 3, 4].every((n) => service.accepted.includes(`result:faults:hook:${n}`)),
        60_000,
      );

      // The service fails (500): events spool; the spool folder is deleted under the relay, a FIFO appears.
      service.fault = 500;
      rmSync(spool, { recursive: true });
      await post('during-500');
      execFileSync('mkfifo', [join(spool, '0-fifo.json')]);
      await enqueue.send([{ id: 'faults:hook:5', body: hookCommand(5), group: 'faults' }]);
      sent.add('result:faults:hook:5');
      await waitFor(
        'the result spooled',
        () => log.some((l) => l.includes('the service answered 500')),
        60_000,
      );
      // Then 401 (a secret that does not match): still spooled, said once.
      service.fault = 401;
      await post('during-401-a');
      await post('during-401-b');
      service.fault = undefined;
      await waitFor(
        'every event delivered',
        () => [...sent].every((id) => service.accepted.includes(id)),
        90_000,
      );
    } finally {
      await relay.stop();
      await proxy.off().catch(() => {});
      service.server.close();
    }

    // Nothing lost, nothing twice: every id the relay sent is in the service's queue, once. (A post that
    // timed out on the relay's side after the service took it is posted again — at least once — and the
    // queue keeps the first.)
    expect(new Set(service.accepted)).toEqual(sent);
    const queued = events.sent().map((e) => e.id);
    expect(new Set(queued)).toEqual(sent);
    expect(queued).toHaveLength(sent.size);
    // Each cause logged once per episode, and the return to work.
    const count = (pattern: RegExp) => log.filter((l) => pattern.test(l)).length;
    expect(count(/^relay: (?!working again).*(ECONNREFUSED|socket hang up|ECONNRESET)/)).toBe(1);
    expect(count(/^relay: working again/)).toBe(1);
    expect(count(/^poster: events are not accepted: the service answered 500/)).toBe(1);
    expect(count(/^poster: events are not accepted: the relay's secret does not match/)).toBe(1);
    expect(count(/^poster: the service takes events again/)).toBe(1);
    expect(count(/0-fifo\.json is not a regular file/)).toBe(1);
    expect(relay.health().lastSuccessAt).toBeDefined();
  }, 180_000);
});
