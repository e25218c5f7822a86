import type { Context, Hono } from 'hono';
import * as z from 'zod';
import { PartitionsUnknownError } from '../core/errors.ts';
import { LogsRequestSchema, ManualRecoverySchema } from '../core/manual.ts';
import { requestLogs } from '../service/job-logs.ts';
import type { RequestDeps } from '../service/person-request-event.ts';
import { type RecoverOutcome, requestRecovery, requestSync } from '../service/person-requests.ts';
import { canRead, type Reader } from '../service/tokens.ts';
import { parseBody } from './json-body.ts';

// A person's requests over HTTP (`rebound recover`, `sync`, `logs`), as the token's reader — never as
// anyone a body names: the preview answers now, the worker acts (service/person-requests.ts).

/** A recovery by hand's answer, by outcome (`rebound recover` turns it into its exit code). */
const RECOVER_STATUS = {
  started: 200,
  'nothing-to-do': 200,
  'nothing-recoverable': 200,
  'not-allowed': 403,
  'unknown-job': 404,
} as const satisfies Record<RecoverOutcome, number>;

const SyncRequestSchema = z.strictObject({ dryRun: z.boolean().default(false) });

type ReaderContext = Context<{ Variables: { reader: Reader } }>;

export function mountRequests(app: Hono<{ Variables: { reader: Reader } }>, deps: RequestDeps): void {
  const who = (c: ReaderContext) => ({ by: c.get('reader').user, via: 'cli' as const });
  /** The workload a request names, if the reader may see it; nobody else's exists for them. */
  const readable = async (c: ReaderContext) => {
    const w = await deps.store.getWorkload(c.req.param('key')!);
    return w && canRead(c.get('reader'), w) ? w : undefined;
  };
  const missing = (c: ReaderContext) => c.json({ error: `no workload "${c.req.param('key')}"` }, 404);

  app.post('/v1/workloads/:key/recover', async (c) => {
    const workload = await readable(c);
    if (!workload) return missing(c);
    const request = await parseBody(c, ManualRecoverySchema, 'recovery request');
    if (request instanceof Response) return request;
    try {
      const answer = await requestRecovery(deps, workload, request, who(c));
      const status = RECOVER_STATUS[answer.outcome];
      const refused = status === 403 || status === 404;
      return c.json(
        refused ? { error: answer.lines.join('; '), ...answer } : answer,
        answer.requestId ? 202 : status,
      );
    } catch (error) {
      if (error instanceof PartitionsUnknownError) return c.json({ error: error.message }, 409);
      throw error;
    }
  });
  app.post('/v1/workloads/:key/sync', async (c) => {
    const workload = await readable(c);
    if (!workload) return missing(c);
    const request = await parseBody(c, SyncRequestSchema, 'sync request');
    if (request instanceof Response) return request;
    const answer = await requestSync(deps, workload, request.dryRun, who(c));
    return c.json(answer, answer.requestId ? 202 : 200);
  });
  app.post('/v1/workloads/:key/logs', async (c) => {
    const workload = await readable(c);
    if (!workload) return missing(c);
    const request = await parseBody(c, LogsRequestSchema, 'logs request');
    if (request instanceof Response) return request;
    const answer = await requestLogs(deps, workload, request, who(c));
    return answer.outcome === 'sent' ? c.json(answer, 202) : c.json(answer, 404);
  });
  // What the relay answered to a person's read request, for whoever may read its workload.
  app.get('/v1/answers/:id', async (c) => {
    const answer = await deps.store.getAnswer(c.req.param('id'));
    if (!answer || !canRead(c.get('reader'), await deps.store.getWorkload(answer.workload)))
      return c.json({ error: `no answer (yet) to request "${c.req.param('id')}"` }, 404);
    return c.json(answer);
  });
}
