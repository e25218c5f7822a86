import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../core/units.ts';
import { jobUsage, utilizationReport } from '../../core/utilization.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { workloadReport } from '../../service/report.ts';
import { testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';

// The utilization report: what each job asked for against what it used, and the waste in core-hours and
// GB-hours (a failed job's whole allocation; a completed job's unused memory and CPU time).

describe('utilization of one job', () => {
  it('a failed job wasted its whole allocation', () => {
    expect(
      jobUsage({
        jobId: '7',
        name: 'hog',
        attempt: 0,
        cause: 'oom',
        cpus: 4,
        memoryRequestedBytes: 2 * GiB,
        peakMemoryBytes: 2 * GiB,
        elapsedSeconds: 1800,
        timeLimitSeconds: 3600,
      }),
    ).toEqual({
      jobId: '7',
      name: 'hog',
      attempt: 0,
      retry: false,
      cause: 'oom',
      cpus: 4,
      memoryRequestedBytes: 2 * GiB,
      peakMemoryBytes: 2 * GiB,
      memoryPercent: 100,
      elapsedSeconds: 1800,
      timeLimitSeconds: 3600,
      timePercent: 50,
      wastedCoreHours: 2,
      wastedGbHours: 1,
    });
  });

  it('a completed job wasted the memory above its peak and the CPU time its cores did not use', () => {
    const u = jobUsage({
      jobId: '8',
      name: 'fit',
      attempt: 1,
      cause: 'success',
      cpus: 2,
      memoryRequestedBytes: 4 * GiB,
      peakMemoryBytes: 1 * GiB,
      elapsedSeconds: 3600,
      cpuSeconds: 1800,
    });
    expect(u).toMatchObject({
      retry: true,
      memoryPercent: 25,
      cpuEfficiencyPercent: 25,
      wastedCoreHours: 1.5,
      wastedGbHours: 3,
    });
    // Without sacct's CPU time, no CPU waste is claimed.
    expect(
      jobUsage({ jobId: '9', name: 'x', attempt: 0, cause: 'success', cpus: 8, elapsedSeconds: 3600 })
        .wastedCoreHours,
    ).toBe(0);
  });

  it('adds up per job name and for the workload', () => {
    const r = utilizationReport('w', [
      {
        jobId: '1',
        name: 'a',
        attempt: 0,
        cause: 'oom',
        cpus: 1,
        memoryRequestedBytes: 200 * MiB,
        peakMemoryBytes: 201 * MiB,
        elapsedSeconds: 3600,
      },
      {
        jobId: '2',
        name: 'a',
        attempt: 1,
        cause: 'success',
        cpus: 1,
        memoryRequestedBytes: 300 * MiB,
        peakMemoryBytes: 250 * MiB,
        elapsedSeconds: 3600,
      },
      { jobId: '3', name: 'b', attempt: 0, cause: 'success', cpus: 1, elapsedSeconds: 60 },
    ]);
    expect(r.byName.map((n) => [n.name, n.jobs, n.failed, n.maxMemoryPercent])).toEqual([
      ['a', 2, 1, 100.5],
      ['b', 1, 0, undefined],
    ]);
    expect(r.totals).toEqual({ jobs: 3, failed: 1, retries: 1, wastedCoreHours: 1, wastedGbHours: 0.244 });
  });
});

describe('a workload’s report', () => {
  it('reads the jobs as sacct reported them, the retry marked; a job still running is left out', async () => {
    const deps = testDeps();
    await handleEvent(deps, sacctEvent('77', { elapsed: '00:01:00', totalCpu: '00:30.000' }));
    const c = deps.commands.sent().at(-1)!;
    await handleEvent(deps, resultEvent(c, { slurmJobIds: ['78'] }));
    expect((await workloadReport(deps, 'nightly')).jobs.map((j) => j.jobId)).toEqual(['77']);
    await handleEvent(
      deps,
      sacctEvent('78', {
        state: 'COMPLETED',
        exitCode: '0:0',
        reqMem: '375M',
        maxRss: '260M',
        elapsed: '00:02:00',
        totalCpu: '01:00',
        comment: 'rebound:nightly/lab:77:a1',
      }),
    );
    const r = await workloadReport(deps, 'nightly');
    expect(r.jobs).toMatchObject([
      { jobId: '77', name: 'hog', retry: false, cause: 'oom', cpuEfficiencyPercent: 50, memoryPercent: 125 },
      { jobId: '78', retry: true, cause: 'success', cpuEfficiencyPercent: 50, timePercent: 20 },
    ]);
    expect(r.totals).toMatchObject({ jobs: 2, failed: 1, retries: 1 });
    // sacct's TotalCPU keeps fractions of a second (a short job's efficiency is not rounded to 0).
    await handleEvent(
      deps,
      sacctEvent('90', {
        comment: 'rebound:short',
        state: 'COMPLETED',
        exitCode: '0:0',
        elapsed: '00:00:02',
        totalCpu: '00:00.401',
      }),
    );
    expect((await workloadReport(deps, 'short')).jobs[0]!.cpuEfficiencyPercent).toBe(20.1);
  });
});
