import { Resource } from 'sst';
import { ConfigError } from '../core/errors.ts';
import type { Event } from '../core/events.ts';
import { secretProblem } from '../service/signature.ts';
import { clients, need, serviceConfig } from './deps.ts';
import { DynamoStatusStore } from './dynamo-status-store.ts';
import { SqsSender } from './sqs-sender.ts';

/**
 * The webhook secret, linked to this function alone (infra/service.ts: `link: [secret]`): SST hands it over
 * encrypted with the function's key, so it is in no environment variable of any function.
 */
function linkedSecret(): string {
  let secret: string;
  try {
    // sst-env.d.ts types the link for the infra build; the app's build does not see that file.
    secret = (Resource as unknown as { WebhookSecret: { value: string } }).WebhookSecret.value;
  } catch (error) {
    throw new ConfigError('environment', [
      `WebhookSecret: not linked to this function (${(error as Error).message})`,
    ]);
  }
  const weak = secretProblem(secret);
  if (weak) throw new ConfigError('environment', [`WebhookSecret: ${weak}`]);
  return secret;
}

/**
 * What people's requests need (the MCP function's): the status half of the store and the events queue to
 * put their requests on — no secret: nothing there checks a signature.
 */
export function readerDeps(env: NodeJS.ProcessEnv = process.env) {
  const table = need(env, 'REBOUND_TABLE');
  const { dynamo, sqs } = clients();
  return {
    store: new DynamoStatusStore(dynamo, table),
    config: serviceConfig(env),
    // No dedupe record of accepted ids (a write and a read per POST): a standard queue delivers at least
    // once anyway, so the worker is what makes a repeated event harmless (service/dispatch.ts), and a repeat
    // the sender posts costs one more message, not a second action.
    events: new SqsSender<Event>(sqs, { url: need(env, 'REBOUND_EVENTS_URL') }),
  };
}

/** The API function's: the status half of the store, the events queue to send to, and the secret. */
export function apiDeps(env: NodeJS.ProcessEnv = process.env) {
  return { ...readerDeps(env), secret: linkedSecret() };
}
