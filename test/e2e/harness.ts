import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { signedHeaders } from '../../service/signature.ts';

const SLURM_DIR = process.env.REBOUND_SLURM_DIR ?? '/var/tmp/rebound-slurm';
export const SLURM_CONF = join(SLURM_DIR, 'etc', 'slurm.conf');

const ROOT = join(import.meta.dirname, '..', '..');
// What a user's shell would have, not the test runner's environment: jobs keep the environment they were
// submitted with (their retries replay it exactly), so nothing of the suite's own may be in it.
const slurmEnv = { PATH: process.env.PATH, LANG: 'C.UTF-8', SLURM_CONF };

/** A Unix user of the test cluster (scripts/slurm-env.sh creates alice and mallory). */
export interface AsUser {
  name: string;
  uid: number;
  gid: number;
}

export function unixUser(name: string): AsUser {
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  return { name, uid: id('-u'), gid: id('-g') };
}

/** Who the suites are: Rebound and the jobs it recovers belong to an ordinary user, never to root. */
export const ALICE = unixUser('alice');
export const MALLORY = unixUser('mallory');

/** A Slurm command as root (queries see every user's jobs), or as `as`. */
export function slurm(argv: string[], as?: AsUser): string {
  return execFileSync(argv[0]!, argv.slice(1), {
    env: slurmEnv,
    encoding: 'utf8',
    // A day of the test cluster's accounting (sacct -S now-1days) outgrows the default 1 MB.
    maxBuffer: 64 * 1024 * 1024,
    ...(as
      ? {
          uid: as.uid,
          gid: as.gid,
          cwd: tmpdir(),
          env: { ...slurmEnv, HOME: `/home/${as.name}`, USER: as.name, LOGNAME: as.name },
        }
      : {}),
  }).trim();
}

/** Submits a job with sbatch (argv only), as alice or as `as`, and returns its id. */
export function submit(args: string[], command: string, as: AsUser | 'root' = ALICE): string {
  return slurm(['sbatch', '--parsable', ...args, '--wrap', command], as === 'root' ? undefined : as).split(
    ';',
  )[0]!;
}

/** The route MATCH for jobs tagged with one of these workloads (scripts/slurm-env.sh: the hook router). */
export const tagged = (...workloads: string[]) =>
  `^rebound:(${workloads.map((w) => w.replace(/[.]/g, '[.]')).join('|')})(/|$)`;

/**
 * Registers a route with the test cluster's jobcomp router: the end of every job whose comment matches
 * `match` (and of every untagged job) is posted to `url`, or spooled in `spool`; the end of every job in
 * `partition`, to it alone, without the router asking slurmctld for the comment. Returns its removal.
 */
export function hookRoute(
  name: string,
  r: { url: string; secretFile: string; spool: string; match: string; partition?: string },
) {
  const file = join(SLURM_DIR, 'etc', 'hook-routes', `${name}.conf`);
  writeFileSync(
    file,
    `REBOUND_URL=${r.url}\nREBOUND_SECRET_FILE=${r.secretFile}\nREBOUND_SPOOL=${r.spool}\nMATCH=${r.match}\n${r.partition ? `PARTITION=${r.partition}\n` : ''}`,
  );
  return () => rmSync(file, { force: true });
}

export interface SacctRow {
  jobId: string;
  /** The owner as Slurm accounts it. */
  user: string;
  name: string;
  state: string;
  reqMem: string;
  timelimit: string;
  comment: string;
  partition: string;
}

/** Every job Slurm accounted whose comment starts with `rebound:<workload>`. */
export function jobsOf(workload: string): SacctRow[] {
  const out = slurm([
    'sacct',
    '-n',
    '-P',
    '-X',
    '-S',
    'now-1days',
    '--format=JobID,User,JobName,State,ReqMem,Timelimit,Partition,Comment',
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [jobId, user, name, state, reqMem, timelimit, partition, ...comment] = l.split('|');
      return {
        jobId: jobId!,
        user: user!,
        name: name!,
        state: state!,
        reqMem: reqMem!,
        timelimit: timelimit!,
        comment: comment.join('|'),
        partition: partition!,
      };
    })
    .filter((r) => r.comment === `rebound:${workload}` || r.comment.startsWith(`rebound:${workload}/`));
}

/** Torc's Slurm job runner, as the allocations run it: a stand-in (a test double) for the real one. */
export const TORC_RUNNER = join(import.meta.dirname, '..', 'support', 'torc-runner-stand-in.mjs');

/** A job command that holds `mb` MB for two seconds: over its --mem, Slurm ends it OUT_OF_MEMORY. */
export const HOG = (mb: number) =>
  `python3 -c "x = b'a' * (${mb} * 1024 * 1024); import time; time.sleep(2)"`;

/**
 * A probe for `waitFor`: the workload's `n` jobs (only `user`'s, if given), once Slurm accounts exactly `n`
 * and all have ended.
 */
export const completed = (workload: string, n: number, user?: AsUser) => () => {
  const jobs = jobsOf(workload).filter((j) => !user || j.user === user.name);
  return jobs.length === n && jobs.every((j) => !['PENDING', 'RUNNING', 'COMPLETING'].includes(j.state))
    ? jobs
    : undefined;
};

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * A request tried again when the kept-alive connection it reused was closed by the server at that very
 * moment (undici: "other side closed"): a GET is safe to repeat, and so is a POST of an event (its id
 * makes a repeat the same event); the race is the client's to absorb.
 */
async function fetchAgainOnStaleSocket(url: string, init: RequestInit = {}): Promise<Response> {
  // Under load more than one pooled connection can be stale at once: a few tries, each on the next socket.
  for (let tries = 1; ; tries++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      const code = ((error as Error).cause as { code?: string } | undefined)?.code;
      if ((code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET') || tries >= 4) throw error;
    }
  }
}

/** What /healthz of a local Rebound reports (local/runtime.ts). */
export interface Health {
  ok: boolean;
  events: { ready: number; leased: number; dead: number };
  commands: { ready: number; leased: number; dead: number };
  worker?: { handled: number; failed: number; lastEventId?: string };
  spooled: number;
  /** The relay's Slurm commands since it started, by command. */
  slurmCalls: Record<string, number>;
}

export interface ReboundOptions {
  /** Route the jobcomp hook to this process for jobs whose comment matches (`tagged(...)`); none: no hook. */
  match?: string;
  /** And every job of this partition, which it alone uses (scripts/slurm-env.sh: the router). */
  partition?: string;
  /** Extra settings (e.g. REBOUND_SACCT_INTERVAL). */
  env?: Record<string, string>;
  /** Who runs it (its data folder is theirs): alice unless told; root only for site mode. */
  as?: AsUser | 'root';
}

/** A Rebound process (`rebound start`) with its own data folder and, if asked, its own hook route. */
export class ReboundProcess {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'rebound-e2e-'));
  readonly url: string;
  private child?: ChildProcess;
  private readonly unroute?: () => void;
  output = '';

  constructor(
    readonly port: number,
    readonly config: object,
    private readonly options: ReboundOptions = {},
  ) {
    this.url = `http://127.0.0.1:${port}`;
    writeFileSync(join(this.dataDir, 'rebound.config.json'), JSON.stringify(config));
    writeFileSync(join(this.dataDir, 'secret'), this.secret, { mode: 0o600 });
    const as = this.user;
    if (as)
      for (const f of ['', 'rebound.config.json', 'secret']) chownSync(join(this.dataDir, f), as.uid, as.gid);
    if (options.match !== undefined)
      this.unroute = hookRoute(`rebound-${port}`, {
        url: this.url,
        secretFile: join(this.dataDir, 'secret'),
        spool: join(this.dataDir, 'spool'),
        match: options.match,
        ...(options.partition ? { partition: options.partition } : {}),
      });
  }

  get secret() {
    return 'e2e-secret-not-for-production-0123456789';
  }

  /** The user it runs as; undefined for root. */
  get user(): AsUser | undefined {
    return this.options.as === 'root' ? undefined : (this.options.as ?? ALICE);
  }

  private env(): NodeJS.ProcessEnv {
    const as = this.user;
    return {
      ...slurmEnv,
      ...(as ? { HOME: this.dataDir, USER: as.name, LOGNAME: as.name } : {}),
      REBOUND_DATA: this.dataDir,
      REBOUND_PORT: String(this.port),
      REBOUND_CONFIG: join(this.dataDir, 'rebound.config.json'),
      ...this.options.env,
    };
  }

  private get identity() {
    const as = this.user;
    return as ? { uid: as.uid, gid: as.gid } : {};
  }

  /** Starts `rebound start`; fails at once, with its output, if it exits before it listens. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'rebound.mjs'), 'start'], {
      env: this.env(),
      cwd: this.dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...this.identity,
    });
    this.child = child;
    // `output` keeps every run's lines (a test may count across a restart); this run's start from here.
    const from = this.output.length;
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
    await waitFor(
      'Rebound to listen',
      () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(
            `rebound start exited (${child.exitCode ?? child.signalCode}) before it listened:\n${this.output}`,
          );
        return this.output.slice(from).includes('Rebound listening on');
      },
      // Four e2e files at once on two cores (a headless Chromium among them): starting can take a while.
      45_000,
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** Stops it and removes its hook route. */
  async dispose(): Promise<void> {
    await this.stop();
    this.unroute?.();
  }

  async health(): Promise<Health> {
    return (await (await fetchAgainOnStaleSocket(`${this.url}/healthz`)).json()) as Health;
  }

  /**
   * A positive signal that everything accepted so far has been acted on: no event waiting or being
   * handled, no command waiting or being run by the relay, nothing spooled. (A command's result is queued
   * before the command is deleted, and a new command before its event is deleted: there is no moment in
   * between when all of these are zero.)
   */
  async idle(timeoutMs = 60_000): Promise<Health> {
    return waitFor(
      'Rebound to be idle',
      async () => {
        const h = await this.health();
        const busy = h.events.ready + h.events.leased + h.commands.ready + h.commands.leased + h.spooled;
        return busy === 0 ? h : undefined;
      },
      timeoutMs,
    );
  }

  /** The token of whoever runs it (local/local-token.ts), made at its first start: sees every workload. */
  get token(): string {
    return readFileSync(join(this.dataDir, 'token'), 'utf8').trim();
  }

  /** A GET of the status API, with its own token unless told. */
  async get<T>(path: string, token = this.token): Promise<{ status: number; body: T }> {
    const res = await fetchAgainOnStaleSocket(`${this.url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async post(
    body: string,
    headers: Record<string, string> = signedHeaders(this.secret, body),
  ): Promise<number> {
    const res = await fetchAgainOnStaleSocket(`${this.url}/v1/events`, { method: 'POST', body, headers });
    await res.body?.cancel();
    return res.status;
  }

  /**
   * `rebound <args>` as another user, who knows only this service's URL and their own token
   * (~/.config/rebound/token): its exit status and output.
   */
  cliAs(user: AsUser, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'rebound.mjs'), ...args], {
      env: {
        ...slurmEnv,
        HOME: `/home/${user.name}`,
        USER: user.name,
        LOGNAME: user.name,
        REBOUND_URL: this.url,
      },
      cwd: tmpdir(),
      encoding: 'utf8',
      uid: user.uid,
      gid: user.gid,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  cli(args: string[]): string {
    return execFileSync(process.execPath, [join(ROOT, 'bin', 'rebound.mjs'), ...args], {
      env: this.env(),
      cwd: this.dataDir,
      encoding: 'utf8',
      ...this.identity,
    });
  }

  /** `rebound <args>` as its own user, whatever its exit status: the status and both outputs. */
  run(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'rebound.mjs'), ...args], {
      env: { ...this.env(), ...env },
      cwd: this.dataDir,
      encoding: 'utf8',
      ...this.identity,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
}

/** A notification webhook for a test: refuses its first `refusals` deliveries (HTTP 500), keeps the rest. */
export async function noticeReceiver(refusals: number) {
  const received: { workload: string; status: string; inspect: string; reason: string[] }[] = [];
  let refused = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (refused < refusals) {
      refused++;
      res.writeHead(500).end('not now');
      return;
    }
    received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    get refused() {
      return refused;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The MCP SDK's own client, connected to a Rebound's MCP endpoint with a token (its own unless told). */
export async function mcpClient(rebound: ReboundProcess, token = rebound.token) {
  const client = new Client({ name: 'rebound-e2e', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${rebound.url}/v1/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: (url, init) => fetchAgainOnStaleSocket(String(url), init),
    }),
  );
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    const text = (r.content as { text: string }[]).map((c) => c.text).join('\n');
    return { isError: r.isError === true, text, json: () => JSON.parse(text) as unknown };
  };
  return { client, call };
}
