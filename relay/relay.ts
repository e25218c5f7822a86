import type { CommandQueue } from '../core/ports.ts';
import { checkCommand } from './command-check.ts';
import type { Executor } from './executor.ts';
import { backoffMs, type LoopHealth, LoopRecord } from './loop-health.ts';
import type { Poster } from './poster.ts';

export interface RelayOptions {
  commands: CommandQueue;
  executor: Executor;
  poster: Poster;
  /** Commands run at once (enrichment waits on sacct; submissions should not queue behind it). */
  concurrency?: number;
  log?: (line: string) => void;
}

/**
 * The login-node loop: pull commands, validate them again (the relay trusts no sender), execute, post the
 * results, and only then delete the command, so a crash re-runs it (each command is idempotent). Nothing
 * ends the loop but `stop`: a queue that refuses connections or a spool folder that vanished is recorded,
 * logged once per episode, and retried with backoff.
 */
export class Relay {
  private running = false;
  private loop?: Promise<void>;
  private readonly record: LoopRecord;
  private sleeping?: { wake: () => void };

  constructor(private readonly opts: RelayOptions) {
    this.record = new LoopRecord('relay', opts.log ?? (() => {}));
  }

  health(): LoopHealth {
    return this.record.health;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleeping?.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
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

  /** One round: drain the spool, receive commands, run them. */
  private async once(): Promise<void> {
    const log = this.opts.log ?? (() => {});
    await this.opts.poster.drain();
    // A lease a little longer than the slowest command (enrichment waits ≤ 35 s for sacct): after a crash
    // the command comes back within a minute.
    const messages = await this.opts.commands.receive(this.opts.concurrency ?? 4, 60);
    if (messages.length === 0) return this.sleep(200);
    await Promise.all(
      messages.map(async (m) => {
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
        try {
          const events = await this.opts.executor.execute(command);
          await this.opts.poster.post(events);
          await this.opts.commands.delete(m.receipt);
          log(`relay: ${command.type} ${command.id} done`);
        } catch (error) {
          log(`relay: ${command.type} ${command.id} failed, will retry: ${(error as Error).message}`);
          await this.opts.commands.fail?.(m.receipt, (error as Error).message);
        }
      }),
    );
  }
}
