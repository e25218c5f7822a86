import * as z from 'zod';
import { CauseSchema } from './diagnose.ts';
import { groupBy } from './group-by.ts';
import { GiB, HOUR } from './units.ts';

// The resource-utilization report (like Torc's `reports check-resource-utilization`): per job and per job
// name, what it asked for against what it used, and what that cost in core-hours and GB-hours nobody used.
// Waste, as this report counts it: a job that did not complete wasted its whole allocation (its work is
// done again); a completed one wasted the memory above its peak and, where sacct measured its CPU time,
// the CPU time its cores did not use.

/** One job as the report reads it (service/report.ts builds these from the job records). */
export interface UsageInput {
  jobId: string;
  name: string;
  /** Its place in its resubmission chain (0: the first job; a retry is > 0). */
  attempt: number;
  cause?: z.infer<typeof CauseSchema>;
  cpus: number;
  memoryRequestedBytes?: number;
  peakMemoryBytes?: number;
  elapsedSeconds?: number;
  timeLimitSeconds?: number;
  cpuSeconds?: number;
}

const Percent = z.number().nonnegative();

const JobUsageSchema = z.object({
  jobId: z.string(),
  name: z.string(),
  attempt: z.number().int().nonnegative(),
  retry: z.boolean(),
  cause: CauseSchema.optional(),
  cpus: z.number(),
  memoryRequestedBytes: z.number().optional(),
  peakMemoryBytes: z.number().optional(),
  /** Peak ÷ requested, in percent (above 100: it ran out). */
  memoryPercent: Percent.optional(),
  elapsedSeconds: z.number().optional(),
  timeLimitSeconds: z.number().optional(),
  timePercent: Percent.optional(),
  /** CPU time ÷ (CPUs × elapsed), in percent, where sacct measured the CPU time. */
  cpuEfficiencyPercent: Percent.optional(),
  wastedCoreHours: z.number().nonnegative(),
  wastedGbHours: z.number().nonnegative(),
});

const NameUsageSchema = z.object({
  name: z.string(),
  jobs: z.number().int(),
  failed: z.number().int(),
  maxPeakMemoryBytes: z.number().optional(),
  maxMemoryRequestedBytes: z.number().optional(),
  maxMemoryPercent: Percent.optional(),
  maxTimePercent: Percent.optional(),
  meanCpuEfficiencyPercent: Percent.optional(),
  wastedCoreHours: z.number().nonnegative(),
  wastedGbHours: z.number().nonnegative(),
});

export const UtilizationReportSchema = z.object({
  workload: z.string(),
  jobs: z.array(JobUsageSchema),
  byName: z.array(NameUsageSchema),
  totals: z.object({
    jobs: z.number().int(),
    failed: z.number().int(),
    retries: z.number().int(),
    wastedCoreHours: z.number().nonnegative(),
    wastedGbHours: z.number().nonnegative(),
  }),
});
export type UtilizationReport = z.infer<typeof UtilizationReportSchema>;
export type JobUsage = z.infer<typeof JobUsageSchema>;

const percent = (part: number | undefined, whole: number | undefined) =>
  part !== undefined && whole ? round((part / whole) * 100, 1) : undefined;
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const max = (xs: (number | undefined)[]) => {
  const known = xs.filter((x): x is number => x !== undefined);
  // reduce, not Math.max(...known): past ~120,000 arguments a call overflows the stack.
  return known.length ? known.reduce((a, b) => Math.max(a, b)) : undefined;
};
const sum = (xs: number[]) =>
  round(
    xs.reduce((a, b) => a + b, 0),
    3,
  );

/** One job's usage and waste. */
export function jobUsage(j: UsageInput): JobUsage {
  const hours = (j.elapsedSeconds ?? 0) / HOUR;
  const completed = j.cause === 'success';
  const efficiency =
    j.cpuSeconds !== undefined && j.elapsedSeconds ? j.cpuSeconds / (j.cpus * j.elapsedSeconds) : undefined;
  const unusedMemory = completed
    ? Math.max(0, (j.memoryRequestedBytes ?? 0) - (j.peakMemoryBytes ?? j.memoryRequestedBytes ?? 0))
    : (j.memoryRequestedBytes ?? 0);
  const unusedCores = completed
    ? efficiency !== undefined
      ? j.cpus * Math.max(0, 1 - efficiency)
      : 0
    : j.cpus;
  return {
    jobId: j.jobId,
    name: j.name,
    attempt: j.attempt,
    retry: j.attempt > 0,
    ...(j.cause ? { cause: j.cause } : {}),
    cpus: j.cpus,
    ...(j.memoryRequestedBytes !== undefined ? { memoryRequestedBytes: j.memoryRequestedBytes } : {}),
    ...(j.peakMemoryBytes !== undefined ? { peakMemoryBytes: j.peakMemoryBytes } : {}),
    ...defined('memoryPercent', percent(j.peakMemoryBytes, j.memoryRequestedBytes)),
    ...(j.elapsedSeconds !== undefined ? { elapsedSeconds: j.elapsedSeconds } : {}),
    ...(j.timeLimitSeconds !== undefined ? { timeLimitSeconds: j.timeLimitSeconds } : {}),
    ...defined('timePercent', percent(j.elapsedSeconds, j.timeLimitSeconds)),
    ...defined('cpuEfficiencyPercent', efficiency !== undefined ? round(efficiency * 100, 1) : undefined),
    wastedCoreHours: round(unusedCores * hours, 3),
    wastedGbHours: round((unusedMemory / GiB) * hours, 3),
  };
}

const defined = <K extends string>(key: K, value: number | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, number>>;

/** The report for a workload's jobs: each job, each job name, and the totals. */
export function utilizationReport(workload: string, inputs: UsageInput[]): UtilizationReport {
  const jobs = inputs.map(jobUsage);
  const names = groupBy(jobs, (j) => j.name);
  const failed = (js: JobUsage[]) => js.filter((j) => j.cause !== undefined && j.cause !== 'success').length;
  const byName = [...names].map(([name, js]) => {
    const efficiencies = js.flatMap((j) =>
      j.cpuEfficiencyPercent === undefined ? [] : [j.cpuEfficiencyPercent],
    );
    return {
      name,
      jobs: js.length,
      failed: failed(js),
      ...defined('maxPeakMemoryBytes', max(js.map((j) => j.peakMemoryBytes))),
      ...defined('maxMemoryRequestedBytes', max(js.map((j) => j.memoryRequestedBytes))),
      ...defined('maxMemoryPercent', max(js.map((j) => j.memoryPercent))),
      ...defined('maxTimePercent', max(js.map((j) => j.timePercent))),
      ...defined(
        'meanCpuEfficiencyPercent',
        efficiencies.length
          ? round(efficiencies.reduce((a, b) => a + b, 0) / efficiencies.length, 1)
          : undefined,
      ),
      wastedCoreHours: sum(js.map((j) => j.wastedCoreHours)),
      wastedGbHours: sum(js.map((j) => j.wastedGbHours)),
    };
  });
  return {
    workload,
    jobs,
    byName,
    totals: {
      jobs: jobs.length,
      failed: failed(jobs),
      retries: jobs.filter((j) => j.retry).length,
      wastedCoreHours: sum(jobs.map((j) => j.wastedCoreHours)),
      wastedGbHours: sum(jobs.map((j) => j.wastedGbHours)),
    },
  };
}
