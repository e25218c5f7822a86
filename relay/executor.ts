import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, CommandOf } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { assertNever } from '../core/never.ts';
import { plainJobResubmission } from '../core/sbatch-script.ts';
import { type CapturedJob, CapturedJobSchema } from '../core/scontrol.ts';
import { formatTag, parseTag } from '../core/tag.ts';
import type { CommandEnvelope } from './command-check.ts';
import type { HookConfig } from './config.ts';
import { ExecError } from './errors.ts';
import { run } from './exec.ts';
import { failure, type ResultData, resultEvent } from './result.ts';
import { captureJob, findJobsByComment, sacctFinal, sbatch } from './slurm.ts';
import { pathIn, writeFileAtomic } from './state-file.ts';
import { TorcApiError } from './torc-client.ts';
import type { TorcExecutor } from './torc-executor.ts';

export interface ExecutorOptions {
  cluster: string;
  /** Captured jobs and rendered scripts live here. */
  stateDir: string;
  /** Hook name → what it runs and may see, from the relay's own config; nothing else can be run. */
  hooks: Record<string, HookConfig>;
  /** The user the relay runs as: it submits as this user, and only this user's jobs are its own. */
  user: string;
  /** Absent when the relay has no Torc server configured: Torc commands then fail with that reason. */
  torc?: TorcExecutor;
  now?: () => Date;
}

/** Executes one typed command and returns the events that report it. */
export class Executor {
  private readonly jobsDir: string;
  private readonly scriptsDir: string;

  constructor(private readonly opts: ExecutorOptions) {
    this.jobsDir = join(opts.stateDir, 'jobs');
    this.scriptsDir = join(opts.stateDir, 'scripts');
    mkdirSync(this.jobsDir, { recursive: true });
    mkdirSync(this.scriptsDir, { recursive: true });
  }

  async execute(command: Command): Promise<Event[]> {
    try {
      switch (command.type) {
        case 'slurm.enrich':
          return await this.enrich(command);
        case 'slurm.resubmit':
          return [this.result(command, await this.resubmit(command))];
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
        default:
          return assertNever(command, 'command');
      }
    } catch (error) {
      // A 4xx from Torc will not change on retry: report it. Connection errors and 5xx propagate, so the
      // command stays leased and is retried.
      const final = error instanceof TorcApiError && error.status >= 400 && error.status < 500;
      if (!(error instanceof ExecError) && !final) throw error;
      return [this.result(command, failure((error as Error).message))];
    }
  }

  /** Keeps a tagged job's script and options for its resubmission; scontrol forgets it after MinJobAge. */
  async capture(jobId: string): Promise<CapturedJob | undefined> {
    const captured = await captureJob(jobId);
    if (captured && parseTag(captured.comment)) {
      writeFileAtomic(pathIn(this.jobsDir, jobId, '.json'), JSON.stringify(captured));
    }
    return captured;
  }

  captured(jobId: string): boolean {
    return existsSync(pathIn(this.jobsDir, jobId, '.json'));
  }

  private readCaptured(jobId: string): CapturedJob | undefined {
    const path = pathIn(this.jobsDir, jobId, '.json');
    return existsSync(path) ? CapturedJobSchema.parse(JSON.parse(readFileSync(path, 'utf8'))) : undefined;
  }

  /** Capture first (unless the sacct watcher already did), then wait for sacct's final record. */
  private async enrich(command: CommandOf<'slurm.enrich'>): Promise<Event[]> {
    const captured = this.readCaptured(command.jobId) ?? (await this.capture(command.jobId));
    const job = await sacctFinal(command.jobId);
    if (!job) {
      return [this.result(command, failure(`sacct has no final record of job ${command.jobId}`))];
    }
    job.comment ||= captured?.comment;
    return [
      {
        id: eventIds.sacct(this.opts.cluster, command.jobId),
        version: 1,
        source: 'relay:sacct',
        occurredAt: this.now().toISOString(),
        cluster: this.opts.cluster,
        type: 'slurm.sacct',
        data: job,
      },
    ];
  }

  /** Never twice: a job already carrying this command's tag (queued or finished) is the answer. */
  private async resubmit(command: CommandOf<'slurm.resubmit'>): Promise<ResultData> {
    const comment = formatTag({ workload: command.workload, commandTag: command.tag });
    const existing = await findJobsByComment(comment, new Date(command.createdAt), this.opts.user);
    if (existing.length) return { ok: true, slurmJobIds: existing, alreadyDone: true, output: '' };
    const captured = this.readCaptured(command.jobId);
    if (!captured) return failure(`job ${command.jobId}'s script was not captured while Slurm knew it`);
    const submission = plainJobResubmission(captured, command.resources, comment);
    const script = pathIn(this.scriptsDir, command.id, '.sh');
    writeFileAtomic(script, submission.script, 0o700);
    const id = await sbatch(submission.argv, script);
    return { ok: true, slurmJobIds: [id], alreadyDone: false, output: `submitted ${id}` };
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
