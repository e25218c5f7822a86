import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TorcClient } from '../../relay/torc-client.ts';
import { TorcExecutor } from '../../relay/torc-executor.ts';
import { TorcDouble } from '../support/torc-double.ts';

// `rebound sync` on the relay, against the Torc test double: an allocation Torc counts as live that Slurm
// no longer knows leaves its running job orphaned; a dry run names it and changes nothing, a real run
// fails it (−128) and marks the allocation complete — as `torc workflows sync-status` does.

const torc = new TorcDouble();
beforeAll(() => torc.start());
afterAll(async () => {
  await torc.stop();
  expect(torc.violations).toEqual([]);
});

describe('orphan clean-up by hand', () => {
  it('names the orphans in a dry run, cleans them up in a real one, and finds none after', async () => {
    const id = torc.createWorkflow({
      name: 'orphans',
      resourceRequirements: [{ name: 'small', memory: '200m', runtime: 'PT1M' }],
      jobs: [
        { name: 'a', command: 'true', rr: 'small' },
        { name: 'b', command: 'true', rr: 'small' },
      ],
    });
    const scn = torc.addScheduledNode(id, 'active');
    torc.scns.get(scn)!.scheduler_id = 4242;
    const node = 900_001;
    torc.computeNodes.set(node, {
      id: node,
      workflow_id: id,
      hostname: 'vm',
      pid: 1,
      start_time: new Date().toISOString(),
      num_cpus: 1,
      memory_gb: 1,
      num_gpus: 0,
      num_nodes: 1,
      compute_node_type: 'slurm',
      is_active: true,
      scheduler: { scheduler_id: scn },
    });
    const [a] = torc.jobsOf(id);
    a!.status = 'running';
    a!.active_compute_node_id = node;
    const executor = new TorcExecutor({
      client: new TorcClient({ url: torc.url, attempts: 2 }),
      torcUrl: torc.url,
      outputDir: mkdtempSync(join(tmpdir(), 'rebound-sync-')),
      runner: 'true',
      user: 'alice',
      actingFor: { mode: 'user', uid: 1501, user: 'alice' },
      registryFile: join(mkdtempSync(join(tmpdir(), 'rebound-sync-')), 'registry.json'),
      slurmJobs: async () => new Set(['17']),
    });
    const before = torc.snapshot(id);
    expect(await executor.syncOrphans(id, true)).toBe(
      `Would clean up 1 allocation(s) no longer in Slurm (4242): 1 running job(s) would be marked failed (orphaned): ${a!.id}`,
    );
    expect(torc.snapshot(id)).toBe(before);
    expect(await executor.syncOrphans(id, false)).toBe(
      `Cleaned up 1 allocation(s) no longer in Slurm (4242): 1 job(s) marked failed (orphaned): ${a!.id}`,
    );
    expect(a!.status).toBe('failed');
    expect(torc.scns.get(scn)!.status).toBe('complete');
    expect(await executor.syncOrphans(id, false)).toBe(
      'No orphans found: 0 allocation(s) Torc counts as live, all known to Slurm',
    );
  });
});
