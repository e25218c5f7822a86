import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROTOCOL } from '../../core/commands.ts';
import { SiteRulesSchema } from '../../core/owner.ts';
import { parseRelayConfig } from '../../relay/config.ts';
import { whomToActFor } from '../../relay/daemon.ts';
import { Executor } from '../../relay/executor.ts';
import { TorcClient } from '../../relay/torc-client.ts';
import { TorcExecutor } from '../../relay/torc-executor.ts';
import { readRegistry, registerWorkflow } from '../../relay/torc-registry.ts';

// Whom a Torc workflow's allocations run as: the watch list says, per workflow. In site mode an entry
// without a user, or a user the site's rules exclude, gets no allocation — a failed result that says why.

const dir = () => mkdtempSync(join(tmpdir(), 'rebound-watch-'));

describe('the watch list', () => {
  it("reads 0.2's bare ids, adds users, and refuses to change a workflow's user", () => {
    const file = join(dir(), 'torc-workflows.json');
    writeFileSync(file, '[4]');
    expect(readRegistry(file)).toEqual([{ id: 4 }]);
    expect(registerWorkflow(file, 9, 'alice')).toBe(true);
    expect(registerWorkflow(file, 9, 'alice')).toBe(false);
    expect(() => registerWorkflow(file, 9, 'mallory')).toThrow('Torc workflow 9 is already watched as alice');
    expect(readRegistry(file)).toEqual([{ id: 4 }, { id: 9, user: 'alice' }]);
  });

  it('site mode wants a user for every workflow in the config', () => {
    const config = parseRelayConfig({
      torc: { url: 'http://torc/torc-service/v1', workflows: [3, { id: 5, user: 'alice' }] },
    });
    expect(config.torc?.workflows).toEqual([{ id: 3 }, { id: 5, user: 'alice' }]);
    // Judged before the uid check only when the relay is root: here, the error names whichever comes first.
    expect(() => whomToActFor({ mode: 'site', site: SiteRulesSchema.parse({}), config })).toThrow(
      process.getuid?.() === 0
        ? /relay\.torc\.workflows\[0\]: site mode needs the user/
        : /site mode .* runs as root/,
    );
  });
});

describe('site-mode allocations', () => {
  const submit = (workflowId: number) => ({
    type: 'torc.submit-allocations' as const,
    id: `torc-wf${workflowId}:sched:s1`,
    protocol: PROTOCOL,
    workload: `torc-wf${workflowId}`,
    createdAt: '2026-11-30T12:00:00Z',
    workflowId,
    allocations: [
      {
        name: 'small_a1',
        rr: 'small',
        deferred: false,
        partition: 'short',
        count: 1,
        nodes: 1,
        walltime: '00:10:00',
        mem: '1G',
        cpusPerTask: 1,
        jobsPerAllocation: 1,
        jobIds: [1],
      },
    ],
  });
  const executor = (registryFile: string, rules = {}) => {
    const stateDir = dir();
    const actingFor = { mode: 'site' as const, rules: SiteRulesSchema.parse(rules) };
    return new Executor({
      cluster: 'lab',
      stateDir,
      hooks: {},
      actingFor,
      torc: new TorcExecutor({
        // Never reached: the refusal comes before any call to Torc.
        client: new TorcClient({ url: 'http://127.0.0.1:9/torc-service/v1' }),
        torcUrl: 'http://127.0.0.1:9/torc-service/v1',
        outputDir: 'torc_output',
        runner: 'torc-slurm-job-runner',
        user: 'root',
        actingFor,
        registryFile,
      }),
    });
  };

  it('are refused for a workflow the watch list names no user for', async () => {
    const file = join(dir(), 'torc-workflows.json');
    registerWorkflow(file, 12);
    const [result] = await executor(file).execute(submit(12));
    expect(result).toMatchObject({
      type: 'relay.command.result',
      data: {
        ok: false,
        error: expect.stringContaining('Torc workflow 12 has no user to submit its allocations as'),
      },
    });
  });

  it("are refused for a user the site's rules exclude (root, below the minimum uid)", async () => {
    const file = join(dir(), 'torc-workflows.json');
    registerWorkflow(file, 13, 'root');
    const [result] = await executor(file).execute(submit(13));
    expect(result).toMatchObject({
      data: { ok: false, error: expect.stringContaining("below the site's minimum uid 1000") },
    });
  });
});
