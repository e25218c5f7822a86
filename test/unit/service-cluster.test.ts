import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoveredProfile, profileJson } from '../../core/cluster-profile.ts';
import { PartitionsUnknownError } from '../../core/errors.ts';
import type { Event } from '../../core/events.ts';
import { localTelemetry } from '../../local/telemetry.ts';
import { profileFor } from '../../service/cluster.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { testDeps } from '../support/deps.ts';
import { sacctEvent } from '../support/events.ts';

// With no profile in the config, plans use the cluster's own partitions, as its relay read them; a
// failure that comes before them waits; a configured profile that disagrees is only warned about.

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '..', 'events', 'scontrol', name), 'utf8');
const lab = discoveredProfile('lab', fixture('lab-partitions.txt'), fixture('lab-nodes.txt')).profile!;
const discovered = (notes: string[] = []): Event => ({
  id: 'cluster:lab:1',
  version: 1,
  source: 'relay:discovery',
  occurredAt: '2026-11-25T12:00:00Z',
  cluster: 'lab',
  type: 'slurm.cluster.discovered',
  data: { profile: profileJson(lab), notes },
});
const timeout = sacctEvent('61', {
  state: 'TIMEOUT',
  exitCode: '0:0',
  maxRss: '10M',
  elapsed: '00:01:20',
  timeLimit: '00:01:00',
  partition: 'short',
});

describe("the cluster's own partitions", () => {
  it('a failure before the first discovery waits; after it, the retry goes where its new time is allowed', async () => {
    const deps = testDeps({ profile: undefined });
    await expect(handleEvent(deps, timeout)).rejects.toThrow(/partitions of cluster lab are not known yet/);
    expect(deps.commands.sent()).toEqual([]);
    await handleEvent(deps, discovered());
    await handleEvent(deps, timeout);
    expect(deps.commands.sent()).toMatchObject([
      { type: 'slurm.resubmit', resources: { time: '2', partition: 'long' } },
    ]);
  });

  it('before the first discovery a plan is refused in words (the worker retries; the API answers 409)', async () => {
    const deps = testDeps({ profile: undefined });
    await expect(handleEvent(deps, timeout)).rejects.toThrow(PartitionsUnknownError);
    await expect(profileFor(deps, 'lab')).rejects.toThrow(/partitions of cluster lab are not known yet/);
    await handleEvent(deps, discovered());
    expect((await profileFor(deps, 'lab')).partitions.map((p) => p.name)).toEqual(['short', 'long']);
  });

  it('a configured profile wins, and a difference from the cluster is warned about', async () => {
    const lines: string[] = [];
    const deps = { ...testDeps({ profile: 'kestrel' }), telemetry: localTelemetry((l) => lines.push(l)) };
    await handleEvent(deps, discovered());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^warn: the configured profile differs from cluster lab's own partitions differences=".*partition debug is not on the cluster/,
    );
    expect(await deps.store.getCluster('lab')).toMatchObject({ cluster: 'lab', notes: [] });
  });

  it('refuses a discovery whose profile is not one (the webhook names the field)', async () => {
    const { EventSchema } = await import('../../core/events.ts');
    const bad = { ...discovered(), data: { profile: { name: 'x', partitions: [] } } };
    const r = EventSchema.safeParse(bad);
    expect(r.success).toBe(false);
  });
});
