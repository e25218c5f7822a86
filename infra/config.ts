import { parseServiceConfig } from '../service/config.ts';

/**
 * The service config (policy + HPC profile) as it is deployed: validated with the same zod schema the
 * service uses, at config evaluation, so `sst deploy` fails on a bad value with the field's path.
 * The functions receive it as REBOUND_CONFIG.
 */
export function serviceConfig(input: unknown): string {
  parseServiceConfig(input);
  return JSON.stringify(input);
}
