/** The test cluster's partitions (scripts/slurm-env.sh) as a Rebound profile: a 1-minute `short`, an unlimited `long`. */
export const LAB_PROFILE = {
  name: 'rebound-lab',
  displayName: 'Rebound test cluster',
  partitions: [
    { name: 'short', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 60 },
    { name: 'long', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 'UNLIMITED' },
  ],
};
