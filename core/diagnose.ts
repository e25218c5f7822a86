import * as z from 'zod';
import type { JobEvidence } from './evidence.ts';
import { ORPHANED_RETURN_CODE } from './torc-model.ts';
import { formatBytes } from './units.ts';

const CAUSES = ['oom', 'timeout', 'transient', 'cancelled', 'success', 'unknown'] as const;
export const CauseSchema = z.enum(CAUSES);
export type Cause = z.infer<typeof CauseSchema>;

const DiagnosisSchema = z.object({
  cause: CauseSchema,
  confidence: z.enum(['high', 'medium', 'low']),
  /** Each signal looked at, its value and what it pointed to ("neutral" when it decided nothing). */
  evidence: z.array(z.object({ signal: z.string(), value: z.string(), pointsTo: z.string() })),
  /** True when the evidence lacks a final state (an epilog event): enrich from sacct before acting. */
  incomplete: z.boolean(),
  summary: z.string(),
  /**
   * The other limit the job had also reached (an OOM after ≥ 90 % of its time, a timeout with ≥ 90 % of
   * its memory used): Slurm reports one state, the retry must raise both.
   */
  also: z.enum(['memory', 'runtime']).optional(),
});
export type Diagnosis = z.infer<typeof DiagnosisSchema>;

// Thresholds kept from Torc, with its gaps closed: a kill late in the run is a
// timeout only when something killed the job (Torc flags any late non-zero exit), and an early
// SIGKILL is an OOM whatever the 80–90 % band, also for −1/−9.
const TIMEOUT_FRACTION = 0.9;
const MEMORY_AT_LIMIT_FRACTION = 0.9;
/** Slurm's marker for a job its cgroup OOM-killed (sacct ExitCode 0:125; wait status 253). */
const SLURM_OOM_SIGNAL = 125;
const TORC_SIGXCPU_RC = 152;

const STATE_CAUSE: Record<string, Cause> = {
  OUT_OF_MEMORY: 'oom',
  TIMEOUT: 'timeout',
  NODE_FAIL: 'transient',
  BOOT_FAIL: 'transient',
  PREEMPTED: 'transient',
  CANCELLED: 'cancelled',
  COMPLETED: 'success',
};

/**
 * Classifies a finished job from every signal present and says which ones it used.
 *
 * @example diagnose({ slurmState: 'OUT_OF_MEMORY', exitCode: 0, signal: 125 }).cause // 'oom'
 */
export function diagnose(e: JobEvidence): Diagnosis {
  const evidence: Diagnosis['evidence'] = [];
  const note = (signal: string, value: string, pointsTo: string) =>
    evidence.push({ signal, value, pointsTo });

  const killed =
    e.signal === 9 || e.torcReturnCode === 137 || e.torcReturnCode === -9 || e.torcReturnCode === -1;
  const terminated =
    e.signal === 15 || e.torcReturnCode === -15 || e.torcReturnCode === 143 || e.torcStatus === 'terminated';
  const memRatio =
    e.peakMemoryBytes !== undefined && e.memoryLimitBytes
      ? e.peakMemoryBytes / e.memoryLimitBytes
      : undefined;
  const timeRatio =
    e.elapsedSeconds !== undefined && e.timeLimitSeconds ? e.elapsedSeconds / e.timeLimitSeconds : undefined;
  const stateCause = e.slurmState ? (STATE_CAUSE[e.slurmState] ?? 'neutral') : undefined;
  const incomplete = e.slurmState === undefined && e.torcStatus === undefined;

  if (e.slurmState) note('slurm state', e.slurmState, stateCause!);
  if (e.slurmReason)
    note('slurm reason', e.slurmReason, e.slurmReason === 'JobLaunchFailure' ? 'transient' : 'neutral');
  if (e.exitCode !== undefined || e.signal !== undefined) {
    const sig = e.signal ?? 0;
    const points =
      sig === SLURM_OOM_SIGNAL ? 'oom' : sig === 9 ? 'killed' : sig === 15 ? 'terminated' : 'neutral';
    note('exit:signal', `${e.exitCode ?? 0}:${sig}`, points);
  }
  if (e.torcStatus) note('torc status', e.torcStatus, e.torcStatus === 'canceled' ? 'cancelled' : 'neutral');
  if (e.torcReturnCode !== undefined)
    note('torc return code', String(e.torcReturnCode), torcCodeMeaning(e.torcReturnCode));
  if (memRatio !== undefined) {
    const points = memRatio > 1 ? 'oom' : memRatio >= MEMORY_AT_LIMIT_FRACTION ? 'at limit' : 'neutral';
    note(
      'peak memory',
      `${formatBytes(e.peakMemoryBytes!)} of ${formatBytes(e.memoryLimitBytes!)} (${pct(memRatio)})`,
      points,
    );
  }
  if (timeRatio !== undefined) {
    const points = timeRatio > TIMEOUT_FRACTION ? 'at limit' : 'neutral';
    note(
      'elapsed',
      `${Math.round(e.elapsedSeconds!)} s of ${Math.round(e.timeLimitSeconds!)} s (${pct(timeRatio)})`,
      points,
    );
  }

  const also = (cause: Cause): Diagnosis['also'] =>
    cause === 'oom' && timeRatio !== undefined && timeRatio >= TIMEOUT_FRACTION
      ? 'runtime'
      : cause === 'timeout' && memRatio !== undefined && memRatio >= MEMORY_AT_LIMIT_FRACTION
        ? 'memory'
        : undefined;
  const verdict = (cause: Cause, confidence: Diagnosis['confidence'], summary: string): Diagnosis => {
    const both = also(cause);
    return {
      cause,
      confidence,
      evidence,
      incomplete,
      summary: both
        ? `${summary}; it had also used ${both === 'memory' ? 'its memory' : 'its time'} (≥ 90 %)`
        : summary,
      ...(both ? { also: both } : {}),
    };
  };

  if (stateCause === 'cancelled' || e.torcStatus === 'canceled') {
    return verdict(
      'cancelled',
      'high',
      e.cancelledByUid !== undefined
        ? `cancelled by uid ${e.cancelledByUid}`
        : /^Dependency/.test(e.slurmReason ?? '')
          ? 'cancelled by Slurm: a job it depended on failed'
          : 'cancelled by a person or the scheduler',
    );
  }
  if (stateCause === 'oom') return verdict('oom', 'high', 'Slurm reports OUT_OF_MEMORY');
  if (e.signal === SLURM_OOM_SIGNAL)
    return verdict('oom', 'high', 'killed by the memory cgroup (signal 125)');
  if (stateCause === 'timeout') return verdict('timeout', 'high', 'Slurm reports TIMEOUT');
  if (stateCause === 'transient') return verdict('transient', 'high', `Slurm reports ${e.slurmState}`);
  if (e.torcReturnCode === ORPHANED_RETURN_CODE) {
    return verdict('transient', 'high', 'orphaned: its allocation ended while it ran');
  }
  if (e.torcReturnCode === TORC_SIGXCPU_RC)
    return verdict('timeout', 'high', 'CPU time limit (return code 152)');
  if (stateCause === 'success' && (e.exitCode ?? 0) === 0 && (e.signal ?? 0) === 0) {
    return verdict('success', 'high', 'completed with exit code 0');
  }
  if (e.torcStatus === 'completed' && e.torcReturnCode === 0)
    return verdict('success', 'high', 'completed with return code 0');

  if (memRatio !== undefined && memRatio > 1) {
    return verdict(
      'oom',
      killed || terminated || e.slurmState === 'FAILED' || e.torcStatus === 'failed' ? 'high' : 'medium',
      'peak memory above the limit',
    );
  }
  if (killed && memRatio !== undefined && memRatio >= MEMORY_AT_LIMIT_FRACTION) {
    return verdict('oom', 'high', 'SIGKILL with peak memory at the limit');
  }
  if ((killed || terminated) && timeRatio !== undefined && timeRatio > TIMEOUT_FRACTION) {
    return verdict('timeout', 'high', 'killed at the end of its time limit');
  }
  if (incomplete && (e.exitCode ?? 0) === 0 && (e.signal ?? 0) === 0) {
    // An epilog cannot tell success from a timeout or a cancellation: both show 0:0 there.
    if (timeRatio !== undefined && timeRatio >= 1)
      return verdict('timeout', 'medium', 'ran to its time limit');
    return verdict('success', 'low', 'exit 0:0 from an epilog; final state not yet known');
  }
  if (e.torcStatus === 'terminated' && !killed) {
    return verdict('transient', 'medium', 'terminated before its runtime: the allocation ended under it');
  }
  if (e.slurmReason === 'JobLaunchFailure') return verdict('transient', 'medium', 'the job failed to launch');
  if (killed) {
    return verdict(
      'oom',
      e.torcReturnCode === -1 ? 'low' : 'medium',
      'killed by SIGKILL early in its run, most often the OOM killer',
    );
  }
  if (terminated) return verdict('transient', 'low', 'terminated by SIGTERM before its time limit');
  return verdict('unknown', incomplete ? 'low' : 'high', describeExit(e));
}

function torcCodeMeaning(rc: number): string {
  if (rc === 137 || rc === -9 || rc === -1) return 'killed';
  if (rc === TORC_SIGXCPU_RC) return 'timeout';
  if (rc === -15 || rc === 143) return 'terminated';
  if (rc === ORPHANED_RETURN_CODE) return 'transient';
  return 'neutral';
}

function describeExit(e: JobEvidence): string {
  if (e.torcReturnCode !== undefined) return `failed with return code ${e.torcReturnCode}`;
  if (e.signal) return `killed by signal ${e.signal}`;
  return `failed with exit code ${e.exitCode ?? 'unknown'}`;
}

const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
