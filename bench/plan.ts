// bench:plan — plans recovery for a synthetic Torc workflow of 100,000 jobs (10,000 failed, 50 resource
// groups) and prints wall time and peak memory. Targets on the 2-core machines: < 1 s and < 256 MB.
import type { PendingJob, ResourceGroup } from '../core/allocation.ts';
import type { JobEvidence } from '../core/evidence.ts';
import { planRecovery } from '../core/planner.ts';
import { parsePolicy, policyFor } from '../core/policy.ts';
import { KESTREL } from '../core/profiles.ts';
import type { FailedJob, RecoveryState } from '../core/recovery-state.ts';
import { GiB, HOUR } from '../core/units.ts';
import { target, verdict } from './targets.ts';

const JOBS = 100_000;
const FAILED = 10_000;
const GROUPS = 50;
const PENDING = 20_000;

function buildState(): RecoveryState {
  const groups: ResourceGroup[] = Array.from({ length: GROUPS }, (_, g) => ({
    name: `rr${String(g).padStart(2, '0')}`,
    cpus: 1 + (g % 8),
    memoryBytes: (1 + (g % 16)) * GiB,
    runtimeSeconds: (1 + (g % 6)) * HOUR,
    gpus: 0,
    nodes: 1,
  }));
  const rrSizes: Record<number, number> = {};
  for (let id = 1; id <= JOBS; id++) {
    const group = (id % GROUPS) + 1;
    rrSizes[group] = (rrSizes[group] ?? 0) + 1;
  }
  const jobs: FailedJob[] = [];
  for (let i = 0; i < FAILED; i++) {
    const id = i * 10 + 1;
    const g = groups[id % GROUPS]!;
    const limit = g.runtimeSeconds;
    // The real mix: ~60 % OOM, ~25 % timeout, ~10 % transient, ~5 % unknown.
    const r = i % 20;
    const evidence: JobEvidence =
      r < 12
        ? {
            torcStatus: 'failed',
            torcReturnCode: 137,
            peakMemoryBytes: g.memoryBytes * (0.9 + (i % 7) / 20),
            memoryLimitBytes: g.memoryBytes,
            elapsedSeconds: limit / 4,
            timeLimitSeconds: limit,
          }
        : r < 17
          ? {
              torcStatus: 'terminated',
              torcReturnCode: -15,
              elapsedSeconds: limit * 1.01,
              timeLimitSeconds: limit,
            }
          : r < 19
            ? { torcStatus: 'failed', torcReturnCode: -128, elapsedSeconds: 0, timeLimitSeconds: limit }
            : { torcStatus: 'failed', torcReturnCode: 1, elapsedSeconds: 30, timeLimitSeconds: limit };
    jobs.push({
      id: String(id),
      name: `job_${id}`,
      evidence,
      limits: { memoryBytes: g.memoryBytes, runtimeSeconds: limit },
      cpus: g.cpus,
      gpus: 0,
      rr: { id: (id % GROUPS) + 1, name: g.name },
      waits: i % 3 === 0,
    });
  }
  const pending: PendingJob[] = Array.from({ length: PENDING }, (_, i) => ({
    id: JOBS + i + 1,
    rr: groups[i % GROUPS]!.name,
    waits: true,
  }));
  return {
    kind: 'torc',
    workload: 'torc:bench',
    profile: KESTREL,
    jobs,
    rrSizes,
    pending: { jobs: pending, groups },
  };
}

const state = buildState();
const policy = policyFor(parsePolicy({}), 'torc-wf1');
const runs: number[] = [];
let plan = planRecovery(state, policy, { attemptsUsed: 0 }, new Date());
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  plan = planRecovery(state, policy, { attemptsUsed: 0 }, new Date());
  runs.push(performance.now() - t0);
}
const peakMb = process.resourceUsage().maxRSS / 1024;
const reset = plan.actions.find((a) => a.type === 'reset-jobs');
const alloc = plan.actions.find((a) => a.type === 'submit-allocations');
runs.sort((a, b) => a - b);
console.log(`bench:plan  ${JOBS} jobs, ${FAILED} failed, ${GROUPS} resource groups, ${PENDING} pending`);
console.log(
  `  plan: ${reset?.type === 'reset-jobs' ? reset.jobIds.length : 0} jobs reset, ${plan.actions.filter((a) => a.type === 'update-resources').length} row updates, ${alloc?.type === 'submit-allocations' ? alloc.allocations.reduce((n, a) => n + a.count, 0) : 0} allocations`,
);
console.log(
  `  wall time: median ${runs[2]!.toFixed(1)} ms, worst ${runs[4]!.toFixed(1)} ms (target < 1000 ms)`,
);
console.log(`  peak memory (process max RSS): ${peakMb.toFixed(0)} MB (target < 256 MB)`);
target('plan wall time (median)', runs[2]!, '<', 1000, 'ms');
target('peak memory', peakMb, '<', 256, 'MB');
verdict('bench:plan');
