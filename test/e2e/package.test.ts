import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../../service/signature.ts';
import { loadEvent } from '../support/events.ts';
import { waitFor } from './harness.ts';

// Rebound as a user installs it on a login node: `npm pack`, then `npm install -g` of the tarball into a
// prefix without dev dependencies (better-sqlite3 builds its binding there; nothing is fetched but from the
// npm registry), then, as an ordinary user from a folder outside the repository, `rebound --help` and
// `rebound start`. Needs root (to act as that user), like the rest of e2e.

const ROOT = join(import.meta.dirname, '..', '..');
const USER = 'nobody';
const PORT = 18_799;
const work = mkdtempSync(join(tmpdir(), 'rebound-package-'));
const prefix = join(work, 'prefix');
const home = join(work, 'home');
const data = join(home, 'data');
let child: ChildProcess | undefined;
let output = '';

const uid = () => Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
/** Runs the installed `rebound` as the ordinary user, in their home (outside the repository). */
const asUser = (args: string[], env: Record<string, string> = {}) =>
  spawn(
    'runuser',
    [
      '-u',
      USER,
      '--',
      'env',
      `HOME=${home}`,
      `REBOUND_DATA=${data}`,
      `REBOUND_PORT=${PORT}`,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      join(prefix, 'bin', 'rebound'),
      ...args,
    ],
    { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] },
  );

beforeAll(() => {
  expect(userInfo().uid).toBe(0);
  chmodSync(work, 0o755);
  execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, stdio: 'pipe' });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  execFileSync(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--omit=dev',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(work, tarball),
    ],
    { cwd: work, stdio: 'pipe' },
  );
  mkdirSync(home);
  chownSync(home, uid(), uid());
}, 300_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('the installed package', () => {
  it('has no sources and no dev dependencies, only the bundle, the hooks and better-sqlite3', () => {
    const pkg = join(prefix, 'lib', 'node_modules', 'rebound');
    expect(existsSync(join(pkg, 'dist', 'rebound.mjs'))).toBe(true);
    expect(existsSync(join(pkg, 'cli'))).toBe(false);
    expect(existsSync(join(pkg, 'hooks', 'jobcomp.sh'))).toBe(true);
    const deps = readdirSync(join(pkg, 'node_modules'));
    expect(deps).toContain('better-sqlite3');
    for (const dev of ['tsx', 'vitest', 'hono', 'zod', 'esbuild']) expect(deps).not.toContain(dev);
  });

  it('`rebound --help` works for an ordinary user', async () => {
    const help = asUser(['--help']);
    let out = '';
    help.stdout!.on('data', (d) => (out += d));
    const code = await new Promise((r) => help.once('exit', r));
    expect(out).toContain('usage: rebound <command>');
    expect(code).toBe(0);
  });

  it('`rebound start` answers /healthz and accepts a signed event; the hooks are found where it is installed', async () => {
    child = asUser(['start'], { REBOUND_SACCT_INTERVAL: '0' });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await waitFor(
      'rebound start to listen',
      () => {
        if (child!.exitCode !== null) throw new Error(`rebound start exited ${child!.exitCode}:\n${output}`);
        return output.includes('Rebound listening on');
      },
      30_000,
    );
    const url = `http://127.0.0.1:${PORT}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const secret = readFileSync(join(data, 'secret'), 'utf8').trim();
    const body = JSON.stringify(loadEvent('jobcomp/oom', 'slurm.jobcomp'));
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      body,
      headers: signedHeaders(secret, body),
    });
    expect(res.status).toBe(202);
    const hook = /JobCompLoc=(\S+)/.exec(output)?.[1];
    expect(hook).toBe(join(prefix, 'lib', 'node_modules', 'rebound', 'hooks', 'jobcomp.sh'));
    expect(existsSync(hook!)).toBe(true);
  }, 60_000);
});
