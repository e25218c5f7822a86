import { formatBytes, formatSlurmClock } from '../core/units.ts';
import { UtilizationReportSchema } from '../core/utilization.ts';
import { api } from './api.ts';
import { table } from './terminal.ts';

// `rebound report <workload>`: the utilization report (core/utilization.ts) as three tables.

const pct = (x: number | undefined) => (x === undefined ? '' : `${x}%`);
const bytes = (x: number | undefined) => (x === undefined ? '' : formatBytes(x));
const clock = (x: number | undefined) => (x === undefined ? '' : formatSlurmClock(x));

export async function report(workload: string): Promise<{ json: unknown; text: () => string }> {
  const r = UtilizationReportSchema.parse(await api(`/v1/workloads/${encodeURIComponent(workload)}/report`));
  const text = () => {
    if (!r.jobs.length) return `No finished job of ${workload} to report yet.`;
    return [
      `Resource utilization of ${workload}: ${r.totals.jobs} job(s), ${r.totals.failed} failed, ${r.totals.retries} retr${r.totals.retries === 1 ? 'y' : 'ies'}`,
      '',
      table(
        r.jobs.map((j) => ({
          job: j.jobId,
          name: j.name,
          attempt: j.retry ? `retry ${j.attempt}` : 'first',
          cause: j.cause ?? '',
          memory:
            j.peakMemoryBytes !== undefined
              ? `${bytes(j.peakMemoryBytes)} of ${bytes(j.memoryRequestedBytes)}`
              : bytes(j.memoryRequestedBytes),
          'mem%': pct(j.memoryPercent),
          time: `${clock(j.elapsedSeconds)} of ${clock(j.timeLimitSeconds)}`,
          'time%': pct(j.timePercent),
          'cpu%': pct(j.cpuEfficiencyPercent),
          'waste core-h': j.wastedCoreHours,
          'waste GB-h': j.wastedGbHours,
        })),
        [
          'job',
          'name',
          'attempt',
          'cause',
          'memory',
          'mem%',
          'time',
          'time%',
          'cpu%',
          'waste core-h',
          'waste GB-h',
        ],
      ),
      '',
      table(
        r.byName.map((n) => ({
          name: n.name,
          jobs: n.jobs,
          failed: n.failed,
          'max peak': bytes(n.maxPeakMemoryBytes),
          'max mem%': pct(n.maxMemoryPercent),
          'max time%': pct(n.maxTimePercent),
          'mean cpu%': pct(n.meanCpuEfficiencyPercent),
          'waste core-h': n.wastedCoreHours,
          'waste GB-h': n.wastedGbHours,
        })),
        [
          'name',
          'jobs',
          'failed',
          'max peak',
          'max mem%',
          'max time%',
          'mean cpu%',
          'waste core-h',
          'waste GB-h',
        ],
      ),
      '',
      `Wasted: ${r.totals.wastedCoreHours} core-hours, ${r.totals.wastedGbHours} GB-hours (a failed job's whole allocation; a completed job's memory above its peak and unused CPU time)`,
    ].join('\n');
  };
  return { json: r, text };
}
