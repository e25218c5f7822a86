import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { PartitionsUnknownError } from '../core/errors.ts';
import type { Event } from '../core/events.ts';
import type { DeadLetters, Sender, StatusStore } from '../core/ports.ts';
import type { ServiceConfig } from '../service/config.ts';
import { ingest } from '../service/ingest.ts';
import { workloadReport } from '../service/report.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../service/signature.ts';
import { planWorkload, workloadView } from '../service/status.ts';
import type { Telemetry } from '../service/telemetry.ts';
import {
  authenticate,
  canRead,
  mintToken,
  type Reader,
  revokeToken,
  TokenRequestSchema,
} from '../service/tokens.ts';
import { parseBody } from './json-body.ts';
import { mountRequests } from './request-routes.ts';
import { mountStatusPage } from './status-page.ts';

export const MAX_BODY_BYTES = 256 * 1024;

/** Why the webhook refused a request, by its answer (the EventsRejected metric's dimension). */
const REJECTED: Record<number, string> = { 400: 'invalid', 401: 'signature', 413: 'too-large' };

export interface AppOptions {
  events: Sender<Event>;
  /** Reads and tokens only: in AWS the API function may write nothing else. */
  store: StatusStore;
  config: ServiceConfig;
  /** Shared with the hooks and the relay; never logged. */
  secret: string;
  /** The local runtime's dead letters (absent in AWS: the SQS console redrives them). */
  deadLetters?: DeadLetters;
  /** Where warnings go (a client still signing the 0.1 way); the console by default. */
  log?: (line: string) => void;
  /** Events accepted and rejected (by reason), as metrics (service/telemetry.ts). */
  telemetry?: Telemetry;
  /** What /healthz adds to `ok` (the local runtime: queue depths, the worker's progress, the spool). */
  health?: () => Record<string, unknown>;
  now?: () => Date;
}

/**
 * Rejects any request not signed with the shared secret for this method, path and body inside the time
 * window. A 0.1 signature (body only) is still accepted this release, and reported once per client.
 */
function signatureAuth(opts: { secret: string; log?: (line: string) => void }): MiddlewareHandler {
  const reported = new Set<string>();
  return async function signatureAuth(c, next) {
    const body = await c.req.text();
    const verdict = verifySignature(
      opts.secret,
      c.req.header(TIMESTAMP_HEADER),
      c.req.header(SIGNATURE_HEADER),
      {
        method: c.req.method,
        path: c.req.path,
        body,
      },
    );
    // The service's own clock in the answer: a relay whose signatures go stale can say by how much.
    if (!verdict.ok) return c.json({ error: verdict.reason, serverTime: Math.floor(Date.now() / 1000) }, 401);
    if (verdict.legacy) {
      const client = c.req.header('user-agent') ?? 'unknown client';
      if (!reported.has(client)) {
        reported.add(client);
        (opts.log ?? console.warn)(
          `webhook: ${c.req.method} ${c.req.path} from "${client}" is signed the 0.1 way (body only); upgrade that hook or relay — the next release refuses it`,
        );
      }
    }
    await next();
  };
}

/** People read with a token of their own (service/tokens.ts), never with the webhook secret. */
export function readerAuth(store: StatusStore): MiddlewareHandler<{ Variables: { reader: Reader } }> {
  return async function readerAuth(c, next) {
    const token = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    const reader = await authenticate(store, token);
    if (!reader)
      return c.json(
        {
          error:
            'a valid token is needed: "Authorization: Bearer <token>" (an administrator makes one with `rebound token create <user>`)',
        },
        401,
      );
    c.set('reader', reader);
    await next();
  };
}

/**
 * 413 for a body over `maxSize`. A declared Content-Length is checked from the header alone: Hono's
 * bodyLimit touches `req.raw.body`, which makes @hono/node-server build a full web Request and stream for
 * every POST (a fifth of the webhook's CPU under load). Chunked bodies still go through bodyLimit.
 */
export function limitBody(maxSize: number): MiddlewareHandler {
  const onError = (c: Context) => c.json({ error: `body larger than ${maxSize} bytes` }, 413);
  const streamed = bodyLimit({ maxSize, onError });
  return async function limitBody(c, next) {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    if (!/^\d+$/.test(length) || Number(length) > maxSize) return onError(c);
    await next();
  };
}

/**
 * The webhook and status API: one Hono app, served by @hono/node-server locally and by hono/aws-lambda in
 * AWS. POST /v1/events answers 202 only once the events are durably queued.
 */
export function createApp(opts: AppOptions) {
  const now = opts.now ?? (() => new Date());
  const app = new Hono<{ Variables: { reader: Reader } }>();
  app.onError((err, c) => {
    console.error(`request failed: ${err.name}: ${err.message}`);
    return c.json({ error: 'internal error' }, 500);
  });
  // Unsigned on purpose (a load balancer or a person checks it); counts only, no workload names.
  app.get('/healthz', (c) => c.json({ ok: true, ...opts.health?.() }));

  // Outermost on the webhook, so that every refusal — too large, unsigned, invalid — is counted.
  app.use('/v1/events', async (c, next) => {
    await next();
    const reason = REJECTED[c.res.status];
    if (reason || c.res.status >= 500) opts.telemetry?.count('EventsRejected', 1, reason ?? 'error');
  });
  app.use('/v1/*', limitBody(MAX_BODY_BYTES));
  // Hooks and the relay sign with the shared secret; so does the administrator who makes tokens.
  const signed = signatureAuth({ secret: opts.secret, ...(opts.log ? { log: opts.log } : {}) });
  for (const path of ['/v1/events', '/v1/tokens', '/v1/tokens/*']) app.use(path, signed);
  // People read with their own token: a user sees their own workloads, and nobody else's exist for them.
  const reading = readerAuth(opts.store);
  for (const path of [
    '/v1/workloads',
    '/v1/workloads/*',
    '/v1/answers/*',
    '/v1/dead-letters',
    '/v1/dead-letters/*',
  ])
    app.use(path, reading);

  app.post('/v1/events', async (c) => {
    const result = await ingest(opts.events, await c.req.text());
    if (!result.ok) return c.json({ error: 'invalid event', fields: result.errors }, 400);
    opts.telemetry?.count('EventsAccepted', result.accepted);
    return c.json({ accepted: result.accepted }, 202);
  });

  app.post('/v1/tokens', async (c) => {
    const request = await parseBody(c, TokenRequestSchema, 'token request');
    if (request instanceof Response) return request;
    const token = await mintToken(opts.store, request, now());
    return c.json({ user: request.user, admin: request.admin, token }, 201);
  });
  app.post('/v1/tokens/:user/revoke', async (c) =>
    c.json({ revoked: await revokeToken(opts.store, c.req.param('user'), now()) }),
  );

  // Dead letters hold every user's events: administrators only.
  const deadLetters = (c: Context<{ Variables: { reader: Reader } }>): Response | DeadLetters => {
    if (!c.get('reader').admin) return c.json({ error: 'dead letters are for administrators' }, 403);
    return (
      opts.deadLetters ??
      c.json(
        {
          error:
            "this service keeps its dead letters in SQS: redrive them from the console's dead-letter queue (an alarm says when there are any)",
        },
        501,
      )
    );
  };
  app.get('/v1/dead-letters', async (c) => {
    const access = deadLetters(c);
    return access instanceof Response ? access : c.json(await access.list());
  });
  app.post('/v1/dead-letters/:queue/:id/replay', async (c) => {
    const access = deadLetters(c);
    if (access instanceof Response) return access;
    const queue = c.req.param('queue');
    if (queue !== 'events' && queue !== 'commands')
      return c.json({ error: 'invalid dead letter', fields: ['queue: "events" or "commands"'] }, 400);
    const replayed = await access.replay(queue, c.req.param('id'));
    return replayed
      ? c.json({ replayed: true })
      : c.json({ error: `no dead letter "${c.req.param('id')}" in ${queue}` }, 404);
  });

  const missing = (key: string) => ({ error: `no workload "${key}"` });
  app.get('/v1/workloads', async (c) =>
    c.json((await opts.store.listWorkloads()).filter((w) => canRead(c.get('reader'), w))),
  );
  app.get('/v1/workloads/:key', async (c) => {
    const key = c.req.param('key');
    const view = await workloadView(opts, key);
    return view && canRead(c.get('reader'), view) ? c.json(view) : c.json(missing(key), 404);
  });
  mountRequests(app, { ...opts, now });
  app.get('/v1/workloads/:key/report', async (c) => {
    const key = c.req.param('key');
    if (!canRead(c.get('reader'), await opts.store.getWorkload(key))) return c.json(missing(key), 404);
    return c.json(await workloadReport(opts, key));
  });
  // The status page, for people's browsers (functions/status-page.ts).
  app.use('/ui/*', limitBody(16 * 1024));
  mountStatusPage(app, opts.store);
  app.get('/v1/workloads/:key/plan', async (c) => {
    const key = c.req.param('key');
    if (!canRead(c.get('reader'), await opts.store.getWorkload(key))) return c.json(missing(key), 404);
    try {
      return c.json(await planWorkload({ ...opts, now }, key));
    } catch (error) {
      // Nothing to plan with yet: said, not an internal error.
      if (error instanceof PartitionsUnknownError) return c.json({ error: error.message }, 409);
      throw error;
    }
  });
  return app;
}
