import { describe, expect, it } from 'vitest';
import { neverStarts } from '../../core/pending.ts';

describe('pending reasons', () => {
  it.each(['PartitionTimeLimit', 'PartitionNodeLimit', 'DependencyNeverSatisfied', 'InvalidAccount'])(
    '%s never resolves by itself',
    (reason) => expect(neverStarts(reason)).toEqual(expect.any(String)),
  );
  it.each([
    'Resources',
    'Priority',
    'Dependency',
    'BeginTime',
    'QOSMaxJobsPerUserLimit',
    'ReqNodeNotAvail',
    'toString',
  ])('%s may', (reason) => expect(neverStarts(reason)).toBeUndefined());
});
