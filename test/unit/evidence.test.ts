import { describe, expect, it } from 'vitest';
import { diagnose } from '../../core/diagnose.ts';
import { EventSchema } from '../../core/events.ts';
import { evidenceFromSlurmEvent, evidenceFromTorcEvent, mergeEvidence } from '../../core/evidence.ts';
import { parseSacct, SACCT_FIELDS } from '../../core/sacct.ts';
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
  const rec = (values: Partial<Record<(typeof SACCT_FIELDS)[number], string>>) =>
    `${SACCT_FIELDS.map((f) => values[f] ?? '').join(D)}\n`;
  const job = (id: string, values: Partial<Record<(typeof SACCT_FIELDS)[number], string>> = {}) =>
    rec({
      JobID: id,
      UID: '1501',
      User: 'alice',
      Account: 'lab',
      State: 'OUT_OF_MEMORY',
      ExitCode: '0:125',
      ReqMem: '100M',
      Elapsed: '00:00:02',
      Timelimit: '00:01:00',
      Reason: 'None',
      Partition: 'short',
      JobName: 'oom',
      Comment: 'rebound:train',
      JobIDRaw: id,
      ...values,
    });
  const step = (id: string, name: string, maxRss: string, state = 'OUT_OF_MEMORY') =>
    rec({ JobID: `${id}.${name}`, State: state, MaxRSS: maxRss, JobName: name, JobIDRaw: `${id}.${name}` });
  const out = job('2') + step('2', 'batch', '98304K') + step('2', 'extern', '1024K', 'COMPLETED');

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
    const parsed = parseSacct(
      job('7', { JobName: name, Comment: comment }) + step('7', 'batch', '2048K'),
      '7',
      D,
    );
    expect(parsed).toMatchObject({
      owner: { uid: 1501, user: 'alice', account: 'lab' },
      state: 'OUT_OF_MEMORY',
      partition: 'short',
      jobName: name,
      comment,
      maxRss: '2048K',
    });
  });

  it('waits for a final state and a known job', () => {
    expect(parseSacct(job('3', { State: 'RUNNING' }), '3', D)).toBeUndefined();
    expect(parseSacct(out, '4', D)).toBeUndefined();
    // the stub slurmdbd holds for a moment after a short job ends
    const stub = job('10', { ReqMem: '16?', Timelimit: '', Partition: '', JobName: 'allocation' });
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
