import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { ReboundError } from '../core/errors.ts';
import { serviceAddress } from '../local/settings.ts';

/**
 * The reader's token, first found of: REBOUND_TOKEN; the data folder's (whoever runs `rebound start`:
 * local/local-token.ts); the one an administrator made for this user (`rebound token create`).
 */
function readerToken(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REBOUND_TOKEN) return env.REBOUND_TOKEN.trim();
  const places = [join(resolve(env.REBOUND_DATA ?? '.data'), 'token'), userTokenFile(homedir())];
  for (const file of places) if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new ReboundError(
    `no token: looked for REBOUND_TOKEN, ${places.join(' and ')}; ask your administrator for one (rebound token create <user>)`,
  );
}

/** Where `rebound token create` puts a user's token. */
export const userTokenFile = (home: string) => join(home, '.config', 'rebound', 'token');

/** A GET of the status API with the reader's token; its error message, or the body. */
export async function api(path: string): Promise<unknown> {
  const { url } = serviceAddress();
  const token = readerToken();
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  } catch {
    throw new ReboundError(`cannot reach Rebound at ${url}: is \`rebound start\` running?`);
  }
  const body = (await res.json()) as { error?: string };
  if (!res.ok) throw new ReboundError(body.error ?? `HTTP ${res.status}`);
  return body;
}

const LoopsSchema = z.record(
  z.string(),
  z.object({
    lastSuccessAt: z.string().optional(),
    lastError: z.object({ at: z.string(), message: z.string() }).optional(),
  }),
);

/**
 * How the local relay's loops go (from /healthz: the one-process runtime has them), one line each, a loop
 * whose last error is newer than its last success first in words. Empty where there is none to ask.
 */
export async function relayLoops(): Promise<string[]> {
  let loops: z.infer<typeof LoopsSchema>;
  try {
    const res = await fetch(`${serviceAddress().url}/healthz`);
    loops = LoopsSchema.parse(((await res.json()) as { loops?: unknown }).loops ?? {});
  } catch {
    return [];
  }
  const lines = Object.entries(loops).map(([name, h]) =>
    h.lastError && (!h.lastSuccessAt || h.lastError.at > h.lastSuccessAt)
      ? `  ${name}: failing (last error ${h.lastError.at}): ${h.lastError.message}`
      : `  ${name}: ok${h.lastSuccessAt ? `, last success ${h.lastSuccessAt}` : ''}`,
  );
  return lines.length ? ['', 'Relay:', ...lines] : [];
}
