import type { Command } from '../core/commands.ts';
import type { Sender, StateStore, StatusStore } from '../core/ports.ts';
import type { ServiceConfig } from './config.ts';
import type { Telemetry } from './telemetry.ts';

/** What every handler of the service needs: the two ports, the configuration and a clock. */
export interface ServiceDeps {
  store: StateStore;
  commands: Sender<Command>;
  config: ServiceConfig;
  now: () => Date;
  /** Metrics and log lines (service/telemetry.ts); none in tests. */
  telemetry?: Telemetry;
}

/** What reading and planning need (the status API, `rebound plan`): no writes. */
export interface ReadDeps {
  store: StatusStore;
  config: ServiceConfig;
  now: () => Date;
}
