import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { openDatabase } from '../../local/sqlite.ts';
import { SqliteQueue } from '../../local/sqlite-queue.ts';
import { SqliteStore } from '../../local/sqlite-store.ts';
import { localTelemetry } from '../../local/telemetry.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { signedHeaders } from '../../service/signature.ts';
import { logLine } from '../../service/telemetry.ts';
import { testDeps } from '../support/deps.ts';
import { loadEvent, sacctEvent } from '../support/events.ts';

// The local process's telemetry: the webhook's accepted and rejected events, recoveries by cause and
// transitions that need a person, counted as the Lambda functions count them, and one line per fact.

const SECRET = 'telemetry-test-secret-of-32-bytes-or-more';

describe('telemetry', () => {
  it('counts events accepted and rejected by reason at the webhook', async () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-telemetry-')), 'db'));
    const telemetry = localTelemetry(() => {});
    const app = createApp({
      events: new SqliteQueue<Event>(db, 'events'),
      store: new SqliteStore(db),
      config: parseServiceConfig({}),
      secret: SECRET,
      telemetry,
    });
    const post = (body: string, headers: Record<string, string>) =>
      app.request('/v1/events', { method: 'POST', body, headers });
    const good = JSON.stringify(
      [1, 2].map((i) => ({ ...loadEvent('jobcomp/oom', 'slurm.jobcomp'), id: `e${i}` })),
    );
    expect((await post(good, signedHeaders(SECRET, good))).status).toBe(202);
    expect((await post(good, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post('{"id":1}', signedHeaders(SECRET, '{"id":1}'))).status).toBe(400);
    expect((await post('x', { 'content-length': String(300 * 1024) })).status).toBe(413);
    expect(telemetry.counts()).toEqual({
      EventsAccepted: 2,
      'EventsRejected.signature': 1,
      'EventsRejected.invalid': 1,
      'EventsRejected.too-large': 1,
    });
  });

  it('counts recoveries by cause and each change that needs a person, with a line naming the workload', async () => {
    const lines: string[] = [];
    const telemetry = localTelemetry((l) => lines.push(l));
    const deps = { ...testDeps(), telemetry };
    await handleEvent(deps, sacctEvent('77'));
    await handleEvent(
      deps,
      sacctEvent('9', { state: 'FAILED', exitCode: '3:0', maxRss: '10M', comment: 'rebound:other' }),
    );
    expect(telemetry.counts()).toEqual({ 'Recoveries.oom': 1, 'NeedsAttention.needs-attention': 1 });
    expect(lines).toEqual(['warn: workload needs-attention workload=other']);
  });

  it('writes a line as `level message key=value`, quoting what has spaces', () => {
    expect(logLine('info', 'event handled', { eventId: 'e1', workload: 'w', receive: 2 })).toBe(
      'event handled eventId=e1 workload=w receive=2',
    );
    expect(logLine('error', 'failed', { error: 'no such job', skip: undefined })).toBe(
      'error: failed error="no such job"',
    );
  });
});
