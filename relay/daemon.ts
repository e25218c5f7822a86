import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandQueue } from '../core/ports.ts';
import { type RelayConfig, torcPassword } from './config.ts';
import { every } from './every.ts';
import { run } from './exec.ts';
import { Executor } from './executor.ts';
import { Poster } from './poster.ts';
import { Relay } from './relay.ts';
import { SacctWatcher } from './sacct-watcher.ts';
import { queuedSlurmJobs } from './slurm.ts';
import { TorcClient } from './torc-client.ts';
import { TorcExecutor } from './torc-executor.ts';
import { TorcForwarder } from './torc-forwarder.ts';
import { registerWorkflow, TORC_REGISTRY } from './torc-registry.ts';

export interface RelayDaemonOptions {
  /** The webhook results and events go to, and the secret that signs them. */
  url: string;
  secret: string;
  /** Relay state (captured jobs, watcher and forwarder cursors) and the spool. */
  dataDir: string;
  spoolDir: string;
  config: RelayConfig;
  sacctIntervalSeconds: number;
  commands: CommandQueue;
  log: (line: string) => void;
}

/**
 * Everything that runs on the login node: the command executor, the sacct watcher and the Torc forwarder.
 * `npm start` runs it next to the service; `rebound relay` runs it alone against a deployed service.
 */
export async function startRelayDaemon(o: RelayDaemonOptions) {
  const cluster = process.env.REBOUND_CLUSTER ?? (await slurmClusterName()) ?? 'local';
  const poster = new Poster({ url: o.url, secret: o.secret, spoolDir: o.spoolDir, log: o.log });
  const relayDir = join(o.dataDir, 'relay');
  // Whose jobs are the relay's own: it submits as this user and looks only at this user's jobs.
  const user = userInfo().username;
  const torc = o.config.torc;
  const client = torc
    ? new TorcClient({
        url: torc.url,
        ...(torc.username ? { username: torc.username, password: torcPassword(torc) ?? '' } : {}),
      })
    : undefined;
  const executor = new Executor({
    cluster,
    stateDir: relayDir,
    hooks: o.config.hooks,
    user,
    ...(torc && client
      ? {
          torc: new TorcExecutor({
            client,
            torcUrl: torc.url,
            outputDir: resolve(torc.outputDir),
            runner: torc.runner,
            user,
            ...(torc.account ? { account: torc.account } : {}),
          }),
        }
      : {}),
  });
  const relay = new Relay({ commands: o.commands, executor, poster, log: o.log });
  relay.start();
  const tasks: { stop(): Promise<void> }[] = [relay];
  if (torc && client) {
    for (const id of torc.workflows) registerWorkflow(join(relayDir, TORC_REGISTRY), id);
    const forwarder = new TorcForwarder({
      client,
      cluster,
      post: (e) => poster.post(e),
      registryFile: join(relayDir, TORC_REGISTRY),
      stateFile: join(relayDir, 'torc-forwarder.json'),
      log: o.log,
      slurmJobs: queuedSlurmJobs,
    });
    tasks.push(every('torc forwarder', torc.pollSeconds * 1000, () => forwarder.sync(), o.log));
    tasks.push({ stop: async () => forwarder.stop() });
  }
  if (o.sacctIntervalSeconds > 0) {
    const watcher = new SacctWatcher({
      cluster,
      user,
      stateFile: join(relayDir, 'sacct-watcher.json'),
      post: (e) => poster.post(e),
      capture: (id) => executor.capture(id),
      captured: (id) => executor.captured(id),
      log: o.log,
    });
    tasks.push(every('sacct watcher', o.sacctIntervalSeconds * 1000, () => watcher.poll(), o.log));
  }
  return {
    cluster,
    stop: () => Promise.all(tasks.map((t) => t.stop())).then(() => undefined),
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
