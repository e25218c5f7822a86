import { createHash } from 'node:crypto';
import { discoveredProfile, profileJson } from '../core/cluster-profile.ts';
import type { Event } from '../core/events.ts';
import { eventIds } from '../core/ids.ts';
import { run } from './exec.ts';

/** How often the partitions are read again (and posted when they changed: the same ones share an id). */
const REFRESH_MS = 3_600_000;

/**
 * Reads the cluster's partitions and nodes (one `scontrol` call each) and posts them as the
 * `slurm.cluster.discovered` event the service plans with (service/cluster.ts). Run every minute by the
 * daemon: it reads Slurm only when the last post is an hour old, so a failure is retried within a minute.
 */
export class ClusterDiscovery {
  private postedAt = 0;

  constructor(
    private readonly opts: {
      cluster: string;
      post: (events: Event[]) => Promise<void>;
      now?: () => Date;
    },
  ) {}

  /**
   * Something said the partitions are not what the plans took them for (an sbatch refusal, a retry
   * pending for a partition's limits): they are read again at the next poll (within a minute), not in
   * an hour.
   */
  stale(): void {
    this.postedAt = 0;
  }

  async poll(): Promise<void> {
    const now = this.opts.now?.() ?? new Date();
    if (now.getTime() - this.postedAt < REFRESH_MS) return;
    const [partitions, nodes] = await Promise.all([
      run(['scontrol', 'show', 'partition', '-o']),
      run(['scontrol', 'show', 'node', '-o']),
    ]);
    const { profile, notes } = discoveredProfile(this.opts.cluster, partitions.stdout, nodes.stdout);
    if (!profile)
      throw new Error(
        `no partition of cluster ${this.opts.cluster} can take jobs: ${notes.join('; ') || 'none listed'}`,
      );
    const json = profileJson(profile);
    const digest = createHash('sha256')
      .update(JSON.stringify([json, notes]))
      .digest('hex')
      .slice(0, 16);
    await this.opts.post([
      {
        id: eventIds.clusterDiscovered(this.opts.cluster, digest),
        version: 1,
        source: 'relay:discovery',
        occurredAt: now.toISOString(),
        cluster: this.opts.cluster,
        type: 'slurm.cluster.discovered',
        data: { profile: json, notes },
      },
    ]);
    this.postedAt = now.getTime();
  }
}
