import { readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import type { Command } from '../core/commands.ts';
import { ReboundError } from '../core/errors.ts';
import type { Event } from '../core/events.ts';
import { describeActingFor } from '../core/owner.ts';
import { createApp } from '../functions/app.ts';
import { mountMcp } from '../functions/mcp-server.ts';
import { startRelayDaemon, whomToActFor } from '../relay/daemon.ts';
import { every } from '../relay/every.ts';
import { slurmCallCounts } from '../relay/exec.ts';
import { RELAY_VERSION } from '../relay/version.ts';
import { runAutoSchedule } from '../service/auto-schedule.ts';
import { reportSilentCommands } from '../service/command-watch.ts';
import { reportDeadLetters } from '../service/dead-letters.ts';
import { deliverNotices, fetchPost, notifyChannels } from '../service/notify.ts';
import { recheckWaitingArrays } from '../service/slurm-arrays.ts';
import { recheckWaitingRuns } from '../service/torc-completion.ts';
import { ingestFirst } from './ingest-first.ts';
import { ensureLocalToken } from './local-token.ts';
import { type LocalSettings, readSecret, relayOptions } from './settings.ts';
import { closeDatabase, openDatabase } from './sqlite.ts';
import { SqliteQueue } from './sqlite-queue.ts';
import { SqliteStore } from './sqlite-store.ts';
import { localTelemetry } from './telemetry.ts';
import { startWorker } from './worker-loop.ts';

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
  // Whom it acts for is settled before anything listens: a wrong mode for this user stops it here.
  log(`Rebound ${RELAY_VERSION} in ${describeActingFor(whomToActFor(relayOptions(settings)))}`);
  const db = openDatabase(join(settings.dataDir, 'rebound.db'));
  const store = new SqliteStore(db);
  const events = new SqliteQueue<Event>(db, 'events', { maxReceives: 5 });
  const commands = new SqliteQueue<Command>(db, 'commands', { maxReceives: 5 });
  let worker: ReturnType<typeof startWorker> | undefined;
  let relay: Awaited<ReturnType<typeof startRelayDaemon>> | undefined;
  const telemetry = localTelemetry(log);
  const app = createApp({
    events,
    store,
    config: settings.config,
    secret: settings.secret,
    log,
    telemetry,
    deadLetters: {
      list: async () => ({ events: events.deadLetterList(), commands: commands.deadLetterList() }),
      replay: (queue, id) => (queue === 'events' ? events : commands).replay(id),
    },
    health: () => ({
      events: events.stats(),
      commands: commands.stats(),
      worker: worker?.progress(),
      spooled: spooled(settings.spoolDir),
      loops: { ...(worker ? { worker: worker.health() } : {}), ...relay?.health() },
      metrics: telemetry.counts(),
      // The relay's Slurm commands since the start, by command: what Rebound costs slurmctld and slurmdbd.
      slurmCalls: slurmCallCounts(),
    }),
  });
  // The MCP tools on the same app (in AWS they have their own function: functions/mcp.ts).
  mountMcp(app, { events, store, config: settings.config, now: () => new Date() });
  const webhook = ingestFirst(app.fetch);
  const server = serve({ fetch: webhook.fetch, hostname: settings.host, port: settings.port });
  // Longer than any client's idle keep-alive (undici's is 4 s): the client closes an idle socket first, so a
  // request is never sent on one the server is closing ("other side closed" in a long-lived client such as
  // `rebound mcp`).
  (server as Server).keepAliveTimeout = 65_000;
  await new Promise<void>((ok, fail) =>
    server.once('listening', ok).once('error', (error: NodeJS.ErrnoException) => {
      void closeDatabase(db);
      fail(
        error.code === 'EADDRINUSE'
          ? new ReboundError(
              `cannot listen on ${settings.host}:${settings.port}: the address is in use (another Rebound? set REBOUND_PORT)`,
            )
          : error,
      );
    }),
  );

  const deps = { store, commands, config: settings.config, now: () => new Date(), telemetry };
  const me = userInfo();
  await ensureLocalToken(store, join(settings.dataDir, 'token'), { user: me.username, uid: me.uid });
  worker = startWorker(events, deps, log, webhook.quiet);

  relay = await startRelayDaemon({ ...relayOptions(settings), commands, log });
  const cluster = relay.cluster;
  const torcConfig = settings.relay.torc;
  const notify = {
    ...deps,
    channels: notifyChannels(settings.config.notify, {
      post: fetchPost,
      secretOf: (c) =>
        c.secretFile
          ? readSecret(c.secretFile, `notify (${c.type}) secretFile`)
          : c.secretEnv && process.env[c.secretEnv],
    }),
    log,
  };
  // The scheduler tick: auto-schedule for Torc workflows, dead letters to their workloads, notices to
  // people, housekeeping.
  const tick = every(
    'tick',
    settings.tickSeconds * 1000,
    async () => {
      await runAutoSchedule(deps);
      await recheckWaitingRuns(deps);
      await reportSilentCommands(deps);
      await recheckWaitingArrays(deps);
      await reportDeadLetters(deps, { events: events.deadLetterList(), commands: commands.deadLetterList() });
      await deliverNotices(notify);
      store.purgeExpired();
      events.purge();
      commands.purge();
    },
    log,
  );

  log(`Rebound listening on ${settings.url} (cluster ${cluster}, data in ${settings.dataDir})`);
  log(`rebound status/history/plan read with your token in ${join(settings.dataDir, 'token')} (mode 0600)`);
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
    settings.config.mode === 'site'
      ? "Site mode: events come from the site hook (the sacct watcher, which lists one user's jobs, is off)."
      : settings.sacctIntervalSeconds > 0
        ? `Without site hooks, the sacct watcher polls your jobs every ${settings.sacctIntervalSeconds} s (REBOUND_SACCT_INTERVAL=0 turns it off).`
        : 'The sacct watcher is off (REBOUND_SACCT_INTERVAL=0): events come from the Slurm hooks only.',
  );

  return {
    url: settings.url,
    async stop() {
      // Stop taking requests first; what was accepted is in the queue and survives the restart. No client's
      // connection holds the stop up: close() ends the idle ones, and after a grace for requests under way
      // every other goes too. (After test/e2e/manual.test.ts, whose headless browser loads the status page,
      // a connection that carried no request held a stop ~40 s: Node counts it not idle, and waits out its
      // 60-s headers timeout.)
      const closed = new Promise<void>((r) => server.close(() => r()));
      const grace = setTimeout(() => (server as Server).closeAllConnections(), STOP_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await Promise.all([worker?.stop(), relay.stop(), tick.stop()]);
      await closeDatabase(db);
    },
  };
}

/** How long a stop waits for requests under way before it closes their connections. */
const STOP_GRACE_MS = 2000;

/** Events waiting in the spool folder for the relay to post (the hooks write there when the service is down). */
function spooled(dir: string): number {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.json')).length;
  } catch {
    return 0;
  }
}
