import type { Command } from '../../core/commands.ts';
import { parseServiceConfig } from '../../service/config.ts';
import type { ServiceDeps } from '../../service/deps.ts';
import { MemoryQueue } from './memory-queue.ts';
import { MemoryStore } from './memory-store.ts';

/** The test cluster's partitions as a profile: one 2-CPU node, a 1-minute `short` and an unlimited `long`. */
export const LAB_PROFILE = {
  name: 'rebound-lab',
  displayName: 'Rebound test cluster',
  partitions: [
    { name: 'short', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 60 },
    { name: 'long', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 'UNLIMITED' },
  ],
};

export interface TestDeps extends ServiceDeps {
  store: MemoryStore;
  commands: MemoryQueue<Command>;
  /** Moves the clock. */
  advance(seconds: number): void;
}

/**
 * The service with in-memory ports and a clock the test moves: every handler runs in microseconds.
 * `config` is the service config as a user would write it (the lab profile unless it names another).
 */
export function testDeps(config: Record<string, unknown> = {}, start = '2026-11-25T12:00:00Z'): TestDeps {
  let now = Date.parse(start);
  return {
    store: new MemoryStore(),
    commands: new MemoryQueue<Command>(),
    config: parseServiceConfig({ profile: LAB_PROFILE, ...config }),
    now: () => new Date(now),
    advance: (seconds) => {
      now += seconds * 1000;
    },
  };
}

/** The ids of the commands the service sent, in order. */
export const sentIds = (deps: TestDeps) => deps.commands.sent().map((c) => c.id);
