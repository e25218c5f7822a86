import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signedHeaders } from '../../service/signature.ts';

export const SLURM_DIR = process.env.REBOUND_SLURM_DIR ?? '/var/tmp/rebound-slurm';
export const SLURM_CONF = join(SLURM_DIR, 'etc', 'slurm.conf');

const ROOT = join(import.meta.dirname, '..', '..');
const slurmEnv = { ...process.env, SLURM_CONF };

export function slurm(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { env: slurmEnv, encoding: 'utf8' }).trim();
}

/** Submits a job with sbatch (argv only) and returns its id. */
export function submit(args: string[], command: string): string {
  return slurm(['sbatch', '--parsable', ...args, '--wrap', command]).split(';')[0]!;
}

export interface SacctRow {
  jobId: string;
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
    '--format=JobID,JobName,State,ReqMem,Timelimit,Comment,Partition',
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [jobId, name, state, reqMem, timelimit, comment, partition] = l.split('|');
      return {
        jobId: jobId!,
        name: name!,
        state: state!,
        reqMem: reqMem!,
        timelimit: timelimit!,
        comment: comment!,
        partition: partition!,
      };
    })
    .filter((r) => r.comment === `rebound:${workload}` || r.comment.startsWith(`rebound:${workload}/`));
}

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

/** A Rebound process (`rebound start`) with its own data folder, pointed at by the Slurm hook. */
export class ReboundProcess {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'rebound-e2e-'));
  readonly url: string;
  private child?: ChildProcess;
  output = '';

  /**
   * `hooks`: point the cluster's jobcomp hook at this process (the default); otherwise the hook posts to a
   * closed port and spools where nobody drains, and events can only come from the sacct watcher.
   * `env`: extra settings (e.g. REBOUND_SACCT_INTERVAL).
   */
  constructor(
    readonly port: number,
    readonly config: object,
    private readonly options: { hooks?: boolean; env?: Record<string, string> } = {},
  ) {
    this.url = `http://127.0.0.1:${port}`;
    writeFileSync(join(this.dataDir, 'rebound.config.json'), JSON.stringify(config));
    writeFileSync(join(this.dataDir, 'secret'), 'e2e-secret-not-for-production', { mode: 0o600 });
    const hooked = options.hooks ?? true;
    writeFileSync(
      join(SLURM_DIR, 'etc', 'rebound-hook.conf'),
      `REBOUND_URL=${hooked ? this.url : 'http://127.0.0.1:9'}\nREBOUND_SECRET_FILE=${join(this.dataDir, 'secret')}\nREBOUND_SPOOL=${join(this.dataDir, hooked ? 'spool' : 'hook-spool-never-drained')}\n`,
    );
  }

  get secret() {
    return 'e2e-secret-not-for-production';
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [join(ROOT, 'bin', 'rebound.mjs'), 'start'], {
      env: {
        ...slurmEnv,
        REBOUND_DATA: this.dataDir,
        REBOUND_PORT: String(this.port),
        REBOUND_CONFIG: join(this.dataDir, 'rebound.config.json'),
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => (this.output += d));
    this.child.stderr!.on('data', (d) => (this.output += d));
    await waitFor('Rebound to listen', () => this.output.includes('Rebound listening on'), 20_000);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  async get<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`, { headers: signedHeaders(this.secret, '') });
    return { status: res.status, body: (await res.json()) as T };
  }

  async post(
    body: string,
    headers: Record<string, string> = signedHeaders(this.secret, body),
  ): Promise<number> {
    const res = await fetch(`${this.url}/v1/events`, { method: 'POST', body, headers });
    await res.body?.cancel();
    return res.status;
  }

  cli(args: string[]): string {
    return execFileSync(process.execPath, [join(ROOT, 'bin', 'rebound.mjs'), ...args], {
      env: {
        ...process.env,
        REBOUND_DATA: this.dataDir,
        REBOUND_PORT: String(this.port),
        REBOUND_CONFIG: join(this.dataDir, 'rebound.config.json'),
      },
      encoding: 'utf8',
    });
  }
}
