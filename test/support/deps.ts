import type { Command } from '../../core/commands.ts';
import { parseServiceConfig } from '../../service/config.ts';
import type { ServiceDeps } from '../../service/deps.ts';
import { LAB_PROFILE } from './lab-profile.ts';
import { MemoryQueue } from './memory-queue.ts';
import { MemoryStore } from './memory-store.ts';

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
