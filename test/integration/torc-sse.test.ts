import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TorcClient } from '../../relay/torc-client.ts';

// Torc's event stream as a real server can frame it: CRLF line ends, a comment, a data line that is not
// JSON (the reader used to throw on it and reconnect forever), multi-line data, then a normal event.

const event = {
  workflow_id: 7,
  timestamp: 1,
  event_type: 'job_completed',
  severity: 'info',
  data: { job_id: 3 },
};
const json = JSON.stringify(event);
const cut = json.indexOf(',') + 1;
const body = [
  ': keep-alive\r\n\r\n',
  'data: not json at all\r\n\r\n',
  // One event over two data lines (joined with "\n", which JSON allows between tokens).
  `event: job\r\ndata: ${json.slice(0, cut)}\r\ndata: ${json.slice(cut)}\r\n\r\n`,
  `data: ${json}\n\n`,
].join('');

let server: ReturnType<typeof createServer>;
let url: string;
beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // In small pieces, so frames straddle chunks.
    const bytes = Buffer.from(body);
    for (let i = 0; i < bytes.length; i += 7) res.write(bytes.subarray(i, i + 7));
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/torc-service/v1`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('Torc SSE reader', () => {
  it('reads CRLF framing and multi-line data; a frame that is not an event is a reason to reconcile', async () => {
    const got = [];
    for await (const e of new TorcClient({ url }).events(7, AbortSignal.timeout(5000))) got.push(e);
    expect(got).toEqual(['open', 'dropped', event, event]);
  });
});
