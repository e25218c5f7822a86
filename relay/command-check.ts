import * as z from 'zod';
import { type Command, CommandSchema, CommandTypeSchema, PROTOCOL } from '../core/commands.ts';
import { IdSchema } from '../core/ids.ts';
import { describeIssues } from '../core/zod-errors.ts';
import { RELAY_VERSION } from './version.ts';

// A command is checked again on the login node (the relay trusts no sender). One this relay cannot run —
// a newer protocol, a type it does not know, fields it cannot read — is answered with a failed result
// naming this relay's version, so the service stops that recovery with a reason instead of waiting.

/** The fields every command has had since the first protocol: enough to answer it. */
const EnvelopeSchema = z.looseObject({
  id: IdSchema,
  type: z.string().min(1).max(100),
  workload: z.string().min(1).max(200),
  protocol: z.number().int().positive().optional(),
});
export type CommandEnvelope = z.infer<typeof EnvelopeSchema>;

export type CommandCheck =
  | { ok: true; command: Command }
  /** Not runnable here, but answerable: a failed result goes back for its id. */
  | { ok: false; envelope: CommandEnvelope; reason: string }
  /** Not even an id to answer: only a log line. */
  | { ok: false; envelope?: undefined; reason: string };

export function checkCommand(body: unknown): CommandCheck {
  const envelope = EnvelopeSchema.safeParse(body);
  if (!envelope.success)
    return {
      ok: false,
      reason: `malformed command: ${describeIssues(envelope.error, 'command').join('; ')}`,
    };
  const e = envelope.data;
  const relay = `relay ${RELAY_VERSION}, protocol ${PROTOCOL}`;
  if ((e.protocol ?? 1) > PROTOCOL)
    return {
      ok: false,
      envelope: e,
      reason: `unsupported command ${e.type} (protocol ${e.protocol}; ${relay})`,
    };
  if (!CommandTypeSchema.safeParse(e.type).success)
    return { ok: false, envelope: e, reason: `unsupported command ${e.type} (${relay})` };
  const parsed = CommandSchema.safeParse(body);
  if (!parsed.success)
    return {
      ok: false,
      envelope: e,
      reason: `malformed command ${e.type}: ${describeIssues(parsed.error, 'command').join('; ')} (${relay})`,
    };
  return { ok: true, command: parsed.data };
}
