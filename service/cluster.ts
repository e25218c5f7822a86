import { profileDifferences } from '../core/cluster-profile.ts';
import { PartitionsUnknownError } from '../core/errors.ts';
import type { EventOf } from '../core/events.ts';
import { type Profile, parseProfile } from '../core/profiles.ts';
import type { ReadDeps, ServiceDeps } from './deps.ts';

// The cluster's own partitions: what the relay discovered is kept per cluster, and plans use it unless
// the config names a profile (then a difference is only warned about).

export async function onClusterDiscovered(deps: ServiceDeps, event: EventOf<'slurm.cluster.discovered'>) {
  const d = event.data;
  await deps.store.putCluster({
    cluster: event.cluster,
    profile: d.profile,
    notes: d.notes,
    observedAt: event.occurredAt,
  });
  if (!deps.config.profile) return;
  const differences = profileDifferences(deps.config.profile, parseProfile(d.profile));
  if (differences.length)
    deps.telemetry?.log(
      'warn',
      `the configured profile differs from cluster ${event.cluster}'s own partitions`,
      {
        differences: differences.join('; '),
      },
    );
}

/**
 * The partitions a plan for this cluster uses: the configured profile, else the one its relay discovered.
 * Before the first discovery there is none: the event waits (it comes back), as a plan on guessed
 * partitions could submit what never starts.
 */
export async function profileFor(
  deps: Pick<ReadDeps, 'store' | 'config'>,
  cluster: string,
): Promise<Profile> {
  if (deps.config.profile) return deps.config.profile;
  const known = await deps.store.getCluster(cluster);
  if (!known) throw new PartitionsUnknownError(cluster);
  return parseProfile(known.profile);
}
