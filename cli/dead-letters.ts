import * as z from 'zod';
import { ReboundError } from '../core/errors.ts';
import { api } from './api.ts';
import { UsageError } from './usage-error.ts';

// `rebound dead-letters`: what the service gave up on, and why, with a way to try one again.

const DeadLetterSchema = z.object({
  id: z.string(),
  receives: z.number(),
  lastError: z.string().optional(),
  createdAt: z.string(),
});
const DeadLettersSchema = z.object({
  events: z.array(DeadLetterSchema),
  commands: z.array(DeadLetterSchema),
});
type Queue = keyof z.infer<typeof DeadLettersSchema>;

export async function deadLetters(): Promise<{ json: unknown; text: string }> {
  const json = await api('/v1/dead-letters');
  const list = DeadLettersSchema.parse(json);
  const section = (name: string, items: z.infer<typeof DeadLetterSchema>[]) =>
    items.length
      ? [
          `${name} (${items.length}):`,
          ...items.map(
            (d) =>
              `  ${d.id}  tried ${d.receives}×, first ${d.createdAt}: ${d.lastError ?? '(no error recorded)'}`,
          ),
        ]
      : [`${name}: none`];
  const text = [
    ...section('Events', list.events),
    ...section('Commands', list.commands),
    ...(list.events.length || list.commands.length
      ? ['', 'Try one again with: rebound dead-letters --replay <id>']
      : []),
  ].join('\n');
  return { json, text };
}

/** Replays a dead letter by id, finding its queue when not told. */
export async function replayDeadLetter(id: string, named?: string): Promise<{ queue: Queue; id: string }> {
  if (named !== undefined && named !== 'events' && named !== 'commands')
    throw new UsageError(`--queue is "events" or "commands", not "${named}"`);
  let queue = named as Queue | undefined;
  if (!queue) {
    const list = DeadLettersSchema.parse(await api('/v1/dead-letters'));
    queue = (['events', 'commands'] as const).find((q) => list[q].some((d) => d.id === id));
    if (!queue) throw new ReboundError(`no dead letter "${id}" (rebound dead-letters lists them)`);
  }
  await api(`/v1/dead-letters/${queue}/${encodeURIComponent(id)}/replay`, 'POST');
  return { queue, id };
}
