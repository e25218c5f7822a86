import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { parseRelayConfig, type RelayConfig } from '../relay/config.ts';
import type { RelayDaemonOptions } from '../relay/daemon.ts';
import { parseServiceConfig, type ServiceConfig } from '../service/config.ts';
import { secretProblem } from '../service/signature.ts';

export interface LocalSettings {
  dataDir: string;
  host: string;
  port: number;
  url: string;
  secret: string;
  secretFile: string;
  spoolDir: string;
  config: ServiceConfig;
  configFile?: string;
  /** Seconds between sacct watcher polls; 0 turns the watcher off (sites whose hooks post every job). */
  sacctIntervalSeconds: number;
  /** Seconds between looks for resubmissions that can never start (0: off). */
  pendingIntervalSeconds: number;
  /** Seconds between scheduler ticks (auto-schedule, housekeeping). */
  tickSeconds: number;
  relay: RelayConfig;
}

/**
 * Where the embedded default keeps everything, from the environment with sane defaults: data in ./.data,
 * loopback port 8787, a secret generated on first start (mode 0600), policy from rebound.config.json.
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const dataDir = resolve(env.REBOUND_DATA ?? '.data');
  // Captured scripts, the database and the secret live here: private, also when it existed before.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const { host, port, url } = serviceAddress(env);
  const sacctIntervalSeconds = seconds(env, 'REBOUND_SACCT_INTERVAL', 30, '(0 turns it off)');
  const pendingIntervalSeconds = seconds(env, 'REBOUND_PENDING_INTERVAL', 30, '(0 turns it off)');
  const tickSeconds = seconds(env, 'REBOUND_TICK_SECONDS', 60);
  if (tickSeconds === 0) throw new ConfigError('settings', ['REBOUND_TICK_SECONDS: must be more than 0']);
  const secretFile = resolve(env.REBOUND_SECRET_FILE ?? `${dataDir}/secret`);
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const secret = readSecret(secretFile);
  const configFile =
    env.REBOUND_CONFIG ?? (existsSync('rebound.config.json') ? 'rebound.config.json' : undefined);
  let raw: { relay?: unknown } = {};
  if (configFile) {
    try {
      raw = JSON.parse(readFileSync(configFile, 'utf8')) as { relay?: unknown };
    } catch (error) {
      throw new ConfigError(`config file ${configFile}`, [(error as Error).message]);
    }
  }
  const { relay, ...service } = raw;
  return {
    dataDir,
    host,
    port,
    url,
    secret,
    secretFile,
    spoolDir: resolve(dataDir, 'spool'),
    config: parseServiceConfig(service),
    relay: parseRelayConfig(relay),
    sacctIntervalSeconds,
    pendingIntervalSeconds,
    tickSeconds,
    ...(configFile ? { configFile: resolve(configFile) } : {}),
  };
}

/** Where the service listens (REBOUND_HOST, REBOUND_PORT) and where clients reach it (REBOUND_URL). */
export function serviceAddress(env: NodeJS.ProcessEnv = process.env) {
  const host = env.REBOUND_HOST ?? '127.0.0.1';
  const port = Number(env.REBOUND_PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError('settings', [`REBOUND_PORT: "${env.REBOUND_PORT}" is not a port`]);
  return { host, port, url: env.REBOUND_URL ?? `http://${host}:${port}` };
}

/**
 * A secret from its file (the service's, or a notification webhook's: `label` names which), refused when
 * others may read the file or when it is too short to be one.
 */
export function readSecret(file: string, label = 'REBOUND_SECRET_FILE'): string {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077)
    throw new ConfigError('settings', [
      `${label}: ${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`,
    ]);
  const secret = readFileSync(file, 'utf8').trim();
  const weak = secretProblem(secret);
  if (weak) throw new ConfigError('settings', [`${label}: ${file}: ${weak}`]);
  return secret;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, hint = ''): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0)
    throw new ConfigError('settings', [`${name}: "${env[name]}" is not a number of seconds ${hint}`.trim()]);
  return value;
}

/** What the relay daemon takes from the settings (`npm start` and `rebound relay` alike). */
export function relayOptions(s: LocalSettings): Omit<RelayDaemonOptions, 'commands' | 'log'> {
  return {
    url: s.url,
    secret: s.secret,
    dataDir: s.dataDir,
    spoolDir: s.spoolDir,
    config: s.relay,
    mode: s.config.mode,
    site: s.config.site,
    sacctIntervalSeconds: s.sacctIntervalSeconds,
    pendingIntervalSeconds: s.pendingIntervalSeconds,
  };
}
