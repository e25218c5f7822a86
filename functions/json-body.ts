import type { Context } from 'hono';
import type * as z from 'zod';
import { describeIssues } from '../core/zod-errors.ts';

/** A request's JSON body, validated (an empty body is {}), or the 400 that names each bad field. */
export async function parseBody<T>(c: Context, schema: z.ZodType<T>, what: string): Promise<T | Response> {
  const text = await c.req.text();
  let json: unknown = {};
  try {
    if (text.trim()) json = JSON.parse(text);
  } catch {
    return c.json({ error: `invalid ${what}`, fields: ['(root): not JSON'] }, 400);
  }
  const parsed = schema.safeParse(json);
  return parsed.success
    ? parsed.data
    : c.json({ error: `invalid ${what}`, fields: describeIssues(parsed.error) }, 400);
}
