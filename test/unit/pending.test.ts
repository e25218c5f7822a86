import { describe, expect, it } from 'vitest';
import { neverStarts, partitionsMayHaveChanged } from '../../core/pending.ts';

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

describe('what sends the relay to read the partitions again', () => {
  it.each([
    'PartitionTimeLimit',
    'PartitionConfig',
    'InvalidAccount',
    // sbatch's refusals as Slurm 22.05 words them
    'sbatch: error: Batch job submission failed: Invalid partition name specified',
    'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified',
    'sbatch: error: Batch job submission failed: Requested node configuration is not available',
    'sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)',
  ])('%s', (said) => expect(partitionsMayHaveChanged(said)).toBe(true));
  it.each(['Resources', 'DependencyNeverSatisfied', 'sbatch: error: Slurm temporarily unable to accept job'])(
    'not %s',
    (said) => expect(partitionsMayHaveChanged(said)).toBe(false),
  );
});
