import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, CommandOf } from '../core/commands.ts';
import type { DependentsReport, Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { exportFile } from '../core/job-environment.ts';
import { assertNever } from '../core/never.ts';
import { type ActingFor, refusal } from '../core/owner.ts';
import type { SacctJob } from '../core/sacct.ts';
import { plainJobResubmission } from '../core/sbatch-script.ts';
import { type CapturedJob, CapturedJobSchema, requeuedBySlurm } from '../core/scontrol.ts';
import { parseTag } from '../core/tag.ts';
import type { CommandEnvelope } from './command-check.ts';
import type { HookConfig } from './config.ts';
import { rewireDependents } from './dependents.ts';
import { ExecError, Refusal } from './errors.ts';
import { run } from './exec.ts';
import { failure, type ResultData, resultEvent } from './result.ts';
import {
  arrayStatus,
  captureJob,
  findJobsByComment,
  homeOf,
  leavesANode,
  queuedJob,
  sacctFinal,
  sbatch,
  submittedEnvironment,
} from './slurm.ts';
import { pathIn, writeFileAtomic } from './state-file.ts';
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
  /** Absent when the relay has no Torc server configured: Torc commands then fail with that reason. */
  torc?: TorcExecutor;
  now?: () => Date;
}

/** Executes one typed command and returns the events that report it. */
export class Executor {
  private readonly jobsDir: string;

  constructor(private readonly opts: ExecutorOptions) {
    this.jobsDir = join(opts.stateDir, 'jobs');
    mkdirSync(this.jobsDir, { recursive: true });
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
      if (!(error instanceof ExecError) && !(error instanceof Refusal) && !final) throw error;
      return [this.result(command, failure((error as Error).message))];
    }
  }

  /**
   * Keeps a tagged job's script, options and owner for its resubmission (scontrol forgets them after
   * MinJobAge). Only a job of an owner this relay acts for: another user's job is never captured.
   */
  async capture(
    jobId: string,
    known?: Awaited<ReturnType<typeof queuedJob>>,
  ): Promise<CapturedJob | undefined> {
    const queued = known ?? (await queuedJob(jobId));
    if (!queued || !parseTag(queued.comment) || refusal(queued.owner, this.opts.actingFor)) return undefined;
    const captured = await captureJob(jobId, queued);
    if (captured) writeFileAtomic(pathIn(this.jobsDir, jobId, '.json'), JSON.stringify(captured));
    return captured;
  }

  captured(jobId: string): boolean {
    return existsSync(pathIn(this.jobsDir, jobId, '.json'));
  }

  /** A capture from before owners were kept (0.2) does not parse: it is as if there were none. */
  private readCaptured(jobId: string): CapturedJob | undefined {
    const path = pathIn(this.jobsDir, jobId, '.json');
    if (!existsSync(path)) return undefined;
    const parsed = CapturedJobSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Capture first (unless the sacct watcher already did), then wait for sacct's final record. The event
   * carries the owner as sacct accounts it and, for an owner this relay does not act for, why not.
   */
  private async enrich(command: CommandOf<'slurm.enrich'>): Promise<Event[]> {
    const queued = await queuedJob(command.jobId);
    const captured = this.readCaptured(command.jobId) ?? (await this.capture(command.jobId, queued));
    // This end was one run's: Slurm has queued the job again under the same id (a node failure, a
    // preemption). It is followed, not resubmitted: its next end is another event.
    if (queued && requeuedBySlurm(queued.state)) {
      const owner = captured?.owner ?? queued.owner;
      const foreign = refusal(owner, this.opts.actingFor);
      return [
        this.sacctEvent(command, {
          jobId: command.jobId,
          state: command.state ?? 'REQUEUED',
          exitCode: '',
          owner,
          ...(queued.comment ? { comment: queued.comment } : {}),
          ...(foreign ? { foreign } : {}),
          requeued: true,
        }),
      ];
    }
    const job = await sacctFinal(command.jobId);
    if (!job) {
      return [this.result(command, failure(`sacct has no final record of job ${command.jobId}`))];
    }
    job.comment ||= captured?.comment;
    // slurmctld's owner (squeue, at capture) before the accounting database's (sacct's UID).
    if (captured) job.owner = captured.owner;
    const foreign = job.owner
      ? refusal(job.owner, this.opts.actingFor)
      : 'sacct reported no owner for this job, so nobody is acted for';
    if (foreign) job.foreign = foreign;
    // A failed job of ours: whether the cluster kept the environment it was submitted with (only that word
    // travels; the variables stay with Slurm until the resubmission reads them).
    if (captured && !foreign && !job.state.startsWith('COMPLETED'))
      job.environment =
        typeof (await submittedEnvironment(command.jobId)) === 'object' ? 'stored' : 'not-stored';
    // A failed array task: where its whole array stands, so its failed tasks are resubmitted together.
    if (job.array && !foreign && !job.state.startsWith('COMPLETED'))
      job.array = { ...job.array, progress: await arrayStatus(job.array.jobId) };
    return [this.sacctEvent(command, job)];
  }

  /** The reading of one end of a job, named after the run the enrichment asked about. */
  private sacctEvent(command: CommandOf<'slurm.enrich'>, data: SacctJob): Event {
    return {
      id: eventIds.sacct(this.opts.cluster, command.jobId, command.endedAt),
      version: 1,
      source: 'relay:sacct',
      occurredAt: this.now().toISOString(),
      cluster: this.opts.cluster,
      type: 'slurm.sacct',
      data,
    };
  }

  /**
   * As the captured job's owner (who Slurm said it was), and only for an owner this relay acts for. Never
   * twice: a job of that owner already carrying this command's tag (queued or finished) is the answer.
   */
  private async resubmit(command: CommandOf<'slurm.resubmit'>): Promise<ResultData> {
    const captured = this.readCaptured(command.jobId);
    if (!captured) return failure(`job ${command.jobId}'s script was not captured while Slurm knew it`);
    const refused = refusal(captured.owner, this.opts.actingFor);
    if (refused) return failure(`job ${command.jobId} is not resubmitted: it is ${refused}`);
    const { user } = captured.owner;
    const existing = await findJobsByComment(command.comment, new Date(command.createdAt), user);
    if (existing.length) {
      // Submitted before a crash: its dependents may not have been rewired yet.
      const { dependents, note } = await this.rewire(command, existing[0]!);
      return {
        ok: true,
        slurmJobIds: existing,
        alreadyDone: true,
        output: note,
        ...(dependents ? { dependents } : {}),
      };
    }
    // A node failure's retry keeps off the nodes it ran on, unless that leaves its partition none.
    let resources = command.resources;
    let kept = '';
    if (
      resources.exclude &&
      !(await leavesANode(resources.partition ?? captured.partition, resources.exclude))
    ) {
      kept = `; not kept off ${resources.exclude}: its partition has no other node`;
      const { exclude: _, ...rest } = resources;
      resources = rest;
    }
    // The environment it was submitted with, read now and passed through a pipe: never kept on disk.
    const env = await submittedEnvironment(command.jobId);
    const exact = typeof env === 'object';
    const submission = plainJobResubmission(captured, resources, command.comment, {
      ...(command.tasks ? { tasks: command.tasks } : {}),
      environment: exact ? 'exact' : 'login',
    });
    const id = await sbatch(
      submission,
      this.opts.actingFor.mode === 'user' ? { as: 'self' } : { as: 'owner', user, home: await homeOf(user) },
      exact ? { exportFile: exportFile(env), submitDir: env.submitDir } : {},
    );
    const as = this.opts.actingFor.mode === 'user' ? '' : ` as ${user}`;
    const tasks = command.tasks ? ` (array tasks ${command.tasks.join(',')})` : '';
    const environment = exact ? 'its original environment' : `a login environment of ${user}`;
    const { dependents, note } = await this.rewire(command, id);
    return {
      ok: true,
      slurmJobIds: [id],
      alreadyDone: false,
      output: `submitted ${id}${tasks}${as} with ${environment}${kept}${note}`,
      ...(dependents ? { dependents } : {}),
    };
  }

  /**
   * The pending jobs waiting on the resubmitted job (or array, or array task) wait on the new one. The
   * submission stands whatever happens here: a failure is said in the output, not made the command's.
   */
  private async rewire(
    command: CommandOf<'slurm.resubmit'>,
    newId: string,
  ): Promise<{ dependents?: DependentsReport; note: string }> {
    const array = command.jobId.split('_')[0]!;
    const replacements = command.tasks
      ? [
          { from: array, to: newId },
          ...command.tasks.map((t) => ({ from: `${array}_${t}`, to: `${newId}_${t}` })),
        ]
      : [{ from: command.jobId, to: newId }];
    try {
      const dependents = await rewireDependents(replacements, this.opts.actingFor);
      const n = dependents.rewired.length + dependents.reported.length;
      return n ? { dependents, note: `; ${n} dependent job(s)` } : { note: '' };
    } catch (error) {
      if (!(error instanceof ExecError)) throw error;
      return { note: `; its dependents could not be rewired: ${error.message}` };
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
