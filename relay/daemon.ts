import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { ActingFor, Mode, SiteRules } from '../core/owner.ts';
import type { CommandQueue } from '../core/ports.ts';
import { type RelayConfig, torcPassword } from './config.ts';
import { ClusterDiscovery } from './discovery.ts';
import { every } from './every.ts';
import { limitSlurmCommands, run } from './exec.ts';
import { Executor } from './executor.ts';
import type { LoopHealth } from './loop-health.ts';
import { Poster } from './poster.ts';
import { QueueWatch } from './queue-watch.ts';
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
  /** User mode acts for the user it runs as; site mode (as root) for each owner within `site`. */
  mode: Mode;
  site: SiteRules;
  sacctIntervalSeconds: number;
  /** Seconds between looks for resubmissions that can never start; 0 turns it off. */
  pendingIntervalSeconds: number;
  commands: CommandQueue;
  log: (line: string) => void;
}

/**
 * Everything that runs on the login node: the command executor, the sacct watcher and the Torc forwarder.
 * `npm start` runs it next to the service; `rebound relay` runs it alone against a deployed service.
 */
export async function startRelayDaemon(o: RelayDaemonOptions) {
  const actingFor = whomToActFor(o);
  limitSlurmCommands(o.config.slurmConcurrency);
  const cluster = process.env.REBOUND_CLUSTER ?? (await slurmClusterName()) ?? 'local';
  const poster = new Poster({ url: o.url, secret: o.secret, spoolDir: o.spoolDir, log: o.log });
  const relayDir = join(o.dataDir, 'relay');
  // The user it runs as: the sacct watcher's and Torc allocations' user.
  const user = userInfo().username;
  const torc = o.config.torc;
  const client = torc
    ? new TorcClient({
        url: torc.url,
        ...(torc.username ? { username: torc.username, password: torcPassword(torc) ?? '' } : {}),
      })
    : undefined;
  // The cluster's own partitions, for the plans (read at start, then hourly, and again soon after anything
  // says they are not what the plans took them for).
  const discovery = new ClusterDiscovery({ cluster, post: (e) => poster.post(e) });
  // Tagged jobs as they queue (the service follows their ends), untagged ones for the enrichment, stuck
  // resubmissions: one squeue per poll.
  const queue = new QueueWatch({
    cluster,
    ...(actingFor.mode === 'user' ? { user } : {}),
    post: (e) => poster.post(e),
    log: o.log,
    partitionsChanged: () => discovery.stale(),
  });
  const executor = new Executor({
    cluster,
    stateDir: relayDir,
    partitionsChanged: () => discovery.stale(),
    seenUntagged: (id) => queue.seenUntagged(id),
    hooks: o.config.hooks,
    actingFor,
    ...(torc && client
      ? {
          torc: new TorcExecutor({
            client,
            torcUrl: torc.url,
            // Site mode: a relative folder is in each owner's home (relay/torc-executor.ts).
            outputDir: actingFor.mode === 'user' ? resolve(torc.outputDir) : torc.outputDir,
            runner: torc.runner,
            user,
            actingFor,
            registryFile: join(relayDir, TORC_REGISTRY),
            ...(torc.account ? { account: torc.account } : {}),
          }),
        }
      : {}),
  });
  const relay = new Relay({ commands: o.commands, executor, poster, log: o.log });
  relay.start();
  // Long waits (accounting records) are abandoned first, so the commands under way finish at once.
  const tasks: { stop(): Promise<void> }[] = [
    {
      stop: () => {
        executor.stop();
        return relay.stop();
      },
    },
  ];
  // Each loop's last success and last error, for /healthz and `rebound status`.
  const loops: Record<string, () => LoopHealth> = {
    relay: () => relay.health(),
    poster: () => poster.health,
  };
  const discovering = every('cluster discovery', 60_000, () => discovery.poll(), o.log);
  loops['cluster discovery'] = discovering.health;
  tasks.push(discovering);
  if (torc && client) {
    for (const w of torc.workflows) registerWorkflow(join(relayDir, TORC_REGISTRY), w.id, w.user);
    const forwarder = new TorcForwarder({
      client,
      cluster,
      post: (e) => poster.post(e),
      registryFile: join(relayDir, TORC_REGISTRY),
      stateFile: join(relayDir, 'torc-forwarder.json'),
      log: o.log,
      slurmJobs: queuedSlurmJobs,
    });
    const forwarding = every('torc forwarder', torc.pollSeconds * 1000, () => forwarder.sync(), o.log);
    loops['torc forwarder'] = forwarding.health;
    tasks.push(forwarding, { stop: async () => forwarder.stop() });
  }
  // The watcher lists the jobs of the user it runs as: in site mode (root) those are nobody's to recover.
  if (o.sacctIntervalSeconds > 0 && actingFor.mode === 'user') {
    const watcher = new SacctWatcher({
      cluster,
      user,
      stateFile: join(relayDir, 'sacct-watcher.json'),
      post: (e) => poster.post(e),
      log: o.log,
    });
    const watching = every('sacct watcher', o.sacctIntervalSeconds * 1000, () => watcher.poll(), o.log);
    loops['sacct watcher'] = watching.health;
    tasks.push(watching);
  }
  if (o.pendingIntervalSeconds > 0) {
    const watching = every('queue watch', o.pendingIntervalSeconds * 1000, () => queue.poll(), o.log);
    loops['queue watch'] = watching.health;
    tasks.push(watching);
  }
  return {
    cluster,
    actingFor,
    health: () => Object.fromEntries(Object.entries(loops).map(([name, health]) => [name, health()])),
    stop: () => Promise.all(tasks.map((t) => t.stop())).then(() => undefined),
  };
}

/**
 * User mode acts for the user it runs as, and so never runs as root (it would act for root's jobs with
 * root's power, and nobody else's by design). Site mode submits as each owner through runuser: only root
 * can; a Torc workflow's allocations run as the user its watch-list entry names, so each needs one.
 */
export function whomToActFor(o: Pick<RelayDaemonOptions, 'mode' | 'site' | 'config'>): ActingFor {
  const { uid, username } = userInfo();
  if (o.mode === 'user') {
    if (uid === 0)
      throw new ConfigError('relay', [
        'user mode runs as the user whose jobs it recovers, never as root: start it as that user, or ' +
          'set "mode": "site" in rebound.config.json to recover every user\'s jobs as their owner ' +
          '(README "Running for a site")',
      ]);
    return { mode: 'user', uid, user: username };
  }
  if (uid !== 0)
    throw new ConfigError('relay', [
      `site mode submits each job as its owner and so runs as root, not as ${username}: start it as ` +
        'root, or remove "mode": "site" to recover your own jobs (README "Running for yourself")',
    ]);
  const unowned = (o.config.torc?.workflows ?? []).findIndex((w) => !w.user);
  if (unowned >= 0)
    throw new ConfigError('relay', [
      `relay.torc.workflows[${unowned}]: site mode needs the user its allocations run as: { "id": …, "user": "<name>" }`,
    ]);
  return { mode: 'site', rules: o.site };
}

async function slurmClusterName(): Promise<string | undefined> {
  try {
    const { stdout } = await run(['scontrol', 'show', 'config'], { timeoutMs: 5000 });
    return /^ClusterName\s*=\s*(\S+)/m.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
