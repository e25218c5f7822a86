import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A stand-in for Slurm's commands with fixed latencies that counts every call (bench/slurm-load.ts,
// test/unit/relay-pool.test.ts): `sbatch`, `squeue`, `sacct`, `scontrol` and `sinfo` on PATH are small bash
// shims that hand their arguments (and sbatch's script) to this process over TCP and print its answer. It
// keeps jobs as Slurm would show them to the relay — queued, ended, their accounting records — and answers
// with exactly the fields each call's format asks for.

export type SlurmCommand = 'sbatch' | 'squeue' | 'sacct' | 'scontrol' | 'sinfo';
const COMMANDS = ['sbatch', 'squeue', 'sacct', 'scontrol', 'sinfo'] as const satisfies SlurmCommand[];

/** The latencies: what one call costs slurmctld or slurmdbd, as the relay waits for it. */
export const LATENCY_MS = { sbatch: 50, scontrol: 20, squeue: 50, sacct: 100, sinfo: 20 } satisfies Record<
  SlurmCommand,
  number
>;

export interface FakeJob {
  id: string;
  user: string;
  uid: number;
  account: string;
  name: string;
  comment: string;
  /** PENDING, RUNNING, or the final state once ended. */
  state: string;
  exitCode: string;
  reqMem: string;
  maxRss: string;
  partition: string;
  timeLimit: string;
  script: string;
  submittedAt: number;
  dependency: string;
  /** sacct leaves the job out until then (ms): slurmdbd has not got its record yet. */
  accountedFrom: number;
}

const ENDED = (state: string) => state !== 'PENDING' && state !== 'RUNNING';

export class FakeSlurm {
  readonly jobs = new Map<string, FakeJob>();
  readonly calls: Record<SlurmCommand, number> = { sbatch: 0, squeue: 0, sacct: 0, scontrol: 0, sinfo: 0 };
  /** Calls by what they ask (`kind`), e.g. "squeue (queue watch)", "sacct -j (records)". */
  readonly byKind: Record<string, number> = {};
  /** The most calls answered at once. */
  mostAtOnce = 0;
  /** Every sbatch: when, and the id it printed. */
  readonly submissions: { at: number; id: string; comment: string }[] = [];
  private atOnce = 0;
  private nextId = 1_000_000;
  private server?: Server;
  binDir = '';

  constructor(private readonly latency: Record<SlurmCommand, number> = LATENCY_MS) {}

  async start(): Promise<this> {
    this.server = createServer((socket) => {
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        const first = buffer.indexOf(10);
        const second = first < 0 ? -1 : buffer.indexOf(10, first + 1);
        if (second < 0) return;
        const length = Number(buffer.subarray(first + 1, second).toString());
        if (buffer.length < second + 1 + length) return;
        const argv = buffer.subarray(0, first).toString().split('\0').slice(0, -1);
        const input = buffer.subarray(second + 1, second + 1 + length).toString();
        void this.answer(argv, input).then(({ code, out }) => socket.end(`${code}\n${out}`));
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as { port: number }).port;
    this.binDir = mkdtempSync(join(tmpdir(), 'fake-slurm-'));
    const shim = `#!/bin/bash
export LC_ALL=C
exec 3<>/dev/tcp/127.0.0.1/${port} || exit 99
input=''
[[ \${0##*/} == sbatch ]] && input=$(cat; printf x) && input=\${input%x}
printf '%s\\0' "\${0##*/}" "$@" >&3
printf '\\n%d\\n%s' "\${#input}" "$input" >&3
IFS= read -r code <&3
cat <&3
exit "$code"
`;
    for (const c of COMMANDS) {
      writeFileSync(join(this.binDir, c), shim);
      chmodSync(join(this.binDir, c), 0o755);
    }
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }

  /** A job as the user submitted it, running until `end`. */
  add(job: Partial<FakeJob> & { id: string }): FakeJob {
    const full: FakeJob = {
      user: 'alice',
      uid: 1501,
      account: 'lab',
      name: 'job',
      comment: '',
      state: 'RUNNING',
      exitCode: '0:0',
      reqMem: '100M',
      maxRss: '1024K',
      partition: 'short',
      timeLimit: '00:10:00',
      script: '#!/bin/bash\ntrue\n',
      submittedAt: Date.now(),
      dependency: '',
      accountedFrom: 0,
      ...job,
    };
    this.jobs.set(full.id, full);
    return full;
  }

  end(id: string, state: string, exitCode = state === 'COMPLETED' ? '0:0' : '0:125'): void {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    Object.assign(job, { state, exitCode });
  }

  private async answer(argv: string[], input: string): Promise<{ code: number; out: string }> {
    const [name, ...args] = argv as [SlurmCommand, ...string[]];
    this.calls[name]++;
    const k = kind(name, args);
    this.byKind[k] = (this.byKind[k] ?? 0) + 1;
    this.atOnce++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.atOnce);
    try {
      await new Promise((r) => setTimeout(r, this.latency[name]));
      return this.command(name, args, input);
    } finally {
      this.atOnce--;
    }
  }

  private command(name: SlurmCommand, args: string[], input: string): { code: number; out: string } {
    const flag = (f: string) => {
      const i = args.indexOf(f);
      if (i >= 0) return args[i + 1];
      return args.find((a) => a.startsWith(`${f}=`))?.slice(f.length + 1);
    };
    switch (name) {
      case 'sbatch': {
        const id = String(this.nextId++);
        const comment = flag('--comment') ?? '';
        this.add({ id, comment, state: 'PENDING', script: input, reqMem: flag('--mem') ?? '100M' });
        this.submissions.push({ at: Date.now(), id, comment });
        return { code: 0, out: `${id}\n` };
      }
      case 'squeue':
        return this.squeue(flag('-t'), flag('-u'), flag('-j'), flag('-o') ?? '%i');
      case 'sacct':
        return this.sacct(args, flag);
      case 'scontrol':
        return this.scontrol(args);
      case 'sinfo':
        return { code: 0, out: 'vm\n' };
    }
  }

  private squeue(states?: string, user?: string, ids?: string, format = '%i') {
    const wanted = ids?.split(',');
    const jobs = (
      wanted ? wanted.map((id) => this.jobs.get(id)).filter((j) => j !== undefined) : [...this.jobs.values()]
    )
      .filter((j) => (states === 'all' ? true : states ? j.state === states : !ENDED(j.state)))
      .filter((j) => !user || j.user === user);
    if (wanted && jobs.length === 0)
      return { code: 1, out: 'slurm_load_jobs error: Invalid job id specified\n' };
    const field = (j: FakeJob, c: string) =>
      ({
        i: j.id,
        T: j.state,
        r: j.state === 'PENDING' ? 'Priority' : 'None',
        k: j.comment || '(null)',
        j: j.name,
        U: String(j.uid),
        u: j.user,
        a: j.account,
        E: j.dependency || '(null)',
        V: new Date(j.submittedAt).toISOString().slice(0, 19),
      })[c] ?? '';
    return {
      code: 0,
      out: jobs.map((j) => `${format.replace(/%([A-Za-z])/g, (_, c) => field(j, c))}\n`).join(''),
    };
  }

  private sacct(args: string[], flag: (f: string) => string | undefined) {
    const ids = flag('-j')?.split(',') ?? [];
    const now = Date.now();
    const jobs = ids
      .map((id) => this.jobs.get(id))
      .filter((j): j is FakeJob => j !== undefined && ENDED(j.state) && now >= j.accountedFrom);
    if (args.includes('--env-vars'))
      return {
        code: 0,
        out: jobs
          .map(
            (j) =>
              `Environment used for ${j.id} (must be batch to display)\n${'-'.repeat(80)}\nHOME=/home/${j.user}\nSLURM_SUBMIT_DIR=/tmp\n\n`,
          )
          .join(''),
      };
    if (args.includes('--batch-script'))
      return {
        code: 0,
        out: jobs.map((j) => `Batch Script for ${j.id}\n${'-'.repeat(80)}\n${j.script}\n`).join(''),
      };
    const d = flag('--delimiter') ?? '|';
    const fields = (flag('--format') ?? 'JobID').split(',');
    const row = (j: FakeJob, step?: string) =>
      fields
        .map(
          (f) =>
            ({
              JobID: step ? `${j.id}.${step}` : j.id,
              JobIDRaw: step ? `${j.id}.${step}` : j.id,
              UID: step ? '' : String(j.uid),
              User: step ? '' : j.user,
              Account: j.account,
              State: j.state,
              ExitCode: j.exitCode,
              MaxRSS: step ? j.maxRss : '',
              ReqMem: j.reqMem,
              Elapsed: '00:00:05',
              Timelimit: step ? '' : j.timeLimit,
              Reason: 'None',
              Partition: step ? '' : j.partition,
              JobName: step ?? j.name,
              Comment: step ? '' : j.comment,
              QOS: 'normal',
              NodeList: 'vm',
              TotalCPU: '00:00:04',
              Submit: new Date(j.submittedAt).toISOString().slice(0, 19),
            })[f] ?? '',
        )
        .join(d);
    const out = jobs.flatMap((j) => [row(j), ...(args.includes('-X') ? [] : [row(j, 'batch')])]);
    return { code: 0, out: out.map((l) => `${l}\n`).join('') };
  }

  /** A job as `scontrol show job -o` prints it (the fields the capture reads). */
  private record(job: FakeJob): string {
    return [
      `JobId=${job.id} JobName=${job.name} UserId=${job.user}(${job.uid}) GroupId=${job.user}(${job.uid})`,
      `Account=${job.account} QOS=normal JobState=${job.state} Reason=None Dependency=${job.dependency || '(null)'}`,
      `Requeue=1 Restarts=0 BatchFlag=1 ExitCode=${job.exitCode} TimeLimit=${job.timeLimit} Partition=${job.partition}`,
      'NodeList=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 TRES=cpu=1,node=1',
      `MinCPUsNode=1 MinMemoryNode=${job.reqMem} Features=(null) OverSubscribe=OK Licenses=(null)`,
      `WorkDir=/tmp Comment=${job.comment || '(null)'}  StdErr=/tmp/${job.id}.out StdIn=/dev/null StdOut=/tmp/${job.id}.out`,
    ].join(' ');
  }

  private scontrol(args: string[]) {
    const [verb, what, ...rest] = args;
    if (verb === 'show' && what === 'config') return { code: 0, out: 'ClusterName             = bench\n' };
    if (verb === 'show' && what === 'partition')
      return {
        code: 0,
        out: 'PartitionName=short AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL Default=YES MaxTime=UNLIMITED MaxNodes=UNLIMITED Nodes=vm State=UP TotalCPUs=8 TotalNodes=1 MaxMemPerNode=UNLIMITED\n',
      };
    if (verb === 'show' && what === 'node')
      return { code: 0, out: 'NodeName=vm CPUTot=8 RealMemory=21694 State=IDLE Partitions=short\n' };
    if (verb === 'show' && what === 'hostnames') return { code: 0, out: `${rest[0]}\n` };
    if (verb === 'show' && what === 'job' && rest.length === 1)
      return { code: 0, out: [...this.jobs.values()].map((j) => `${this.record(j)}\n`).join('') };
    const job = this.jobs.get(verb === 'show' ? (rest.at(-1) ?? '') : (rest[0] ?? ''));
    if (verb === 'write' && what === 'batch_script')
      return job ? { code: 0, out: job.script } : { code: 1, out: 'job script retrieval failed\n' };
    if (verb === 'show' && what === 'job') {
      if (!job) return { code: 1, out: 'slurm_load_jobs error: Invalid job id specified\n' };
      return { code: 0, out: `${this.record(job)}\n` };
    }
    if (verb === 'update') {
      const id = /^JobId=(.+)$/.exec(what ?? '')?.[1];
      const dependency = /^Dependency=(.*)$/.exec(rest[0] ?? '')?.[1];
      const target = id && this.jobs.get(id);
      if (!target || dependency === undefined) return { code: 1, out: 'Invalid job id specified\n' };
      target.dependency = dependency;
      return { code: 0, out: '' };
    }
    return { code: 1, out: `fake scontrol: ${args.join(' ')} not understood\n` };
  }
}

/** What a call asks, in words a site administrator would use (bench/slurm-load.ts prints them). */
function kind(name: SlurmCommand, args: string[]): string {
  const has = (a: string) => args.includes(a);
  switch (name) {
    case 'squeue':
      if (has('PENDING')) return 'squeue -t PENDING (dependents)';
      if (has('-j')) return has('all') ? 'squeue -j (ended jobs)' : 'squeue -j (arrays)';
      if (has('-u') && args.some((a) => a.includes('%V'))) return 'squeue -u (already submitted?)';
      return 'squeue (queue watch)';
    case 'sacct':
      if (has('--env-vars')) return 'sacct --env-vars';
      if (has('--batch-script')) return 'sacct --batch-script';
      if (has('-u')) return 'sacct -u (already submitted?)';
      if (has('-X')) return 'sacct -X (arrays)';
      return 'sacct -j (records)';
    case 'scontrol':
      return `scontrol ${args.slice(0, 2).join(' ')}`;
    case 'sbatch':
    case 'sinfo':
      return name;
  }
}
