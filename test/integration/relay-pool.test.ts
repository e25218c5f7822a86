import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlurm } from '../../bench/fake-slurm.ts';
import type { Command } from '../../core/commands.ts';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { limitSlurmCommands } from '../../relay/exec.ts';
import { Executor } from '../../relay/executor.ts';
import { Poster } from '../../relay/poster.ts';
import { Relay } from '../../relay/relay.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { MemoryQueue } from '../support/memory-queue.ts';
import { MemoryStore } from '../support/memory-store.ts';

// Issue 14: the relay runs each command on its own (a job whose accounting record is late holds up no
// other), asks Slurm about many jobs at once, never runs more Slurm commands at once than configured, and
// stops at once, leaving a command it was waiting on for the next start. Against the counting stand-ins of
// bench/fake-slurm.ts (small bash shims on PATH), so no Slurm is needed.

const SECRET = 'relay-pool-secret-of-32-bytes-at-least!';
const events = new MemoryQueue<Event>();
const fake = new FakeSlurm({ sbatch: 5, scontrol: 5, squeue: 5, sacct: 20, sinfo: 5 });
let server: ReturnType<typeof serve>;
let url: string;
const PATH = process.env.PATH;
beforeAll(async () => {
  await fake.start();
  process.env.PATH = `${fake.binDir}:${PATH}`;
  const app = createApp({ events, store: new MemoryStore(), config: parseServiceConfig({}), secret: SECRET });
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  process.env.PATH = PATH;
  limitSlurmCommands(4);
  await fake.stop();
  await new Promise((r) => server.close(r));
});

const until = async (what: string, probe: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

function relayFor(commands: MemoryQueue<Command>, log: string[]) {
  const poster = new Poster({
    url,
    secret: SECRET,
    spoolDir: mkdtempSync(join(tmpdir(), 'rebound-pool-spool-')),
    log: (l) => log.push(l),
  });
  const executor = new Executor({
    cluster: 'lab',
    stateDir: mkdtempSync(join(tmpdir(), 'rebound-pool-state-')),
    hooks: {},
    actingFor: { mode: 'user', uid: 1501, user: 'alice' },
  });
  const relay = new Relay({ commands, executor, poster, log: (l) => log.push(l) });
  relay.start();
  return {
    stop: async () => {
      executor.stop();
      await relay.stop();
    },
  };
}

const enrich = (jobId: string, state = 'TIMEOUT'): Command => ({
  id: `enrich:lab:${jobId}`,
  type: 'slurm.enrich',
  protocol: 4,
  workload: 'w',
  createdAt: new Date().toISOString(),
  jobId,
  eventId: `jobcomp:lab:${jobId}`,
  state,
});

describe('the relay against Slurm stand-ins', () => {
  it("a job whose accounting record is 20 s late holds up no other job's reading; Slurm sees at most 2 commands at once", async () => {
    limitSlurmCommands(2);
    const ids = Array.from({ length: 12 }, (_, i) => String(500 + i));
    // Timeouts: their reading waits for sacct's record (an OOM's is slurmctld's: core/heuristics.ts).
    for (const id of ids) {
      fake.add({ id, comment: 'rebound:w', script: `#!/bin/bash\n# job ${id}\n` });
      fake.end(id, 'TIMEOUT');
    }
    fake.jobs.get(ids[0]!)!.accountedFrom = Date.now() + 20_000;
    const before = { ...fake.calls };
    fake.mostAtOnce = 0;
    const commands = new MemoryQueue<Command>();
    const sent = new Map(ids.map((id) => [id, enrich(id)]));
    const enrichOf = (id: string) => sent.get(id)!;
    await commands.send(ids.map((id) => ({ id: `enrich:lab:${id}`, body: enrichOf(id) })));
    const log: string[] = [];
    const { stop } = relayFor(commands, log);
    const t0 = Date.now();
    const read = (id: string) => events.offered.includes(`sacct:lab:${id}`);
    await until('the 11 other readings', () => ids.slice(1).every(read));
    const took = Date.now() - t0;
    expect(took).toBeLessThan(5000);
    expect(read(ids[0]!)).toBe(false);
    expect(fake.mostAtOnce).toBeLessThanOrEqual(2);
    // Twelve jobs' questions asked together, not twelve times each.
    expect(fake.calls.sacct - before.sacct).toBeLessThan(12);
    expect(fake.calls.squeue - before.squeue).toBeLessThan(6);

    // Stopping does not wait out the late record: the command is left, not failed, for the next start.
    const stopping = Date.now();
    await stop();
    expect(Date.now() - stopping).toBeLessThan(3000);
    expect(log).toContain(`relay: slurm.enrich enrich:lab:${ids[0]} left for the next start`);
    expect(commands.pending()).toEqual([enrichOf(ids[0]!)]);
  }, 30_000);

  it('a resubmission delivered again is answered from the intent journal: one sbatch, and Slurm is not asked again', async () => {
    fake.add({ id: '700', comment: 'rebound:w', script: '#!/bin/bash\n# job 700\n' });
    fake.end('700', 'OUT_OF_MEMORY');
    const commands = new MemoryQueue<Command>();
    const log: string[] = [];
    const { stop } = relayFor(commands, log);
    await commands.send([{ id: 'enrich:lab:700', body: enrich('700', 'OUT_OF_MEMORY') }]);
    await until('the reading of 700', () => events.offered.includes('sacct:lab:700'));
    const resubmit: Command = {
      id: 'lab:700:a1',
      type: 'slurm.resubmit',
      protocol: 4,
      workload: 'w',
      createdAt: new Date().toISOString(),
      jobId: '700',
      comment: 'rebound:w/lab:700:a1.n0nce',
      resources: { mem: '300M' },
    };
    const submissions = fake.submissions.length;
    await commands.send([{ id: 'first', body: resubmit }]);
    await until('the first result', () => events.offered.includes('result:lab:700:a1'));
    expect(fake.submissions.length).toBe(submissions + 1);
    const before = { ...fake.calls };
    // The same command again (a redelivery after a lost delete): the journal answers.
    await commands.send([{ id: 'again', body: resubmit }]);
    await until(
      'the second result',
      () => events.offered.filter((id) => id === 'result:lab:700:a1').length === 2,
    );
    expect(fake.submissions.length).toBe(submissions + 1);
    expect(fake.calls.sbatch).toBe(before.sbatch);
    expect(fake.calls.sacct).toBe(before.sacct);
    expect(fake.calls.squeue - before.squeue).toBeLessThanOrEqual(1); // the dependents' listing, at most
    await stop();
  }, 30_000);
});
