import { mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { CommandOf } from '../core/commands.ts';
import { assertNever } from '../core/never.ts';
import { type ActingFor, refusal } from '../core/owner.ts';
import { idList } from '../core/plan-report.ts';
import { torcAllocationSubmission } from '../core/sbatch-script.ts';
import { formatTag } from '../core/tag.ts';
import { TORC_DONE, type TorcJob } from '../core/torc-model.ts';
import { Refusal } from './errors.ts';
import { run } from './exec.ts';
import { inParallel } from './in-parallel.ts';
import { type LogTail, tailOf } from './job-logs.ts';
import { findJobsByComment, homeOf, queuedSlurmJobs, type Submitter, sbatch } from './slurm.ts';
import { TorcApiError, type TorcClient } from './torc-client.ts';
import { cleanupAllocation, syncOrphans } from './torc-orphans.ts';
import { readRegistry } from './torc-registry.ts';

/** Requests to Torc at once within one step, and from how many jobs one listing beats a read per job. */
const TORC_REQUESTS = 8;
const BULK_READ = 50;

export interface TorcExecutorOptions {
  client: TorcClient;
  /** The URL the runner in an allocation uses (usually the client's). */
  torcUrl: string;
  /** Where allocations write their Slurm output (site mode: relative to the owner's home). */
  outputDir: string;
  /** Torc's Slurm job runner (a stand-in in tests). */
  runner: string;
  account?: string;
  /** The user the relay runs as: the allocations' owner in user mode. */
  user: string;
  /** Site mode: each workflow's allocations run as the user its watch-list entry names, within the rules. */
  actingFor: ActingFor;
  /** The watch list (relay/torc-registry.ts). */
  registryFile: string;
  /** Slurm job ids still queued or running (squeue unless told: tests give their own). */
  slurmJobs?: () => Promise<Set<string>>;
}

/** Who submits a workflow's allocations, and where their output goes. */
interface AllocationOwner {
  user: string;
  submitter: Submitter;
  outputDir: string;
}

export interface StepResult {
  slurmJobIds: string[];
  alreadyDone: boolean;
  output: string;
}

/** The Torc steps of a recovery that this executor runs against Torc's API. */
type TorcStep = 'torc.update-resources' | 'torc.reset-jobs' | 'torc.submit-allocations';

/**
 * The Torc steps of a recovery, each safe to run again after a crash: a copy of a row is found by name
 * before it is created, a job already reset is not reset again, run_id is bumped only while chosen jobs
 * still wait uninitialized, and an allocation already submitted is found by its tag in Slurm.
 */
export class TorcExecutor {
  constructor(private readonly opts: TorcExecutorOptions) {
    if (opts.actingFor.mode === 'user') mkdirSync(opts.outputDir, { recursive: true });
  }

  /**
   * User mode: the relay's own user. Site mode: the user the watch list names for the workflow — never
   * root, never someone the site's rules exclude — through runuser, with the output folder in their home.
   */
  private async allocationOwner(workflowId: number): Promise<AllocationOwner> {
    const { actingFor, outputDir } = this.opts;
    if (actingFor.mode === 'user') return { user: this.opts.user, submitter: { as: 'self' }, outputDir };
    const user = readRegistry(this.opts.registryFile).find((e) => e.id === workflowId)?.user;
    if (!user)
      throw new Refusal(
        `Torc workflow ${workflowId} has no user to submit its allocations as: watch it with \`rebound watch ${workflowId} --user <name>\``,
      );
    const { stdout } = await run(['id', '-u', user]);
    const owner = {
      uid: Number(stdout.trim()),
      user,
      ...(this.opts.account ? { account: this.opts.account } : {}),
    };
    const refused = refusal(owner, actingFor);
    if (refused) throw new Refusal(`Torc workflow ${workflowId}'s allocations are not submitted: ${refused}`);
    const home = await homeOf(user);
    const dir = isAbsolute(outputDir) ? outputDir : join(home, outputDir);
    await run(['runuser', '-u', user, '--', 'mkdir', '-p', dir], { cwd: '/' });
    return { user, submitter: { as: 'owner', user, home }, outputDir: dir };
  }

  /** `rebound logs` for a Torc job: its stdio file in the output folder, read as the allocations' user. */
  async logs(command: CommandOf<'job.logs'>): Promise<LogTail> {
    const t = command.torc;
    if (!t) throw new Refusal(`job ${command.jobId} is no Torc job`);
    const owner = await this.allocationOwner(t.workflowId);
    const file = `job_wf${t.workflowId}_j${command.jobId}_r${t.runId}_a${t.attempt}.${command.stream === 'stdout' ? 'o' : 'e'}`;
    return tailOf(join(owner.outputDir, 'job_stdio', file), command.lines, owner.submitter);
  }

  async execute(command: CommandOf<TorcStep>): Promise<StepResult> {
    switch (command.type) {
      case 'torc.update-resources':
        return this.updateResources(command);
      case 'torc.reset-jobs':
        return this.resetJobs(command);
      case 'torc.submit-allocations':
        return this.submitAllocations(command);
      default:
        return assertNever(command, 'Torc step');
    }
  }

  /**
   * The named jobs as Torc has them now: one request each for a few, the workflow's paged list for many
   * (a 10,000-job step would otherwise begin with 10,000 reads).
   */
  private async jobsById(workflowId: number, ids: number[]): Promise<Map<number, TorcJob>> {
    if (ids.length < BULK_READ) return new Map();
    const wanted = new Set(ids);
    const jobs = await this.opts.client.jobs(workflowId);
    return new Map(jobs.filter((j) => wanted.has(j.id)).map((j) => [j.id, j]));
  }

  private async updateResources(c: CommandOf<'torc.update-resources'>): Promise<StepResult> {
    const { client } = this.opts;
    const rows = await client.resourceRequirements(c.workflowId);
    const row = rows.find((r) => r.id === c.resourceRequirementsId);
    if (!row)
      throw new TorcApiError(404, `/resource_requirements/${c.resourceRequirementsId}`, 'row not found');
    if (!c.cloneAs) {
      await client.putResourceRequirements({ ...row, id: row.id!, memory: c.memory, runtime: c.runtime });
      return {
        slurmJobIds: [],
        alreadyDone: false,
        output: `${row.name}: memory ${c.memory}, runtime ${c.runtime}`,
      };
    }
    const existing = rows.find((r) => r.name === c.cloneAs);
    const copy =
      existing ??
      (await client.createResourceRequirements({
        workflow_id: c.workflowId,
        name: c.cloneAs,
        num_cpus: row.num_cpus,
        num_gpus: row.num_gpus,
        num_nodes: row.num_nodes,
        memory: c.memory,
        runtime: c.runtime,
      }));
    const jobs = await this.jobsById(c.workflowId, c.jobIds);
    await inParallel(c.jobIds, TORC_REQUESTS, async (id) => {
      const job = jobs.get(id) ?? (await client.job(id));
      if (job.resource_requirements_id !== copy.id)
        await client.putJob({ ...job, resource_requirements_id: copy.id! });
    });
    return {
      slurmJobIds: [],
      alreadyDone: existing !== undefined,
      output: `${c.cloneAs} (copy of ${row.name}) for job(s) ${idList(c.jobIds)}: memory ${c.memory}, runtime ${c.runtime}`,
    };
  }

  /** Exactly the chosen jobs (Torc's reset_job_status resets every failed job), then reinitialize. */
  private async resetJobs(c: CommandOf<'torc.reset-jobs'>): Promise<StepResult> {
    const { client } = this.opts;
    const status = await client.status(c.workflowId);
    let reset = 0;
    let waiting = 0;
    const jobs = await this.jobsById(c.workflowId, c.jobIds);
    await inParallel(c.jobIds, TORC_REQUESTS, async (id) => {
      const job = jobs.get(id) ?? (await client.job(id));
      if (job.status && TORC_DONE.includes(job.status)) {
        await client.manageStatusChange(id, 'uninitialized', status.run_id);
        reset++;
        waiting++;
      } else if (job.status === 'uninitialized') waiting++;
    });
    // A new run_id fences off results from the old run.
    if (waiting > 0 && c.reinitialize) {
      await client.putStatus(c.workflowId, { ...status, run_id: status.run_id + 1 });
      await client.initializeJobs(c.workflowId);
    }
    return {
      slurmJobIds: [],
      alreadyDone: waiting === 0,
      output: `reset ${reset} job(s): ${idList(c.jobIds)}; ${waiting > 0 ? `run ${status.run_id + 1}` : 'already reinitialized'}`,
    };
  }

  private async submitAllocations(c: CommandOf<'torc.submit-allocations'>): Promise<StepResult> {
    const { client } = this.opts;
    const owner = await this.allocationOwner(c.workflowId);
    const ids: string[] = [];
    let found = 0;
    for (const a of c.allocations) {
      let scheduler: { id?: number } | undefined;
      for (let k = 1; k <= a.count; k++) {
        const comment = formatTag({ workload: c.workload, commandTag: `${c.id}:${a.name}:${k}` });
        const existing = await findJobsByComment(comment, new Date(c.createdAt), owner.user);
        if (existing.length) {
          ids.push(...existing);
          found++;
          continue;
        }
        scheduler ??= await client.createSlurmScheduler({
          workflow_id: c.workflowId,
          name: a.name,
          account: this.opts.account ?? '',
          nodes: a.nodes,
          walltime: a.walltime,
          mem: a.mem,
          partition: a.partition,
          ...(a.gres ? { gres: a.gres } : {}),
        });
        if (k === 1) {
          const schedulerId = scheduler.id!;
          const jobs = await this.jobsById(c.workflowId, a.jobIds);
          await inParallel(a.jobIds, TORC_REQUESTS, async (id) => {
            const job = jobs.get(id) ?? (await client.job(id));
            if (job.scheduler_id !== schedulerId) await client.putJob({ ...job, scheduler_id: schedulerId });
          });
        }
        const scn = await client.createScheduledComputeNode({
          workflow_id: c.workflowId,
          scheduler_id: 0,
          scheduler_config_id: scheduler.id!,
          scheduler_type: 'slurm',
          status: 'pending',
        });
        const submission = torcAllocationSubmission(
          { ...a, name: `worker_${scn.id}` },
          {
            workflowId: c.workflowId,
            torcUrl: this.opts.torcUrl,
            outputDir: owner.outputDir,
            runner: this.opts.runner,
            ...(this.opts.account ? { account: this.opts.account } : {}),
          },
        );
        const slurmId = await sbatch(
          { argv: [...submission.argv, `--comment=${comment}`], script: submission.script },
          owner.submitter,
        );
        await client.putScheduledComputeNode({ ...scn, id: scn.id!, scheduler_id: Number(slurmId) });
        ids.push(slurmId);
      }
    }
    return {
      slurmJobIds: ids,
      alreadyDone: found === ids.length && ids.length > 0,
      output: `submitted ${ids.join(', ')}${owner.submitter.as === 'owner' ? ` as ${owner.user}` : ''}`,
    };
  }

  /** `rebound sync` for one workflow (relay/torc-orphans.ts). */
  syncOrphans(workflowId: number, dryRun: boolean): Promise<string> {
    return syncOrphans(this.opts.client, workflowId, dryRun, this.opts.slurmJobs ?? queuedSlurmJobs);
  }

  /** Orphan clean-up for one dead allocation (relay/torc-orphans.ts). */
  cleanupAllocation(workflowId: number, slurmJobId: string): Promise<number[]> {
    return cleanupAllocation(this.opts.client, workflowId, slurmJobId);
  }
}
