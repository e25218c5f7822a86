import { describe, expect, it } from 'vitest';
import { diagnose } from '../../core/diagnose.ts';
import { EventSchema } from '../../core/events.ts';
import { evidenceFromSlurmEvent, evidenceFromTorcEvent, mergeEvidence } from '../../core/evidence.ts';
import { parseSacct } from '../../core/sacct.ts';
import { slurmDelimiter } from '../../core/slurm-records.ts';
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

describe('parseSacct', () => {
  // The relay asks with a fresh random delimiter (core/slurm-records.ts); JobIDRaw ends each record.
  const D = slurmDelimiter('5eed');
  // JobID UID User Account State ExitCode MaxRSS ReqMem Elapsed Timelimit Reason Partition JobName Comment JobIDRaw
  const rec = (...fields: string[]) => `${fields.join(D)}\n`;
  const out = [
    rec(
      '2',
      '1501',
      'alice',
      'lab',
      'OUT_OF_MEMORY',
      '0:125',
      '',
      '100M',
      '00:00:02',
      '00:01:00',
      'None',
      'short',
      'oom',
      'rebound:train',
      '2',
    ),
    rec(
      '2.batch',
      '',
      '',
      '',
      'OUT_OF_MEMORY',
      '0:125',
      '98304K',
      '',
      '00:00:02',
      '',
      '',
      '',
      'batch',
      '',
      '2.batch',
    ),
    rec(
      '2.extern',
      '',
      '',
      '',
      'COMPLETED',
      '0:0',
      '1024K',
      '',
      '00:00:02',
      '',
      '',
      '',
      'extern',
      '',
      '2.extern',
    ),
  ].join('');

  it('takes state, limits and owner from the job line and the largest MaxRSS of its steps', () => {
    expect(parseSacct(out, '2', D)).toEqual({
      jobId: '2',
      owner: { uid: 1501, user: 'alice', account: 'lab' },
      jobName: 'oom',
      state: 'OUT_OF_MEMORY',
      exitCode: '0:125',
      maxRss: '98304K',
      reqMem: '100M',
      elapsed: '00:00:02',
      timeLimit: '00:01:00',
      comment: 'rebound:train',
      reason: 'None',
      partition: 'short',
    });
  });

  it('reads every field right whatever the name and comment hold: |, newlines, lines of another record', () => {
    const name = 'a|b\n7|0|root|root|COMPLETED';
    const comment = 'rebound:w|x\ny|UID=0';
    const job = parseSacct(
      rec(
        '7',
        '1501',
        'alice',
        'lab',
        'OUT_OF_MEMORY',
        '0:125',
        '',
        '100M',
        '00:00:02',
        '00:01:00',
        'None',
        'short',
        name,
        comment,
        '7',
      ) +
        rec(
          '7.batch',
          '',
          '',
          '',
          'OUT_OF_MEMORY',
          '0:125',
          '2048K',
          '',
          '',
          '',
          '',
          '',
          'batch',
          '',
          '7.batch',
        ),
      '7',
      D,
    );
    expect(job).toMatchObject({
      owner: { uid: 1501, user: 'alice', account: 'lab' },
      state: 'OUT_OF_MEMORY',
      partition: 'short',
      jobName: name,
      comment,
      maxRss: '2048K',
    });
  });

  it('waits for a final state and a known job', () => {
    const running = rec(
      '3',
      '0',
      'root',
      'root',
      'RUNNING',
      '0:0',
      '',
      '1G',
      '00:00:01',
      '00:01:00',
      '',
      'short',
      'x',
      '',
      '3',
    );
    expect(parseSacct(running, '3', D)).toBeUndefined();
    expect(parseSacct(out, '4', D)).toBeUndefined();
    // the stub slurmdbd holds for a moment after a short job ends
    const stub = rec(
      '10',
      '0',
      'root',
      'root',
      'OUT_OF_MEMORY',
      '0:125',
      '',
      '16?',
      '00:00:00',
      '',
      'None',
      '',
      'allocation',
      'rebound:x',
      '10',
    );
    expect(parseSacct(stub, '10', D)).toBeUndefined();
  });
});

describe('partial accounting records', () => {
  it('skips a MaxRSS slurmdbd has not finished writing', () => {
    const job = parseSacct(
      '4|0|root|root|OUT_OF_MEMORY|0:125||200M|00:00:01|00:01:00||short|oom||4\n4.batch||||OUT_OF_MEMORY|0:125|16?|||||batch||4.batch\n',
      '4',
      '|',
    );
    expect(job?.maxRss).toBeUndefined();
  });
  it('treats an unreadable value as absent evidence instead of failing the event', () => {
    const event = loadEvent('sacct/oom-no-cgroup', 'slurm.sacct');
    const evidence = evidenceFromSlurmEvent({ ...event, data: { ...event.data, maxRss: '16?' } });
    expect(evidence.peakMemoryBytes).toBeUndefined();
    expect(evidence.slurmState).toBe('FAILED');
  });
});
