// Why a queued job will never start by itself: Slurm's pending reasons that no waiting resolves (the
// partition's limits, a dependency that failed, an account or QOS not valid). A resubmission left pending
// for one of these is a stall a person must hear about. Reasons that do resolve (Resources, Priority,
// Dependency, QOS limits per user, BeginTime) are not here; nor is ReqNodeNotAvail, which a node coming
// back resolves.

const NEVER_STARTS = {
  PartitionTimeLimit: "its --time is above the partition's time limit",
  PartitionNodeLimit: 'it asks for more nodes than the partition allows',
  PartitionConfig: 'the partition cannot run it as asked (CPUs, memory or nodes per job)',
  DependencyNeverSatisfied: 'a job it depends on failed, so its dependency can never be met',
  BadConstraints: 'no node has the features or resources it asks for',
  InvalidAccount: 'its account is not valid for this partition',
  InvalidQOS: 'its QOS is not valid here',
} as const satisfies Record<string, string>;

/** Pending reasons and sbatch refusals that say the partitions are not what the plans took them for. */
const PARTITION_REASONS = new Set([
  'PartitionTimeLimit',
  'PartitionNodeLimit',
  'PartitionConfig',
  'InvalidAccount',
]);
const PARTITION_REFUSAL =
  /invalid partition|partition.*(not available|unavailable|down|inactive)|account\/partition combination|requested node configuration is not available|requested time limit is invalid/i;

/**
 * Whether a pending reason (squeue's %r) or an sbatch error says a partition is not as the plans took it
 * (its limits, who it admits, whether it is there at all): the relay then reads the partitions again.
 */
export const partitionsMayHaveChanged = (reasonOrError: string) =>
  PARTITION_REASONS.has(reasonOrError) || PARTITION_REFUSAL.test(reasonOrError);

/** Why a job pending for `reason` never starts, in words; undefined when waiting may start it. */
export function neverStarts(reason: string): string | undefined {
  return Object.hasOwn(NEVER_STARTS, reason) ? NEVER_STARTS[reason as keyof typeof NEVER_STARTS] : undefined;
}
