import type { Cause } from './diagnose.ts';
import type { EffectivePolicy } from './policy.ts';
import { MINUTE, MiB } from './units.ts';

export interface Limits {
  memoryBytes: number;
  runtimeSeconds: number;
}

export interface Observed {
  peakMemoryBytes?: number;
  elapsedSeconds?: number;
}

export interface Escalation extends Limits {
  changed: ('memory' | 'runtime')[];
}

/**
 * How far above its limit an OOM-killed job's reported peak may sit and still be the limit. Under cgroup
 * enforcement the peak cannot pass the limit; sacct's MaxRSS still does by a few MiB (it sums the RSS of a
 * step's processes, shared pages counted in each). Taken literally, a 200M job came back at 302M on one
 * run and 300M on the next. A larger overshoot is real: a site that kills by polling saw the job grow.
 */
const PEAK_NOISE = 0.05;

/**
 * Whether a job's peak memory can change its retry. Not after an OUT_OF_MEMORY end: the kill stopped the
 * growth at the limit (under cgroup enforcement, as on every current site), and the retry is sized from the
 * limit. So a reading of that end need not wait for sacct's MaxRSS, which reaches slurmdbd seconds after the
 * end (3–4 s on the lab) — the difference between a retry queued 2 s and 5 s after the failure.
 */
export function peakMayMatter(slurmState: string): boolean {
  return slurmState.split(/\s+/)[0] !== 'OUT_OF_MEMORY';
}

/**
 * New limits for one failed job. OOM raises memory, timeout raises runtime — and both when the job had
 * also reached the other limit (`also`) — anything else keeps both. The base is max(limit, observed): an OOM peak is censored at the limit (the kill stopped the
 * growth), and a sampled peak below it must never shrink the request (Torc can); a peak within
 * PEAK_NOISE above the limit is the limit.
 * Results are rounded up (MiB, whole minutes), so 1g × 1.5 is 1536m, not Torc's 1g.
 */
export function escalate(
  cause: Cause,
  current: Limits,
  observed: Observed,
  policy: Pick<EffectivePolicy, 'memoryMultiplier' | 'runtimeMultiplier'>,
  also?: 'memory' | 'runtime',
): Escalation {
  const raise = new Set<'memory' | 'runtime'>();
  if (cause === 'oom') raise.add('memory');
  if (cause === 'timeout') raise.add('runtime');
  // The other limit the job had also reached (core/diagnose.ts): raised with it, by the same rule.
  if (raise.size && also) raise.add(also);
  const next = { ...current };
  if (raise.has('memory')) {
    const peak = observed.peakMemoryBytes ?? 0;
    const base = peak > current.memoryBytes * (1 + PEAK_NOISE) ? peak : current.memoryBytes;
    const memoryBytes = Math.ceil((base * policy.memoryMultiplier) / MiB) * MiB;
    next.memoryBytes = Math.max(memoryBytes, current.memoryBytes);
  }
  if (raise.has('runtime')) {
    const base = Math.max(current.runtimeSeconds, observed.elapsedSeconds ?? 0);
    const runtimeSeconds = Math.ceil((base * policy.runtimeMultiplier) / MINUTE) * MINUTE;
    next.runtimeSeconds = Math.max(runtimeSeconds, current.runtimeSeconds);
  }
  return { ...next, changed: (['memory', 'runtime'] as const).filter((l) => raise.has(l)) };
}
