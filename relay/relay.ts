import type { CommandQueue, QueueMessage } from '../core/ports.ts';
import { checkCommand } from './command-check.ts';
import { Abandoned } from './errors.ts';
import type { Executor } from './executor.ts';
import { backoffMs, type LoopHealth, LoopRecord } from './loop-health.ts';
import type { Poster } from './poster.ts';

export interface RelayOptions {
  commands: CommandQueue;
  executor: Executor;
  poster: Poster;
  /**
   * Commands under way at once (default 256). Each runs on its own: one waiting for sacct or a slow hook
   * never holds up the others; most of them wait, and Slurm's own commands are limited separately
   * (relay/exec.ts).
   */
  concurrency?: number;
  log?: (line: string) => void;
}

/** A little longer than the slowest command (enrichment waits ≤ 35 s for sacct): after a crash it comes back within a minute. */
const LEASE_SECONDS = 60;

/**
 * The login-node loop: pull commands, validate them again (the relay trusts no sender), execute, post the
 * results, and only then delete the command, so a crash re-runs it (each command is idempotent). Commands
 * run side by side, a new one taken as soon as one finishes — never in batches that wait for their slowest.
 * Nothing ends the loop but `stop`: a queue that refuses connections or a spool folder that vanished is
 * recorded, logged once per episode, and retried with backoff.
 */
export class Relay {
  private active = false;
  private loop?: Promise<void>;
  private readonly record: LoopRecord;
  private sleeping?: { wake: () => void };
  private readonly underWay = new Set<Promise<void>>();
  /** Ids of the commands under way: a copy delivered again meanwhile (its lease ran out) is left alone. */
  private readonly running = new Set<string>();

  constructor(private readonly opts: RelayOptions) {
    this.record = new LoopRecord('relay', opts.log ?? (() => {}));
  }

  health(): LoopHealth {
    return this.record.health;
  }

  start(): void {
    this.active = true;
    this.loop = this.run();
  }

  /** Takes no more commands, lets those under way finish (the executor abandons its long waits first). */
  async stop(): Promise<void> {
    this.active = false;
    this.sleeping?.wake();
    await this.loop;
    await Promise.all(this.underWay);
  }

  private async run(): Promise<void> {
    while (this.active) {
      try {
        await this.once();
        this.record.succeeded();
      } catch (error) {
        const delay = backoffMs(this.record.failures + 1, 500, 30_000);
        this.record.failed(error, delay);
        await this.sleep(delay);
      }
    }
  }

  /** Waits `ms`, or less when woken (stop, a command finishing while every slot was taken). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const timer = setTimeout(r, ms);
      this.sleeping = {
        wake: () => {
          clearTimeout(timer);
          r();
        },
      };
    });
  }

  /** One round: drain the spool, take as many commands as there are free slots, start each. */
  private async once(): Promise<void> {
    await this.opts.poster.drain();
    const free = (this.opts.concurrency ?? 256) - this.underWay.size;
    if (free <= 0) return this.sleep(1000);
    const messages = await this.opts.commands.receive(Math.min(free, 10), LEASE_SECONDS);
    // Locally the queue is a table in the same process: a short look costs nothing (SQS waits in receive).
    if (messages.length === 0) return this.sleep(50);
    for (const m of messages) {
      const handling: Promise<void> = this.handle(m).finally(() => {
        this.underWay.delete(handling);
        this.sleeping?.wake();
      });
      this.underWay.add(handling);
    }
  }

  private async handle(m: QueueMessage<unknown>): Promise<void> {
    const log = this.opts.log ?? (() => {});
    try {
      const check = checkCommand(m.body);
      if (!check.ok) {
        log(
          `relay: refused ${check.envelope ? `command ${check.envelope.id}` : 'a command'}: ${check.reason}`,
        );
        if (check.envelope)
          await this.opts.poster.post(this.opts.executor.refuse(check.envelope, check.reason));
        await this.opts.commands.delete(m.receipt);
        return;
      }
      const { command } = check;
      // Still running here: this copy is not deleted (the first run deletes the command or, its receipt
      // being stale now, leaves it for a later delivery that finds the work done).
      if (this.running.has(command.id)) return;
      this.running.add(command.id);
      try {
        const events = await this.opts.executor.execute(command);
        await this.opts.poster.post(events);
        await this.opts.commands.delete(m.receipt);
        log(`relay: ${command.type} ${command.id} done`);
      } catch (error) {
        // Stopping: the command's lease runs out and it comes back to the next start, not counted as failed.
        if (error instanceof Abandoned)
          return log(`relay: ${command.type} ${command.id} left for the next start`);
        log(`relay: ${command.type} ${command.id} failed, will retry: ${(error as Error).message}`);
        await this.opts.commands.fail?.(m.receipt, (error as Error).message);
      } finally {
        this.running.delete(command.id);
      }
    } catch (error) {
      // The queue or the spool refused (the post and delete above): the command comes back after its lease.
      this.record.failed(error, LEASE_SECONDS * 1000);
    }
  }
}
