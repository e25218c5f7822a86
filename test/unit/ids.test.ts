import { describe, expect, it } from 'vitest';
import {
  commandIds,
  isReservedWorkload,
  jobKey,
  parseJobKey,
  torcWorkflowOf,
  torcWorkload,
  UNTAGGED,
} from '../../core/ids.ts';

describe('ids', () => {
  it.each([
    ['lab', '77'],
    ['lab', '123_4'],
    // A cluster name may hold ':'; the job id never does.
    ['site:east', '9'],
  ])('a job key round-trips: %s / %s', (cluster, jobId) => {
    expect(parseJobKey(jobKey(cluster, jobId))).toEqual({ cluster, jobId });
  });

  it.each(['77', 'lab:', ':77', 'lab:7x'])('refuses %j as a job key', (key) => {
    expect(() => parseJobKey(key)).toThrow(/not a job key/);
  });

  it('a Torc workload round-trips to its workflow id; nothing else is one', () => {
    expect(torcWorkflowOf(torcWorkload(42))).toBe(42);
    for (const other of ['torc-wf42x', 'torc-wf', 'torc-wf0', 'nightly', UNTAGGED])
      expect(torcWorkflowOf(other)).toBeUndefined();
  });

  it('reserves the names of Rebound’s own records', () => {
    expect([UNTAGGED, torcWorkload(1), '~foreign'].every(isReservedWorkload)).toBe(true);
    expect(isReservedWorkload('torch-training')).toBe(false);
  });

  it('builds one command id per attempt and step, the same every time', () => {
    expect(commandIds.resubmit(jobKey('lab', '77'), 2)).toBe('lab:77:a2');
    expect(commandIds.torcStep(torcWorkload(7), 1, 3, 'allocations')).toBe('torc-wf7:a1:3-allocations');
    expect(commandIds.schedule(torcWorkload(7), 1)).toBe(commandIds.schedule(torcWorkload(7), 1));
    expect(
      new Set([commandIds.cleanup('w', '5'), commandIds.schedule('w', 5), commandIds.enrich('w:5')]).size,
    ).toBe(3);
  });
});
