import pkg from '../package.json' with { type: 'json' };

/** This relay's release, named in every refusal of a command it cannot run. */
export const RELAY_VERSION: string = pkg.version;
