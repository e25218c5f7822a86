import * as z from 'zod';
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
  timeLimitSeconds: z.number().positive().optional(),
  comment: z.string().optional(),
  /** The job's own batch script (scontrol write batch_script). */
  script: z.string(),
});
export type CapturedJob = z.infer<typeof CapturedJobSchema>;

/** `scontrol show job -o` → key/value pairs. Values run up to the next " Key=" (they may contain "="). */
export function parseScontrolRecord(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.trim().matchAll(/([A-Za-z][\w:/]*)=(.*?)(?=\s+[A-Za-z][\w:/]*=|\s*$)/g)) {
    out[m[1]!] = m[2]!;
  }
  return out;
}

const present = (v: string | undefined) =>
  v === undefined || v === '' || v === '(null)' || v === 'N/A' ? undefined : v;
const int = (v: string | undefined) => (present(v) && /^\d+$/.test(v!) ? Number(v) : undefined);

/** A captured job from `scontrol show job -o` and the script text. */
export function capturedJobFromScontrol(record: Record<string, string>, script: string): CapturedJob {
  const mem =
    /(?:^|,)mem=([^,]+)/.exec(record.ReqTRES ?? record.TRES ?? '')?.[1] ?? present(record.MinMemoryNode);
  const limit = present(record.TimeLimit);
  const time = limit ? parseSlurmTime(limit) : undefined;
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
    timeLimitSeconds: time !== undefined && Number.isFinite(time) ? time : undefined,
    comment: present(record.Comment),
    script,
  });
}
