import { describe, expect, it } from 'vitest';
import { type Cause, diagnose } from '../../core/diagnose.ts';
import type { JobEvidence } from '../../core/evidence.ts';
import { MiB } from '../../core/units.ts';

const mem = (peakMiB: number, limitMiB: number) => ({
  peakMemoryBytes: peakMiB * MiB,
  memoryLimitBytes: limitMiB * MiB,
});
const time = (elapsed: number, limit: number) => ({ elapsedSeconds: elapsed, timeLimitSeconds: limit });
const torc = (rc: number, status: JobEvidence['torcStatus'] = 'failed') => ({
  torcStatus: status,
  torcReturnCode: rc,
});

type Row = [string, JobEvidence, Cause, 'high' | 'medium' | 'low'];

const slurmCases: Row[] = [
  ['COMPLETED 0:0', { slurmState: 'COMPLETED', exitCode: 0, signal: 0 }, 'success', 'high'],
  ['FAILED exit 3', { slurmState: 'FAILED', exitCode: 3, signal: 0 }, 'unknown', 'high'],
  ['OUT_OF_MEMORY 0:125 (cgroup)', { slurmState: 'OUT_OF_MEMORY', exitCode: 0, signal: 125 }, 'oom', 'high'],
  [
    'OUT_OF_MEMORY with sampled MaxRSS under the limit',
    { slurmState: 'OUT_OF_MEMORY', exitCode: 0, signal: 125, ...mem(180, 200) },
    'oom',
    'high',
  ],
  [
    'FAILED 0:9 with MaxRSS above the limit (no cgroups)',
    { slurmState: 'FAILED', exitCode: 0, signal: 9, slurmReason: 'JobLaunchFailure', ...mem(260, 200) },
    'oom',
    'high',
  ],
  [
    'FAILED 0:9 with MaxRSS at the limit',
    { slurmState: 'FAILED', exitCode: 0, signal: 9, ...mem(195, 200) },
    'oom',
    'high',
  ],
  ['FAILED 0:9 early, no memory data', { slurmState: 'FAILED', exitCode: 0, signal: 9 }, 'oom', 'medium'],
  ['TIMEOUT 0:0', { slurmState: 'TIMEOUT', exitCode: 0, signal: 0, ...time(75, 60) }, 'timeout', 'high'],
  ['CANCELLED 0:0', { slurmState: 'CANCELLED', exitCode: 0, signal: 0 }, 'cancelled', 'high'],
  ['CANCELLED 0:15', { slurmState: 'CANCELLED', exitCode: 0, signal: 15 }, 'cancelled', 'high'],
  ['NODE_FAIL', { slurmState: 'NODE_FAIL', exitCode: 0, signal: 0 }, 'transient', 'high'],
  ['BOOT_FAIL', { slurmState: 'BOOT_FAIL' }, 'transient', 'high'],
  ['PREEMPTED', { slurmState: 'PREEMPTED', exitCode: 0, signal: 0 }, 'transient', 'high'],
  [
    'launch failure without memory evidence',
    { slurmState: 'FAILED', exitCode: 1, signal: 0, slurmReason: 'JobLaunchFailure' },
    'transient',
    'medium',
  ],
  [
    'FAILED 0:15 near the time limit',
    { slurmState: 'FAILED', exitCode: 0, signal: 15, ...time(58, 60) },
    'timeout',
    'high',
  ],
  [
    'FAILED 0:15 early',
    { slurmState: 'FAILED', exitCode: 0, signal: 15, ...time(5, 600) },
    'transient',
    'low',
  ],
  [
    'FAILED exit 1 at 95 % of its limit (Torc would say timeout)',
    { slurmState: 'FAILED', exitCode: 1, signal: 0, ...time(570, 600) },
    'unknown',
    'high',
  ],
  [
    'FAILED exit 1 with peak above limit (MemoryError)',
    { slurmState: 'FAILED', exitCode: 1, signal: 0, ...mem(210, 200) },
    'oom',
    'high',
  ],
  [
    'DEADLINE is not retried for more time',
    { slurmState: 'DEADLINE', exitCode: 0, signal: 0 },
    'unknown',
    'high',
  ],
  ['COMPLETED but non-zero exit', { slurmState: 'COMPLETED', exitCode: 2, signal: 0 }, 'unknown', 'high'],
];

const epilogCases: Row[] = [
  ['epilog 0:125 (wait status 253)', { exitCode: 0, signal: 125 }, 'oom', 'high'],
  ['epilog 3:0', { exitCode: 3, signal: 0 }, 'unknown', 'low'],
  ['epilog 0:0 looks like success', { exitCode: 0, signal: 0 }, 'success', 'low'],
  [
    'epilog 0:0 that ran to its limit is a timeout',
    { exitCode: 0, signal: 0, ...time(90, 60) },
    'timeout',
    'medium',
  ],
  ['epilog 0:9', { exitCode: 0, signal: 9 }, 'oom', 'medium'],
];

const torcCases: Row[] = [
  ['rc 0 completed', torc(0, 'completed'), 'success', 'high'],
  ['rc 1 early', { ...torc(1), ...time(60, 3600) }, 'unknown', 'high'],
  ['rc 1 at 95 % (Torc bug 9: not a timeout)', { ...torc(1), ...time(3420, 3600) }, 'unknown', 'high'],
  ['rc 137 at 50 %', { ...torc(137), ...time(1800, 3600) }, 'oom', 'medium'],
  ['rc 137 at 85 % (Torc bug 8: unknown there)', { ...torc(137), ...time(3060, 3600) }, 'oom', 'medium'],
  ['rc 137 at 95 %', { ...torc(137), ...time(3420, 3600) }, 'timeout', 'high'],
  ['rc 137 with peak over the limit', { ...torc(137), ...mem(9000, 8192) }, 'oom', 'high'],
  ['rc -1 (signal-killed child, Torc bug 7)', { ...torc(-1), ...time(60, 3600) }, 'oom', 'low'],
  ['rc -1 with peak at the limit', { ...torc(-1), ...mem(7900, 8192) }, 'oom', 'high'],
  ['rc -9 terminated early', { ...torc(-9, 'terminated'), ...time(60, 3600) }, 'oom', 'medium'],
  [
    'rc -15 terminated past its runtime',
    { ...torc(-15, 'terminated'), ...time(3700, 3600) },
    'timeout',
    'high',
  ],
  [
    'rc -15 terminated early: allocation ended',
    { ...torc(-15, 'terminated'), ...time(100, 3600) },
    'transient',
    'medium',
  ],
  ['rc 152 (SIGXCPU) even without a runtime', torc(152), 'timeout', 'high'],
  ['rc -128 orphan', torc(-128), 'transient', 'high'],
  ['canceled in Torc', { torcStatus: 'canceled' as const }, 'cancelled', 'high'],
  ['peak above the limit, rc 1', { ...torc(1), ...mem(300, 200) }, 'oom', 'high'],
  [
    'peak exactly the limit is not an OOM by itself (strict >)',
    { ...torc(1), ...mem(200, 200) },
    'unknown',
    'high',
  ],
];

describe.each([
  ['Slurm', slurmCases],
  ['epilog', epilogCases],
  ['Torc', torcCases],
])('diagnose: %s evidence', (_source, rows) => {
  it.each(rows.map(([name, evidence, cause, confidence]) => ({ name, evidence, cause, confidence })))(
    '$name → $cause ($confidence)',
    ({ evidence, cause, confidence }) => {
      const d = diagnose(evidence);
      expect(d.cause).toBe(cause);
      expect(d.confidence).toBe(confidence);
      expect(d.summary).not.toBe('');
    },
  );
});

describe('diagnose: evidence and completeness', () => {
  it('lists every signal it looked at with its value', () => {
    const d = diagnose({ slurmState: 'FAILED', exitCode: 0, signal: 9, ...mem(260, 200), ...time(10, 60) });
    expect(d.evidence).toEqual([
      { signal: 'slurm state', value: 'FAILED', pointsTo: 'neutral' },
      { signal: 'exit:signal', value: '0:9', pointsTo: 'killed' },
      { signal: 'peak memory', value: '260.0 MiB of 200.0 MiB (130.0%)', pointsTo: 'oom' },
      { signal: 'elapsed', value: '10 s of 60 s (16.7%)', pointsTo: 'neutral' },
    ]);
  });

  it('marks epilog-only evidence incomplete and final-state evidence complete', () => {
    expect(diagnose({ exitCode: 0, signal: 0 }).incomplete).toBe(true);
    expect(diagnose({ slurmState: 'COMPLETED', exitCode: 0, signal: 0 }).incomplete).toBe(false);
    expect(diagnose(torc(1)).incomplete).toBe(false);
  });
});

describe('diagnose: both limits reached', () => {
  it.each([
    [
      'TIMEOUT with 95 % of its memory used',
      { slurmState: 'TIMEOUT', ...mem(190, 200), ...time(61, 60) },
      'timeout',
      'memory',
    ],
    [
      'OUT_OF_MEMORY after 92 % of its time',
      { slurmState: 'OUT_OF_MEMORY', signal: 125, ...mem(200, 200), ...time(55, 60) },
      'oom',
      'runtime',
    ],
    [
      'TIMEOUT with 50 % of its memory',
      { slurmState: 'TIMEOUT', ...mem(100, 200), ...time(61, 60) },
      'timeout',
      undefined,
    ],
    ['OUT_OF_MEMORY early', { slurmState: 'OUT_OF_MEMORY', signal: 125, ...time(10, 60) }, 'oom', undefined],
    [
      'a Torc kill at its time with memory at the limit',
      { ...torc(-15, 'terminated'), ...mem(195, 200), ...time(58, 60) },
      'timeout',
      'memory',
    ],
  ] as [string, JobEvidence, Cause, 'memory' | 'runtime' | undefined][])(
    '%s',
    (_n, evidence, cause, also) => {
      const d = diagnose(evidence);
      expect(d.cause).toBe(cause);
      expect(d.also).toBe(also);
      if (also) expect(d.summary).toMatch(/it had also used its (memory|time) \(≥ 90 %\)$/);
    },
  );
});
