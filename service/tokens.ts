import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { workloadOwner } from '../core/ids.ts';
import { USER_NAME, UserNameSchema } from '../core/owner.ts';
import type { StatusStore } from '../core/ports.ts';

// People read workloads with a token of their own, never with the webhook secret (that is for hooks and
// the relay). A token is `rbt:<user>:<secret>`: the user says which record to check, the secret proves it;
// only the secret's SHA-256 is stored. A user sees the workloads whose key names them as owner (site
// mode: `train@alice`); an administrator's token (and the one user's in user mode) sees all.

/** Who is reading. */
export interface Reader {
  user: string;
  admin: boolean;
}

const TOKEN_RE = new RegExp(`^rbt:(${USER_NAME}):([A-Za-z0-9_-]{43})$`);
const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** What an administrator asks for (`rebound token create`, POST /v1/tokens). */
export const TokenRequestSchema = z.strictObject({
  user: UserNameSchema,
  uid: z.number().int().nonnegative(),
  admin: z.boolean().default(false),
});

/** A new token for `user`, replacing any they had; returned once, stored only as a hash. */
export async function mintToken(
  store: Pick<StatusStore, 'putToken'>,
  who: { user: string; uid: number; admin: boolean },
  now: Date,
): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  await store.putToken({ ...who, hash: sha256(secret).toString('hex'), createdAt: now.toISOString() });
  return `rbt:${who.user}:${secret}`;
}

/** Revokes `user`'s token; false when they had none in force. */
export async function revokeToken(store: StatusStore, user: string, now: Date): Promise<boolean> {
  const record = await store.getToken(user);
  if (!record || record.revokedAt) return false;
  await store.putToken({ ...record, hash: '', revokedAt: now.toISOString() });
  return true;
}

/** The reader a token proves, or undefined (malformed, unknown, revoked or wrong). */
export async function authenticate(
  store: Pick<StatusStore, 'getToken'>,
  token: string | undefined,
): Promise<Reader | undefined> {
  const m = token ? TOKEN_RE.exec(token) : null;
  if (!m) return undefined;
  const [, user, secret] = m as unknown as [string, string, string];
  const record = await store.getToken(user);
  if (!record || record.revokedAt || record.hash.length !== 64) return undefined;
  return timingSafeEqual(sha256(secret), Buffer.from(record.hash, 'hex'))
    ? { user, admin: record.admin }
    : undefined;
}

/**
 * Whether `reader` may see a workload: an administrator all, a user only their own — a plain workload's
 * key names its owner (`train@alice`), a Torc workload's record does.
 */
export const canRead = (reader: Reader, workload: { key: string; owner?: string } | undefined) =>
  workload !== undefined && (reader.admin || (workload.owner ?? workloadOwner(workload.key)) === reader.user);
