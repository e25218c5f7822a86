import { createHmac, timingSafeEqual } from 'node:crypto';

// Every request to the service is signed (hooks, relay, CLI): HMAC-SHA256 over
//   "<unix seconds>.<METHOD>.<path>.<raw body>"
// sent as
//   X-Rebound-Timestamp: <unix seconds>
//   X-Rebound-Signature: v2=<hex>
// so a signature is good for one request only: this body, to this path, with this method, within the
// window (a captured request cannot be replayed later, nor a signed GET reused for another path).
// Release 0.1 signed "<unix seconds>.<raw body>" as `sha256=<hex>`: accepted for this release, so that
// hooks and relays can be upgraded after the service, and reported (functions/app.ts) until they are.

export const SIGNATURE_HEADER = 'x-rebound-signature';
export const TIMESTAMP_HEADER = 'x-rebound-timestamp';
const SIGNATURE_WINDOW_SECONDS = 300;

/** The shortest secret the service, the relay and the hooks accept. */
const MIN_SECRET_BYTES = 32;

export interface SignedRequest {
  method: string;
  path: string;
  body: string;
}

const hmac = (secret: string, message: string) => createHmac('sha256', secret).update(message).digest('hex');

export function sign(secret: string, timestamp: number, r: SignedRequest): string {
  return `v2=${hmac(secret, `${timestamp}.${r.method.toUpperCase()}.${r.path}.${r.body}`)}`;
}

/** The 0.1 form, over timestamp and body only. */
const signV1 = (secret: string, timestamp: number, body: string) =>
  `sha256=${hmac(secret, `${timestamp}.${body}`)}`;

/** Headers for a signed request: a POST of `body` to /v1/events unless told otherwise. */
export function signedHeaders(
  secret: string,
  body: string,
  request: { method?: string; path?: string; now?: number } = {},
): Record<string, string> {
  const ts = Math.floor((request.now ?? Date.now()) / 1000);
  const r = { method: request.method ?? 'POST', path: request.path ?? '/v1/events', body };
  return {
    'content-type': 'application/json',
    [TIMESTAMP_HEADER]: String(ts),
    [SIGNATURE_HEADER]: sign(secret, ts, r),
  };
}

/** `legacy`: a valid signature of the 0.1 form (timestamp and body only). */
export type SignatureVerdict = { ok: true; legacy: boolean } | { ok: false; reason: string };

export function verifySignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  request: SignedRequest,
  now = Date.now(),
): SignatureVerdict {
  if (!timestamp || !signature) return { ok: false, reason: 'missing signature headers' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad timestamp' };
  if (Math.abs(now / 1000 - Number(timestamp)) > SIGNATURE_WINDOW_SECONDS)
    return { ok: false, reason: 'stale signature' };
  const legacy = signature.startsWith('sha256=');
  const expected = legacy
    ? signV1(secret, Number(timestamp), request.body)
    : sign(secret, Number(timestamp), request);
  if (!equal(signature, expected)) return { ok: false, reason: 'bad signature' };
  return { ok: true, legacy };
}

/** Constant time: the comparison takes as long whatever prefix matches. */
function equal(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A secret Rebound will sign with: at least MIN_SECRET_BYTES, else the reason in words. */
export function secretProblem(secret: string): string | undefined {
  const bytes = Buffer.byteLength(secret);
  if (bytes === 0) return 'the secret is empty';
  if (bytes < MIN_SECRET_BYTES)
    return `the secret is ${bytes} bytes; at least ${MIN_SECRET_BYTES} are needed (e.g. openssl rand -hex 32)`;
  return undefined;
}
