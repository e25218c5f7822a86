import { createHmac, timingSafeEqual } from 'node:crypto';

// Every POST is signed: HMAC-SHA256 over "<unix seconds>.<raw body>", sent as
//   X-Rebound-Timestamp: <unix seconds>
//   X-Rebound-Signature: sha256=<hex>
// A signature older or newer than the window is refused, so a captured request cannot be replayed later.

export const SIGNATURE_HEADER = 'x-rebound-signature';
export const TIMESTAMP_HEADER = 'x-rebound-timestamp';
const SIGNATURE_WINDOW_SECONDS = 300;

export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function signedHeaders(secret: string, body: string, now = Date.now()): Record<string, string> {
  const ts = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    [TIMESTAMP_HEADER]: String(ts),
    [SIGNATURE_HEADER]: sign(secret, ts, body),
  };
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

export function verifySignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  body: string,
  now = Date.now(),
): SignatureVerdict {
  if (!timestamp || !signature) return { ok: false, reason: 'missing signature headers' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad timestamp' };
  if (Math.abs(now / 1000 - Number(timestamp)) > SIGNATURE_WINDOW_SECONDS)
    return { ok: false, reason: 'stale signature' };
  const expected = Buffer.from(sign(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  // Constant time: the comparison takes as long whatever prefix matches.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad signature' };
  return { ok: true };
}
