import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import type { Command } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { createApp } from '../functions/app.ts';
import { run } from '../relay/exec.ts';
import { Executor } from '../relay/executor.ts';
import { Poster } from '../relay/poster.ts';
import { Relay } from '../relay/relay.ts';
import { torcPassword } from '../relay/config.ts';
import { SacctWatcher } from '../relay/sacct-watcher.ts';
import { queuedSlurmJobs } from '../relay/slurm.ts';
import { TorcClient } from '../relay/torc-client.ts';
import { TorcExecutor } from '../relay/torc-executor.ts';
import { registerWorkflow, TORC_REGISTRY, TorcForwarder } from '../relay/torc-forwarder.ts';
import { runAutoSchedule } from '../service/torc.ts';
import { every } from './every.ts';
import { ingestFirst } from './ingest-first.ts';
import type { LocalSettings } from './settings.ts';
import { startWorker } from './worker-loop.ts';
import { openDatabase } from './sqlite.ts';
import { SqliteQueue } from './sqlite-queue.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface Runtime {
  url: string;
  stop(): Promise<void>;
}

const HOOKS_DIR = resolve(import.meta.dirname, '..', 'hooks');

/** The embedded default: webhook, worker, relay and the scheduler tick in one process, state in SQLite. */
export async function startLocal(
  settings: LocalSettings,
  log: (line: string) => void = console.log,
): Promise<Runtime> {
  const db = openDatabase(join(settings.dataDir, 'rebound.db'));
  const store = new SqliteStore(db);
  const events = new SqliteQueue<Event>(db, 'events', { maxReceives: 5 });
  const commands = new SqliteQueue<Command>(db, 'commands', { maxReceives: 5 });
  const app = createApp({ events, store, config: settings.config, secret: settings.secret });
  const webhook = ingestFirst(app.fetch);
  const server = serve({ fetch: webhook.fetch, hostname: settings.host, port: settings.port });
  await new Promise<void>((ok, fail) => server.once('listening', ok).once('error', fail));

  const deps = { store, commands, config: settings.config, now: () => new Date() };
  const worker = startWorker(events, deps, log, webhook.quiet);

  const cluster = process.env.REBOUND_CLUSTER ?? (await slurmClusterName()) ?? 'local';
  const poster = new Poster({ url: settings.url, secret: settings.secret, spoolDir: settings.spoolDir });
  const relayDir = join(settings.dataDir, 'relay');
  const torcConfig = settings.relay.torc;
  const torcClient = torcConfig
    ? new TorcClient({
        url: torcConfig.url,
        ...(torcConfig.username ? { username: torcConfig.username, password: torcPassword(torcConfig) ?? '' } : {}),
      })
    : undefined;
  const executor = new Executor({
    cluster,
    stateDir: relayDir,
    hooks: settings.relay.hooks,
    ...(torcConfig && torcClient
      ? {
          torc: new TorcExecutor({
            client: torcClient,
            torcUrl: torcConfig.url,
            outputDir: resolve(torcConfig.outputDir),
            runner: torcConfig.runner,
            ...(torcConfig.account ? { account: torcConfig.account } : {}),
          }),
        }
      : {}),
  });
  const relay = new Relay({ commands, executor, poster, log });
  relay.start();
  const tasks = [
    // The scheduler tick: auto-schedule for Torc workflows, then housekeeping.
    every(
      'tick',
      settings.tickSeconds * 1000,
      async () => {
        await runAutoSchedule(deps);
        store.purgeExpired();
        events.purge();
        commands.purge();
      },
      log,
    ),
  ];
  if (torcConfig && torcClient) {
    for (const id of torcConfig.workflows) registerWorkflow(join(relayDir, TORC_REGISTRY), id);
    const forwarder = new TorcForwarder({
      client: torcClient,
      cluster,
      post: (e) => poster.post(e),
      registryFile: join(relayDir, TORC_REGISTRY),
      stateFile: join(relayDir, 'torc-forwarder.json'),
      log,
      slurmJobs: queuedSlurmJobs,
    });
    tasks.push(every('torc forwarder', torcConfig.pollSeconds * 1000, () => forwarder.sync(), log));
    tasks.push({ stop: async () => forwarder.stop() });
  }
  if (settings.sacctIntervalSeconds > 0) {
    const watcher = new SacctWatcher({
      cluster,
      stateFile: join(settings.dataDir, 'relay', 'sacct-watcher.json'),
      post: (e) => poster.post(e),
      capture: (id) => executor.capture(id),
      captured: (id) => executor.captured(id),
      log,
    });
    tasks.push(every('sacct watcher', settings.sacctIntervalSeconds * 1000, () => watcher.poll(), log));
  }

  log(`Rebound listening on ${settings.url} (cluster ${cluster}, data in ${settings.dataDir})`);
  log(`Point Slurm's completion hook at it: in slurm.conf set`);
  log(`  JobCompType=jobcomp/script`);
  log(`  JobCompLoc=${HOOKS_DIR}/jobcomp.sh`);
  log(`and give the hook its settings in /etc/rebound/hook.conf (or REBOUND_HOOK_CONF):`);
  log(`  REBOUND_URL=${settings.url}`);
  log(`  REBOUND_SECRET_FILE=${settings.secretFile}`);
  log(`  REBOUND_SPOOL=${settings.spoolDir}`);
  log(`then restart slurmctld. Tag jobs for recovery with: sbatch --comment=rebound:<workload> ...`);
  if (torcConfig)
    log(
      `Torc: ${torcConfig.url} as ${torcConfig.username ?? 'anonymous'}; watch a workflow with: rebound watch <workflow id>`,
    );
  log(
    settings.sacctIntervalSeconds > 0
      ? `Without site hooks, the sacct watcher polls your jobs every ${settings.sacctIntervalSeconds} s (REBOUND_SACCT_INTERVAL=0 turns it off).`
      : 'The sacct watcher is off (REBOUND_SACCT_INTERVAL=0): events come from the Slurm hooks only.',
  );

  return {
    url: settings.url,
    async stop() {
      // Stop taking requests first; what was accepted is in the queue and survives the restart.
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all([worker.stop(), relay.stop(), ...tasks.map((t) => t.stop())]);
      db.close();
    },
  };
}

async function slurmClusterName(): Promise<string | undefined> {
  try {
    const { stdout } = await run(['scontrol', 'show', 'config'], { timeoutMs: 5000 });
    return /^ClusterName\s*=\s*(\S+)/m.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
