import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { parseServiceConfig, type ServiceConfig } from '../service/config.ts';

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
}

/**
 * Where the embedded default keeps everything, from the environment with sane defaults: data in ./.data,
 * loopback port 8787, a secret generated on first start (mode 0600), policy from rebound.config.json.
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const dataDir = resolve(env.REBOUND_DATA ?? '.data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const host = env.REBOUND_HOST ?? '127.0.0.1';
  const port = Number(env.REBOUND_PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError('settings', [`REBOUND_PORT: "${env.REBOUND_PORT}" is not a port`]);
  const sacctIntervalSeconds = Number(env.REBOUND_SACCT_INTERVAL ?? 30);
  if (!Number.isFinite(sacctIntervalSeconds) || sacctIntervalSeconds < 0)
    throw new ConfigError('settings', [
      `REBOUND_SACCT_INTERVAL: "${env.REBOUND_SACCT_INTERVAL}" is not a number of seconds (0 turns it off)`,
    ]);
  const secretFile = resolve(env.REBOUND_SECRET_FILE ?? `${dataDir}/secret`);
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const secret = readFileSync(secretFile, 'utf8').trim();
  const configFile =
    env.REBOUND_CONFIG ?? (existsSync('rebound.config.json') ? 'rebound.config.json' : undefined);
  let raw: unknown = {};
  if (configFile) {
    try {
      raw = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (error) {
      throw new ConfigError(`config file ${configFile}`, [(error as Error).message]);
    }
  }
  return {
    dataDir,
    host,
    port,
    url: env.REBOUND_URL ?? `http://${host}:${port}`,
    secret,
    secretFile,
    spoolDir: resolve(dataDir, 'spool'),
    config: parseServiceConfig(raw),
    sacctIntervalSeconds,
    ...(configFile ? { configFile: resolve(configFile) } : {}),
  };
}
