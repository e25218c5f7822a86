import type { CommandQueue, StateStore } from '../core/ports.ts';
import type { ServiceConfig } from './config.ts';

/** What every handler of the service needs: the two ports, the configuration and a clock. */
export interface ServiceDeps {
  store: StateStore;
  commands: CommandQueue;
  config: ServiceConfig;
  now: () => Date;
}
