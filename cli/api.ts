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
export function readerToken(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REBOUND_TOKEN) return env.REBOUND_TOKEN.trim();
  const places = [join(resolve(env.REBOUND_DATA ?? '.data'), 'token'), userTokenFile(homedir())];
  for (const file of places) if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new ReboundError(
    `no token: looked for REBOUND_TOKEN, ${places.join(' and ')}; ask your administrator for one (rebound token create <user>)`,
  );
}

/** Where `rebound token create` puts a user's token. */
export const userTokenFile = (home: string) => join(home, '.config', 'rebound', 'token');

/**
 * One request to the service at `url`: the answer's body, or a ReboundError with the service's own words
 * (its error and the fields it names), or saying that it cannot be reached.
 */
export async function request(
  url: string,
  path: string,
  init: RequestInit,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, init);
  } catch {
    throw new ReboundError(`cannot reach Rebound at ${url}: is \`rebound start\` running?`);
  }
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok)
    throw new ReboundError(
      [String(body.error ?? `HTTP ${res.status}`), ...((body.fields as string[] | undefined) ?? [])].join(
        '\n  ',
      ),
      { status: res.status },
    );
  return body;
}

/** A request to the status API with the reader's token (a GET unless told; a POST may carry JSON). */
export function api(path: string, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<unknown> {
  return request(serviceAddress().url, path, {
    method,
    headers: {
      authorization: `Bearer ${readerToken()}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const HealthSchema = z.object({
  events: z.object({ dead: z.number() }).optional(),
  commands: z.object({ dead: z.number() }).optional(),
  loops: z
    .record(
      z.string(),
      z.object({
        lastSuccessAt: z.string().optional(),
        lastError: z.object({ at: z.string(), message: z.string() }).optional(),
      }),
    )
    .default({}),
});

/**
 * What `rebound status` adds from /healthz (the one-process runtime has it): dead letters, if any, and how
 * each loop goes, a loop whose last error is newer than its last success in words. Empty where there is
 * none to ask.
 */
export async function healthLines(): Promise<string[]> {
  let health: z.infer<typeof HealthSchema>;
  try {
    const res = await fetch(`${serviceAddress().url}/healthz`);
    health = HealthSchema.parse(await res.json());
  } catch {
    return [];
  }
  const dead = { events: health.events?.dead ?? 0, commands: health.commands?.dead ?? 0 };
  const lines = Object.entries(health.loops).map(([name, h]) =>
    h.lastError && (!h.lastSuccessAt || h.lastError.at > h.lastSuccessAt)
      ? `  ${name}: failing (last error ${h.lastError.at}): ${h.lastError.message}`
      : `  ${name}: ok${h.lastSuccessAt ? `, last success ${h.lastSuccessAt}` : ''}`,
  );
  return [
    ...(dead.events || dead.commands
      ? ['', `Dead letters: ${dead.events} event(s), ${dead.commands} command(s) — see rebound dead-letters`]
      : []),
    ...(lines.length ? ['', 'Loops:', ...lines] : []),
  ];
}
