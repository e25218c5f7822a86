import { describe, expect, it } from 'vitest';
import { diagnose } from '../../core/diagnose.ts';
import { EventSchema } from '../../core/events.ts';
import { evidenceFromSlurmEvent, evidenceFromTorcEvent, mergeEvidence } from '../../core/evidence.ts';
import { MiB } from '../../core/units.ts';
import { loadEvent } from '../support/events.ts';

describe('evidence from stored payloads', () => {
  it.each([
    [
      'jobcomp/oom',
      'slurm.jobcomp',
      'oom',
      { slurmState: 'OUT_OF_MEMORY', signal: 125, elapsedSeconds: 2, timeLimitSeconds: 60 },
    ],
    ['jobcomp/exit3', 'slurm.jobcomp', 'unknown', { slurmState: 'FAILED', exitCode: 3 }],
    [
      'jobcomp/timeout',
      'slurm.jobcomp',
      'timeout',
      { slurmState: 'TIMEOUT', elapsedSeconds: 75, timeLimitSeconds: 60 },
    ],
    ['epilog/oom', 'slurm.epilog', 'oom', { signal: 125 }],
    ['epilog/timeout-looks-ok', 'slurm.epilog', 'success', { exitCode: 0, signal: 0 }],
    [
      'sacct/oom-no-cgroup',
      'slurm.sacct',
      'oom',
      { peakMemoryBytes: 260 * MiB, memoryLimitBytes: 200 * MiB, slurmReason: 'JobLaunchFailure' },
    ],
    ['sacct/cancelled', 'slurm.sacct', 'cancelled', { slurmState: 'CANCELLED', memoryLimitBytes: 256 * MiB }],
  ] as const)('%s → %s', (path, type, cause, fields) => {
    const evidence = evidenceFromSlurmEvent(loadEvent(path, type));
    expect(evidence).toMatchObject(fields);
    expect(diagnose(evidence).cause).toBe(cause);
  });

  it('reads a Torc result with its resource requirements', () => {
    const evidence = evidenceFromTorcEvent(loadEvent('torc/oom-minus-one', 'torc.job.finished'));
    expect(evidence).toEqual({
      torcStatus: 'failed',
      torcReturnCode: -1,
      peakMemoryBytes: 8_375_000_000,
      memoryLimitBytes: 8 * 1024 * MiB,
      elapsedSeconds: 210,
      timeLimitSeconds: 3600,
    });
    expect(diagnose(evidence)).toMatchObject({ cause: 'oom', confidence: 'high' });
  });

  it('an epilog event enriched by sacct reaches the final verdict', () => {
    const epilog = evidenceFromSlurmEvent(loadEvent('epilog/timeout-looks-ok', 'slurm.epilog'));
    expect(diagnose(epilog).incomplete).toBe(true);
    const merged = mergeEvidence(epilog, { slurmState: 'TIMEOUT', elapsedSeconds: 75, timeLimitSeconds: 60 });
    expect(diagnose(merged)).toMatchObject({ cause: 'timeout', incomplete: false });
  });

  it('rejects an event with bad fields, naming them', () => {
    const r = EventSchema.safeParse({ id: '', version: 2, type: 'slurm.jobcomp', data: { jobId: 'abc' } });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['id', 'version', 'source', 'data.jobId', 'data.state']));
  });
});
