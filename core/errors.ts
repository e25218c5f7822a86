/** Base of every error Rebound raises on purpose; `name` tells the kind, `context` what a reader needs. */
export class ReboundError extends Error {
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReboundError';
  }
}

/** A memory or duration string that cannot be read; the message quotes it. */
export class UnitParseError extends ReboundError {
  constructor(kind: string, input: string, why: string) {
    super(`invalid ${kind} ${JSON.stringify(input)}: ${why}`, { kind, input });
    this.name = 'UnitParseError';
  }
}

/** A policy, profile or other configuration that fails validation; the message names the field path. */
export class ConfigError extends ReboundError {
  constructor(what: string, issues: string[]) {
    super(`invalid ${what}: ${issues.join('; ')}`, { what, issues });
    this.name = 'ConfigError';
  }
}

/** A value that cannot be placed safely into a batch script or an sbatch argument. */
export class UnsafeValueError extends ReboundError {
  constructor(field: string, value: string, why: string) {
    super(`${field} ${JSON.stringify(value)} ${why}`, { field, value });
    this.name = 'UnsafeValueError';
  }
}

/** A plan needs a cluster's partitions before its relay has reported them (service/cluster.ts). */
export class PartitionsUnknownError extends ReboundError {
  constructor(readonly cluster: string) {
    super(
      `the partitions of cluster ${cluster} are not known yet (its relay reports them when it starts, from scontrol); waiting for them`,
      { cluster },
    );
    this.name = 'PartitionsUnknownError';
  }
}
