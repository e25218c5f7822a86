import { describe, expect, it } from 'vitest';
import { reportSilentCommands } from '../../service/command-watch.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';

// A command the relay never answers — it is down, or lost the command — must not leave its workload
// "recovering" for ever: after commandResultSeconds it needs attention, once, and a person is told.

describe('commands without a result', () => {
  it('a resubmission with no result for commandResultSeconds needs attention once; its late result clears it', async () => {
    const deps = testDeps({ commandResultSeconds: 600 });
    await handleEvent(deps, sacctEvent('77'));
    const [resubmit] = deps.commands.sent();
    expect(resubmit).toMatchObject({ type: 'slurm.resubmit' });
    expect((await deps.store.getWorkload('nightly'))?.awaiting).toMatchObject([{ id: resubmit!.id }]);

    deps.advance(599);
    await reportSilentCommands(deps);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('recovering');
    deps.advance(1);
    await reportSilentCommands(deps);
    await reportSilentCommands(deps);
    const w = await deps.store.getWorkload('nightly');
    expect(w?.status).toBe('needs-attention');
    expect(w?.notices).toHaveLength(1);
    const said = (await deps.store.listHistory('nightly'))
      .map((h) => h.line)
      .filter((l) => l.startsWith('No result'));
    expect(said).toEqual([
      `No result from the relay for slurm.resubmit command ${resubmit!.id} after 600 s: is the relay running (\`rebound status\` lists its loops)? A command it failed on is in \`rebound dead-letters\`.`,
    ]);

    await handleEvent(deps, resultEvent(resubmit!, { slurmJobIds: ['78'] }));
    expect((await deps.store.getWorkload('nightly'))?.awaiting).toEqual([]);
  });

  it('an enrichment is not awaited (its answer is a sacct event, not a result)', async () => {
    const deps = testDeps();
    await handleEvent(deps, {
      id: 'jobcomp:lab:90',
      version: 1,
      source: 'jobcomp',
      occurredAt: '2026-11-25T12:00:00Z',
      cluster: 'lab',
      type: 'slurm.jobcomp',
      data: { jobId: '90', state: 'OUT_OF_MEMORY', exitCode: '0:125' },
    });
    expect(deps.commands.sent().map((c) => c.type)).toEqual(['slurm.enrich']);
    deps.advance(3600);
    await reportSilentCommands(deps);
    for (const w of await deps.store.listWorkloads()) expect(w.status).not.toBe('needs-attention');
  });
});
