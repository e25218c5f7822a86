import * as z from 'zod';
import { plainDependency } from './dependency.ts';
import { type Owner, OwnerSchema } from './owner.ts';
import { slurmRecords } from './slurm-records.ts';
import { parseSlurmMemory, parseSlurmTime } from './units.ts';

/** What the relay captures of a plain Slurm job while Slurm still knows it, to resubmit it later. */
export const CapturedJobSchema = z.object({
  jobId: z.string(),
  name: z.string(),
  partition: z.string().optional(),
  account: z.string().optional(),
  qos: z.string().optional(),
  workDir: z.string().optional(),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
  nodes: z.number().int().positive().optional(),
  tasks: z.number().int().positive().optional(),
  cpusPerTask: z.number().int().positive().optional(),
  memoryBytes: z.number().nonnegative().optional(),
  /** Set when the job asked per CPU (--mem-per-cpu): its retry asks per CPU too. */
  memoryPerCpuBytes: z.number().nonnegative().optional(),
  timeLimitSeconds: z.number().positive().optional(),
  /** The rest of what it was submitted with, given back to the retry as it was. */
  constraint: z.string().optional(),
  reservation: z.string().optional(),
  licenses: z.string().optional(),
  gres: z.string().optional(),
  exclusive: z.boolean().optional(),
  mailType: z.string().optional(),
  mailUser: z.string().optional(),
  /** What it waited on when captured (`afterok:40`, Slurm's states dropped). */
  dependency: z.string().optional(),
  comment: z.string().optional(),
  /** An array task: its array and index, and the array's throttle (`%3`), kept by a resubmitted array. */
  array: z
    .object({
      jobId: z.string(),
      taskId: z.number().int().nonnegative(),
      throttle: z.number().int().positive().optional(),
    })
    .optional(),
  /** Whose job it is, from squeue's %U (never from scontrol's text): the resubmission runs as this user. */
  owner: OwnerSchema,
  /** The job's own batch script (scontrol write batch_script). */
  script: z.string(),
});
export type CapturedJob = z.infer<typeof CapturedJobSchema>;

/**
 * What one node of the job holds, for planning: its tasks' CPUs spread over its nodes, and the GPUs its
 * GRES asks per node (`gpu:2`, `gpu:a100:2`).
 */
export function perNode(job: CapturedJob): { cpus: number; gpus: number } {
  const nodes = job.nodes ?? 1;
  const cpus = Math.ceil(((job.cpusPerTask ?? 1) * (job.tasks ?? 1)) / nodes);
  const gpus = (job.gres ?? '')
    .split(',')
    .map((g) => /^gpu(?::[^:]+)?:(\d+)$/.exec(g.trim())?.[1])
    .reduce((sum, n) => sum + (n ? Number(n) : 0), 0);
  return { cpus: Math.max(1, cpus), gpus };
}

/**
 * squeue's `-o` fields for a job's owner, comment and state (`-t all` lists an ended job for MinJobAge),
 * ended by the job id (core/slurm-records.ts).
 */
export const QUEUED_JOB_FIELDS = ['%U', '%u', '%a', '%k', '%T', '%i'] as const;

export type QueuedJob = { owner: Owner; comment?: string; state?: string };

/** The first record of `squeue -h -o <QUEUED_JOB_FIELDS joined by delimiter>`; undefined when none. */
export function parseQueuedJob(output: string, delimiter: string): QueuedJob | undefined {
  return parseQueuedJobs(output, delimiter).values().next().value;
}

/** Every record of `squeue -h -j a,b,c -o <QUEUED_JOB_FIELDS joined by delimiter>`, by job id (`%i`). */
export function parseQueuedJobs(output: string, delimiter: string): Map<string, QueuedJob> {
  const jobs = new Map<string, QueuedJob>();
  for (const [uid = '', user, account, text = '', state = '', id = ''] of slurmRecords(
    output,
    delimiter,
    QUEUED_JOB_FIELDS.length,
  )) {
    const owner = OwnerSchema.safeParse({
      uid: /^\d+$/.test(uid) ? Number(uid) : undefined,
      user,
      ...(account && account !== '(null)' ? { account } : {}),
    });
    if (!owner.success) continue;
    jobs.set(id.trim(), {
      owner: owner.data,
      ...(text && text !== '(null)' ? { comment: text } : {}),
      ...(/^[A-Z_]+$/.test(state) ? { state } : {}),
    });
  }
  return jobs;
}

/**
 * States of a job that is queued or running again after one of its runs ended: Slurm requeued it (a node
 * failure, a preemption). COMPLETING is the end itself (its epilog is running), not a new run.
 */
const QUEUED_AGAIN = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
]);

/** A job whose end is being read, but which Slurm shows queued or running again: it was requeued. */
export const requeuedBySlurm = (state: string | undefined) => state !== undefined && QUEUED_AGAIN.has(state);

/**
 * `scontrol show job -o` → key/value pairs. Values run up to the next " Key=" (they may contain "="), the
 * last of a key wins. Two values are the user's own text: the job name comes before every field Slurm
 * writes, so what it imitates is overwritten; the comment comes late, so it is cut out (the caller knows it
 * exactly from squeue) before parsing. Security never rests on this text: the owner comes from squeue.
 */
export function parseScontrolRecord(line: string, comment?: string): Record<string, string> {
  let text = line.trim();
  const at = comment ? text.lastIndexOf(` Comment=${comment}`) : -1;
  if (at >= 0) text = text.slice(0, at) + text.slice(at + ` Comment=${comment}`.length);
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Za-z][\w:/]*)=(.*?)(?=\s+[A-Za-z][\w:/]*=|\s*$)/g)) {
    out[m[1]!] = m[2]!;
  }
  return out;
}

const present = (v: string | undefined) =>
  v === undefined || v === '' || v === '(null)' || v === 'N/A' ? undefined : v;
const int = (v: string | undefined) => (present(v) && /^\d+$/.test(v!) ? Number(v) : undefined);

/** A captured job from `scontrol show job -o`, its owner and comment from squeue, and the script text. */
export function capturedJobFromScontrol(
  record: Record<string, string>,
  queued: { owner: Owner; comment?: string },
  script: string,
): CapturedJob {
  const mem =
    /(?:^|,)mem=([^,]+)/.exec(record.ReqTRES ?? record.TRES ?? '')?.[1] ?? present(record.MinMemoryNode);
  const limit = present(record.TimeLimit);
  const time = limit ? parseSlurmTime(limit) : undefined;
  const perCpu = present(record.MinMemoryCPU);
  // 22.05 writes a job's --gres as TresPerNode=gres:gpu:1 (older releases: Gres=gpu:1).
  const gres = present(record.TresPerNode)?.replace(/(^|,)gres:/g, '$1') ?? present(record.Gres);
  const arrayJobId = int(record.ArrayJobId);
  const taskId = int(record.ArrayTaskId);
  const throttle = int(record.ArrayTaskThrottle);
  return CapturedJobSchema.parse({
    jobId: record.JobId,
    name: record.JobName ?? '',
    partition: present(record.Partition),
    account: present(record.Account),
    qos: present(record.QOS),
    workDir: present(record.WorkDir),
    stdout: present(record.StdOut),
    stderr: present(record.StdErr),
    nodes: int(record.NumNodes),
    tasks: int(record.NumTasks),
    cpusPerTask: int(record['CPUs/Task']),
    memoryBytes: mem ? parseSlurmMemory(mem) : undefined,
    memoryPerCpuBytes: perCpu ? parseSlurmMemory(perCpu) : undefined,
    timeLimitSeconds: time !== undefined && Number.isFinite(time) ? time : undefined,
    constraint: present(record.Features),
    dependency: present(record.Dependency) && plainDependency(record.Dependency!),
    reservation: present(record.Reservation),
    licenses: present(record.Licenses),
    gres,
    exclusive: record.OverSubscribe === 'NO' ? true : undefined,
    mailType: record.MailType && record.MailType !== 'NONE' ? present(record.MailType) : undefined,
    mailUser: present(record.MailUser),
    comment: queued.comment,
    array:
      arrayJobId !== undefined && taskId !== undefined
        ? { jobId: String(arrayJobId), taskId, ...(throttle ? { throttle } : {}) }
        : undefined,
    owner: queued.owner,
    script,
  });
}
