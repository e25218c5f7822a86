import { join } from 'node:path';
import type { Command, CommandOf } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { assertNever } from '../core/never.ts';
import type { ActingFor, Owner } from '../core/owner.ts';
import type { CommandEnvelope } from './command-check.ts';
import type { HookConfig } from './config.ts';
import { ExecError, Refusal } from './errors.ts';
import { run } from './exec.ts';
import { failure, type ResultData, resultEvent } from './result.ts';
import { SlurmExecutor } from './slurm-executor.ts';
import { TorcApiError } from './torc-client.ts';
import type { TorcExecutor } from './torc-executor.ts';

export interface ExecutorOptions {
  cluster: string;
  /** Captured jobs and rendered scripts live here. */
  stateDir: string;
  /** Hook name → what it runs and may see, from the relay's own config; nothing else can be run. */
  hooks: Record<string, HookConfig>;
  /** Whose jobs it acts for (core/owner.ts): its own user's, or each owner's within the site's rules. */
  actingFor: ActingFor;
  /** An sbatch refusal about a partition: the partitions may have changed (relay/discovery.ts). */
  partitionsChanged?: () => void;
  /** The owner of a job the queue watch saw without a tag (relay/queue-watch.ts). */
  seenUntagged?: (jobId: string) => Owner | undefined;
  /** Absent when the relay has no Torc server configured: Torc commands then fail with that reason. */
  torc?: TorcExecutor;
  now?: () => Date;
}

/** Executes one typed command and returns the events that report it. */
export class Executor {
  /** Plain Slurm jobs: captures, readings, resubmissions (relay/slurm-executor.ts). */
  private readonly slurm: SlurmExecutor;

  constructor(private readonly opts: ExecutorOptions) {
    this.slurm = new SlurmExecutor({
      cluster: opts.cluster,
      jobsDir: join(opts.stateDir, 'jobs'),
      intentsDir: join(opts.stateDir, 'intents'),
      actingFor: opts.actingFor,
      ...(opts.partitionsChanged ? { partitionsChanged: opts.partitionsChanged } : {}),
      ...(opts.seenUntagged ? { seenUntagged: opts.seenUntagged } : {}),
      now: () => this.now(),
    });
  }

  /** Abandons its long waits (commands under way come back to the next start): before the relay stops. */
  stop(): void {
    this.slurm.stop();
  }

  async execute(command: Command): Promise<Event[]> {
    try {
      switch (command.type) {
        case 'slurm.enrich': {
          const reading = await this.slurm.enrich(command);
          return [typeof reading === 'string' ? this.result(command, failure(reading)) : reading];
        }
        case 'slurm.resubmit':
          return [this.result(command, await this.slurm.resubmit(command))];
        case 'hook.run':
          return [this.result(command, await this.runHook(command))];
        case 'torc.update-resources':
        case 'torc.reset-jobs':
        case 'torc.submit-allocations':
          if (!this.opts.torc) return [this.result(command, failure('no Torc server in the relay config'))];
          return [this.result(command, { ok: true, ...(await this.opts.torc.execute(command)) })];
        case 'torc.cleanup-allocation': {
          if (!this.opts.torc) return [this.result(command, failure('no Torc server in the relay config'))];
          const failed = await this.opts.torc.cleanupAllocation(command.workflowId, command.slurmJobId);
          return [
            this.result(command, {
              ok: true,
              slurmJobIds: [],
              alreadyDone: failed.length === 0,
              output: failed.length
                ? `marked failed (orphaned): job(s) ${failed.join(', ')}`
                : 'no orphaned jobs',
            }),
          ];
        }
        case 'job.logs': {
          const torc = command.torc ? this.opts.torc : undefined;
          if (command.torc && !torc)
            return [this.result(command, failure('no Torc server in the relay config'))];
          const log = await (torc ? torc.logs(command) : this.slurm.logs(command));
          const output = `${log.path}${log.truncated ? ` (last ${command.lines} lines at most)` : ''}`;
          return [this.result(command, { ok: true, slurmJobIds: [], alreadyDone: false, output, log })];
        }
        case 'torc.sync': {
          if (!this.opts.torc) return [this.result(command, failure('no Torc server in the relay config'))];
          const output = await this.opts.torc.syncOrphans(command.workflowId, command.dryRun);
          return [this.result(command, { ok: true, slurmJobIds: [], alreadyDone: false, output })];
        }
        default:
          return assertNever(command, 'command');
      }
    } catch (error) {
      // A 4xx from Torc will not change on retry: report it. Connection errors and 5xx propagate, so the
      // command stays leased and is retried.
      const final = error instanceof TorcApiError && error.status >= 400 && error.status < 500;
      if (!(error instanceof ExecError) && !(error instanceof Refusal) && !final) throw error;
      return [this.result(command, failure((error as Error).message))];
    }
  }

  private async runHook(command: CommandOf<'hook.run'>): Promise<ResultData> {
    const hook = this.opts.hooks[command.hook];
    if (!hook) return failure(`hook "${command.hook}" is not in the relay config`);
    const id = command.workflowId === undefined ? [] : [String(command.workflowId)];
    // Only what the hook's own config lists, besides the minimal environment (relay/exec.ts).
    const listed = Object.fromEntries(
      hook.env.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])),
    );
    try {
      const { stdout, stderr } = await run([...hook.command, ...id], {
        extraEnv: { ...listed, ...(id.length ? { TORC_WORKFLOW_ID: id[0]! } : {}) },
      });
      return { ok: true, slurmJobIds: [], alreadyDone: false, output: `${stdout}${stderr}`.slice(-4000) };
    } catch (error) {
      if (!(error instanceof ExecError)) throw error;
      return { ...failure(`hook "${command.hook}" exited ${error.code}`), output: error.output.slice(-4000) };
    }
  }

  /** The answer to a command this relay cannot run (relay/command-check.ts): a failed result. */
  refuse(envelope: CommandEnvelope, reason: string): Event[] {
    return [resultEvent(this.opts.cluster, envelope, failure(reason), this.now())];
  }

  private result(command: Command, data: ResultData): Event {
    return resultEvent(this.opts.cluster, command, data, this.now());
  }

  private now() {
    return this.opts.now?.() ?? new Date();
  }
}
