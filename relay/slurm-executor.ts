import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { CommandOf } from '../core/commands.ts';
import type { DependentsReport, Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { exportFile, scriptExportsVariables } from '../core/job-environment.ts';
import { type ActingFor, type Owner, refusal } from '../core/owner.ts';
import { partitionsMayHaveChanged } from '../core/pending.ts';
import type { SacctJob } from '../core/sacct.ts';
import { plainJobResubmission } from '../core/sbatch-script.ts';
import {
  type CapturedJob,
  CapturedJobSchema,
  perNode,
  type QueuedJob,
  requeuedBySlurm,
} from '../core/scontrol.ts';
import { parseTag } from '../core/tag.ts';
import { rewireDependents } from './dependents.ts';
import { ExecError, Refusal } from './errors.ts';
import { FinalRecords } from './final-records.ts';
import { IntentJournal } from './intents.ts';
import { type LogTail, tailOf } from './job-logs.ts';
import { failure, type ResultData } from './result.ts';
import { captureJob, findJobsByComment, groupsOf, homeOf, leavesANode, sbatch } from './slurm.ts';
import { SlurmLookups } from './slurm-lookups.ts';
import { pathIn, writeFileAtomicAsync } from './state-file.ts';

export interface SlurmExecutorOptions {
  cluster: string;
  /** Where captured jobs are kept, one file each. */
  jobsDir: string;
  /** The intent journal: what this relay submitted, one file per command. */
  intentsDir: string;
  /** Whose jobs it acts for (core/owner.ts). */
  actingFor: ActingFor;
  /** An sbatch refusal about a partition: the partitions may have changed (relay/discovery.ts). */
  partitionsChanged?: () => void;
  /** The owner of a job the queue watch saw without a tag (relay/queue-watch.ts). */
  seenUntagged?: (jobId: string) => Owner | undefined;
  now: () => Date;
}

/**
 * Plain Slurm jobs on the relay: a tagged job captured while Slurm knows it, the reading of a job's end
 * (owner, evidence, environment word, its array, or that Slurm requeued it), and its resubmission as its
 * owner — never twice — with its dependents rewired.
 */
export class SlurmExecutor {
  /** Jobs' final accounting records, read together (one sacct call per half second for all waiting). */
  private readonly finals = new FinalRecords();
  private readonly lookups = new SlurmLookups();
  private readonly intents: IntentJournal;

  constructor(private readonly opts: SlurmExecutorOptions) {
    mkdirSync(opts.jobsDir, { recursive: true });
    this.intents = new IntentJournal(opts.intentsDir);
  }

  /** Abandons the waits for accounting records: their commands come back to the next start. */
  stop(): void {
    this.finals.stop();
  }

  /**
   * Keeps a failed tagged job's script, options and owner for its resubmission (scontrol forgets them after
   * MinJobAge). Only a job of an owner this relay acts for: another user's job is never captured.
   */
  private async capture(jobId: string, queued: QueuedJob | undefined): Promise<CapturedJob | undefined> {
    if (!queued || !parseTag(queued.comment) || refusal(queued.owner, this.opts.actingFor)) return undefined;
    const [record, script] = await Promise.all([
      this.lookups.jobRecord.get(jobId),
      this.lookups.script(queued.owner.user, jobId),
    ]);
    const captured = captureJob(queued, record, script);
    if (captured)
      await writeFileAtomicAsync(pathIn(this.opts.jobsDir, jobId, '.json'), JSON.stringify(captured));
    return captured;
  }

  /**
   * `rebound logs` for a plain job: its output file as its capture names it, read as its owner. Only a job
   * this relay captured (so tagged, and its owner one it acts for) — never a path from the command.
   */
  async logs(command: CommandOf<'job.logs'>): Promise<LogTail> {
    const captured = this.readCaptured(command.jobId);
    if (!captured)
      throw new Refusal(
        `no capture of job ${command.jobId} on this relay (a tagged job is captured while Slurm knows it)`,
      );
    const refused = refusal(captured.owner, this.opts.actingFor);
    if (refused) throw new Refusal(`the log of job ${command.jobId} is not read: ${refused}`);
    const path = command.stream === 'stderr' ? (captured.stderr ?? captured.stdout) : captured.stdout;
    if (!path) throw new Refusal(`Slurm named no ${command.stream} file for job ${command.jobId}`);
    const user = captured.owner.user;
    return tailOf(
      path,
      command.lines,
      this.opts.actingFor.mode === 'user' ? { as: 'self' } : { as: 'owner', user, home: await homeOf(user) },
    );
  }

  /** A capture from before owners were kept (0.2) does not parse: it is as if there were none. */
  private readCaptured(jobId: string): CapturedJob | undefined {
    const path = pathIn(this.opts.jobsDir, jobId, '.json');
    if (!existsSync(path)) return undefined;
    const parsed = CapturedJobSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Capture a failed tagged job (its script and options, while slurmctld still has them), then wait for
   * sacct's final record. The event carries the owner as sacct accounts it and, for an owner this relay
   * does not act for, why not; when there is no reading, why not, in words (the command's failed result).
   * Every Slurm question here is asked together with the other jobs ending at the same time
   * (relay/slurm-lookups.ts, relay/final-records.ts); a job that completed is never captured.
   */
  async enrich(command: CommandOf<'slurm.enrich'>): Promise<Event | string> {
    // Untagged, as the queue watch saw it: nobody's to recover, and no need to ask Slurm anything.
    const untagged = command.state ? this.opts.seenUntagged?.(command.jobId) : undefined;
    if (untagged && command.state) {
      const foreign = refusal(untagged, this.opts.actingFor);
      return this.sacctEvent(command, {
        ...endFacts(command),
        state: command.state,
        owner: untagged,
        ...(foreign ? { foreign } : {}),
      });
    }
    const queued = await this.lookups.queued.get(command.jobId);
    const completed = command.state?.startsWith('COMPLETED');
    const captured =
      this.readCaptured(command.jobId) ?? (completed ? undefined : await this.capture(command.jobId, queued));
    // This end was one run's: Slurm has queued the job again under the same id (a node failure, a
    // preemption). It is followed, not resubmitted: its next end is another event.
    if (queued && requeuedBySlurm(queued.state)) {
      const owner = captured?.owner ?? queued.owner;
      const foreign = refusal(owner, this.opts.actingFor);
      return this.sacctEvent(command, {
        ...endFacts(command),
        state: command.state ?? 'REQUEUED',
        owner,
        ...(queued.comment ? { comment: queued.comment } : {}),
        ...(foreign ? { foreign } : {}),
        requeued: true,
      });
    }
    const job = await this.finals.wait(command.jobId);
    if (!job) return `sacct has no final record of job ${command.jobId}`;
    job.comment ||= captured?.comment ?? queued?.comment;
    // slurmctld's owner (squeue, at capture) before the accounting database's (sacct's UID); what a node of
    // it held, for the plan.
    if (captured)
      Object.assign(job, {
        owner: captured.owner,
        ...perNode(captured),
        ...(captured.dependency ? { dependency: captured.dependency } : {}),
      });
    const foreign = job.owner
      ? refusal(job.owner, this.opts.actingFor)
      : 'sacct reported no owner for this job, so nobody is acted for';
    if (foreign) job.foreign = foreign;
    const ours = captured && !foreign && !job.state.startsWith('COMPLETED');
    // A failed job of ours: whether the cluster kept the environment it was submitted with (only that word
    // travels; the variables stay with Slurm until the resubmission reads them), and its owner's groups,
    // for the partitions that admit some groups only.
    if (ours) {
      const user = captured.owner.user;
      const [environment, groups] = await Promise.all([
        this.lookups.environment(user, command.jobId),
        groupsOf(user),
      ]);
      job.environment = typeof environment === 'object' ? 'stored' : 'not-stored';
      if (groups) job.groups = groups;
    }
    // A failed array task: where its whole array stands, so its failed tasks are resubmitted together.
    if (job.array && !foreign && !job.state.startsWith('COMPLETED')) {
      const progress = await this.lookups.array.get(job.array.jobId);
      if (progress) job.array = { ...job.array, progress };
    }
    return this.sacctEvent(command, job);
  }

  /** The reading of one end of a job, named after the run the enrichment asked about. */
  private sacctEvent(command: CommandOf<'slurm.enrich'>, data: SacctJob): Event {
    return {
      id: eventIds.sacct(this.opts.cluster, command.jobId, command.endedAt),
      version: 1,
      source: 'relay:sacct',
      occurredAt: this.opts.now().toISOString(),
      cluster: this.opts.cluster,
      type: 'slurm.sacct',
      data: { ...data, ...(command.endedAt ? { endedAt: command.endedAt } : {}) },
    };
  }

  /**
   * As the captured job's owner (who Slurm said it was), and only for an owner this relay acts for. Never
   * twice: a job of that owner already carrying this command's tag (queued or finished) is the answer.
   */
  async resubmit(command: CommandOf<'slurm.resubmit'>): Promise<ResultData> {
    const captured = this.readCaptured(command.jobId);
    if (!captured) return failure(`job ${command.jobId}'s script was not captured while Slurm knew it`);
    const refused = refusal(captured.owner, this.opts.actingFor);
    if (refused) return failure(`job ${command.jobId} is not resubmitted: it is ${refused}`);
    const { user } = captured.owner;
    const existing = await this.alreadySubmitted(command, user);
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
    const env = await this.lookups.environment(user, command.jobId);
    const exact = typeof env === 'object' ? env : undefined;
    const submission = plainJobResubmission(captured, resources, command.comment, {
      ...(command.tasks ? { tasks: command.tasks } : {}),
      environment: exact ? 'exact' : 'login',
    });
    await this.intents.submitting(command.id);
    const id = await sbatch(
      submission,
      this.opts.actingFor.mode === 'user' ? { as: 'self' } : { as: 'owner', user, home: await homeOf(user) },
      exact ? { exportFile: exportFile(exact), submitDir: exact.submitDir } : {},
    ).catch((error: unknown) => {
      if (error instanceof ExecError && partitionsMayHaveChanged(error.message))
        this.opts.partitionsChanged?.();
      throw error;
    });
    await this.intents.submitted(command.id, id);
    const as = this.opts.actingFor.mode === 'user' ? '' : ` as ${user}`;
    const tasks = command.tasks ? ` (array tasks ${command.tasks.join(',')})` : '';
    const environment = exact
      ? 'its original environment'
      : `a login environment of ${user}${scriptExportsVariables(captured.script) ? " plus its script's --export variables" : ''}`;
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
   * The job this command already submitted, from the intent journal; Slurm is asked (jobs of that owner
   * carrying the command's tag) only when an sbatch was under way as the relay stopped.
   */
  private async alreadySubmitted(command: CommandOf<'slurm.resubmit'>, user: string): Promise<string[]> {
    const intent = this.intents.read(command.id, Date.parse(command.createdAt));
    if (!intent) return [];
    if (intent.state === 'submitted') return [intent.jobId];
    const found = await findJobsByComment(command.comment, new Date(command.createdAt), user);
    if (found[0]) await this.intents.submitted(command.id, found[0]);
    return found;
  }

  /**
   * The pending jobs waiting on the resubmitted job (or array, or array task) wait on the new one. The
   * submission stands whatever happens here: a failure is reported with it (the workload then needs
   * attention: service/slurm-results.ts), not made the command's.
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
      const dependents = await rewireDependents(
        replacements,
        this.opts.actingFor,
        await this.lookups.pendingJobs(Date.parse(command.createdAt)),
      );
      const n = dependents.rewired.length + dependents.reported.length;
      return n ? { dependents, note: `; ${n} dependent job(s)` } : { note: '' };
    } catch (error) {
      if (!(error instanceof ExecError)) throw error;
      return { dependents: { rewired: [], reported: [], error: error.message }, note: '' };
    }
  }
}

/** A reading made without accounting: what the end said, as the enrichment passed it on. */
const endFacts = (command: CommandOf<'slurm.enrich'>) => ({
  jobId: command.jobId,
  exitCode: command.exitCode ?? '',
  ...(command.jobName ? { jobName: command.jobName } : {}),
  ...(command.nodes ? { nodes: command.nodes } : {}),
});
