import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PlannedAllocation } from '../../core/allocation.ts';
import {
  outputPattern,
  plainJobResubmission,
  sbatchOptions,
  torcAllocationSubmission,
} from '../../core/sbatch-script.ts';
import { capturedJobFromScontrol, parseQueuedJob, parseScontrolRecord } from '../../core/scontrol.ts';
import { shellCommand, shellQuote } from '../../core/shell-quote.ts';
import { slurmDelimiter } from '../../core/slurm-records.ts';
import { formatTag, parseTag } from '../../core/tag.ts';

// Real bash runs what we render; a stand-in `sbatch` and runner on PATH print the argv they received.
let dir: string;
let sentinel: string;
const HOSTILE = [
  `it's "quoted"`,
  '$(touch SENTINEL)',
  '`touch SENTINEL`',
  'a\ntouch SENTINEL\n',
  '; touch SENTINEL #',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile value, meant literally
  '$HOME ${PATH} * ? [a]',
  "'; touch SENTINEL; echo '",
];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rebound-script-'));
  sentinel = join(dir, 'SENTINEL');
  for (const tool of ['sbatch', 'fake-runner']) {
    const path = join(dir, tool);
    writeFileSync(
      path,
      `#!/usr/bin/env node\nrequire('fs').writeFileSync(process.env.ARGV_OUT, JSON.stringify(process.argv.slice(2)));\n`,
    );
    chmodSync(path, 0o755);
  }
});

function runBash(script: string): string[] {
  const out = join(dir, 'argv.json');
  execFileSync('bash', ['-c', script], {
    cwd: dir,
    env: { PATH: `${dir}:${process.env.PATH}`, ARGV_OUT: out, HOME: '/nonexistent' },
  });
  return JSON.parse(readFileSync(out, 'utf8'));
}

const allocation: PlannedAllocation = {
  name: 'big_a1',
  rr: 'big',
  deferred: false,
  partition: 'short',
  count: 1,
  nodes: 1,
  walltime: '01:33:00',
  mem: '16G',
  cpusPerTask: 8,
  jobsPerAllocation: 2,
  jobIds: [1, 2],
};

describe('shell quoting', () => {
  it.each(HOSTILE)('keeps %j as one word of data', (value) => {
    expect(runBash(`fake-runner ${shellQuote(value)}`)).toEqual([value]);
    expect(existsSync(sentinel)).toBe(false);
  });
  it('leaves plain words readable', () =>
    expect(shellCommand(['sbatch', '--mem=300M', 'a b'])).toBe("sbatch --mem=300M 'a b'"));
  it('rejects NUL bytes', () => expect(() => shellQuote('a\0b')).toThrow(/NUL/));
});

describe('Torc allocation script', () => {
  it.each(HOSTILE)('passes a hostile URL and output path through as data: %j', (value) => {
    const sub = torcAllocationSubmission(allocation, {
      workflowId: 12,
      torcUrl: `http://x/${value}`,
      outputDir: `/tmp/${value}`,
      runner: 'fake-runner',
      account: value,
    });
    expect(runBash(sub.script)).toEqual([
      `http://x/${value}`,
      '12',
      `/tmp/${value}`,
      '--poll-interval',
      '30',
    ]);
    expect(existsSync(sentinel)).toBe(false);
    // The dry-run line is a shell command too: running it hands sbatch the exact arguments.
    expect(runBash(`${shellCommand(sub.argv)} job.sh`)).toEqual([...sub.argv.slice(1), 'job.sh']);
    expect(sub.argv).toContain(`--account=${value}`);
    expect(existsSync(sentinel)).toBe(false);
    expect(sub.script).not.toContain('#SBATCH');
  });

  it('asks for partition, CPUs, memory, walltime and log paths', () => {
    const sub = torcAllocationSubmission(
      { ...allocation, gres: 'gpu:2' },
      { workflowId: 3, torcUrl: 'http://t', outputDir: '/o' },
    );
    expect(sub.argv).toEqual([
      'sbatch',
      '--parsable',
      '--job-name=big_a1',
      '--partition=short',
      '--nodes=1',
      '--ntasks-per-node=1',
      '--cpus-per-task=8',
      '--mem=16G',
      '--time=01:33:00',
      '--gres=gpu:2',
      '--output=/o/slurm_output_wf3_sl%j.o',
      '--error=/o/slurm_output_wf3_sl%j.e',
    ]);
  });
  it('rejects NUL in options', () => expect(() => sbatchOptions({ account: 'a\0' })).toThrow(/--account/));
});

describe('plain job resubmission', () => {
  const QUEUED = { owner: { uid: 1501, user: 'alice' }, comment: 'rebound:train' };
  const line =
    'JobId=42 JobName=my job Partition=short Account=proj QOS=normal TimeLimit=00:01:00 WorkDir=/home/u/run 1 ' +
    'StdOut=/home/u/run 1/out.42.log StdErr=/home/u/run 1/out.42.log NumNodes=1 NumCPUs=2 NumTasks=1 CPUs/Task=2 ' +
    'ReqTRES=cpu=2,mem=200M,node=1,billing=2 MinMemoryNode=200M Comment=rebound:train';

  it('parses scontrol show job -o, values with spaces and "=" included', () => {
    const r = parseScontrolRecord(line);
    expect(r).toMatchObject({
      JobName: 'my job',
      WorkDir: '/home/u/run 1',
      'CPUs/Task': '2',
      ReqTRES: 'cpu=2,mem=200M,node=1,billing=2',
    });
    const job = capturedJobFromScontrol(r, QUEUED, '#!/bin/bash\necho hi\n');
    expect(job).toMatchObject({
      jobId: '42',
      memoryBytes: 200 * 1024 * 1024,
      timeLimitSeconds: 60,
      cpusPerTask: 2,
      comment: 'rebound:train',
      owner: { uid: 1501, user: 'alice' },
    });
  });

  it('never reads the owner from scontrol text: a comment imitating fields changes nothing', () => {
    // What scontrol prints for alice's job whose comment imitates mallory's UserId and another partition.
    const comment = 'rebound:w UserId=mallory(1502) Partition=long';
    const forged =
      'JobId=43 JobName=n UserId=alice(1501) GroupId=alice(1501) Account=lab Partition=short ' +
      `TimeLimit=00:01:00 WorkDir=/home/alice Comment=${comment}  StdErr=/home/alice/o StdOut=/home/alice/o`;
    const queued = parseQueuedJob(`1501|alice|lab|${comment}|COMPLETED|43\n`, '|')!;
    expect(queued).toEqual({
      owner: { uid: 1501, user: 'alice', account: 'lab' },
      comment,
      state: 'COMPLETED',
    });
    const job = capturedJobFromScontrol(parseScontrolRecord(forged, queued.comment), queued, 'echo');
    expect(job.owner.user).toBe('alice');
    expect(job.partition).toBe('short');
    expect(job.comment).toBe(comment);
    expect(job.stdout).toBe('/home/alice/o');
    // mallory's job whose comment claims alice: the 0.2 parser read UserId=alice(1001) from scontrol's
    // text (the comment comes after Slurm's own UserId, and the last of a key won); squeue's %U decides.
    const claim = 'rebound:w UserId=alice(1001)';
    const line = `JobId=45 JobName=n UserId=mallory(1502) GroupId=mallory(1502) Partition=short Comment=${claim}`;
    const mallorys = parseQueuedJob(`1502|mallory|other|${claim}|COMPLETED|45\n`, '|')!;
    expect(mallorys.owner).toEqual({ uid: 1502, user: 'mallory', account: 'other' });
    expect(capturedJobFromScontrol(parseScontrolRecord(line, claim), mallorys, 'echo').owner.user).toBe(
      'mallory',
    );
    expect(parseScontrolRecord(line, claim).UserId).toBe('mallory(1502)');
    // Without the comment cut out, the text says alice: why ownership never rests on it.
    expect(parseScontrolRecord(line).UserId).toBe('alice(1001)');
    // A job name imitating fields comes before Slurm's own: those win.
    const named = parseScontrolRecord('JobId=44 JobName=x Partition=long UserId=alice(1501) Partition=short');
    expect(named.Partition).toBe('short');
  });

  it('reads squeue owner records and refuses malformed ones', () => {
    const D = slurmDelimiter('5eed');
    const rec = (...f: string[]) => `${f.join(D)}\n`;
    expect(parseQueuedJob(rec('0', 'root', 'root', '(null)', 'PENDING', '9'), D)).toEqual({
      owner: { uid: 0, user: 'root', account: 'root' },
      state: 'PENDING',
    });
    // A comment with `|` and a newline imitating another record is still one comment.
    expect(parseQueuedJob(rec('1501', 'alice', '(null)', 'a|b\n0|root|root|x', 'RUNNING', '9'), D)).toEqual({
      owner: { uid: 1501, user: 'alice' },
      comment: 'a|b\n0|root|root|x',
      state: 'RUNNING',
    });
    expect(parseQueuedJob(rec('x', 'alice', 'lab', 'c', 'RUNNING', '9'), D)).toBeUndefined();
    expect(parseQueuedJob(rec('1501', 'al ice', 'lab', 'c', 'RUNNING', '9'), D)).toBeUndefined();
    expect(parseQueuedJob('', D)).toBeUndefined();
  });

  it('keeps the original options, escalates mem/time, restores %j and tags the comment', () => {
    const job = capturedJobFromScontrol(
      parseScontrolRecord(line),
      QUEUED,
      '#!/bin/bash\n#SBATCH --mem=200M\necho hi\n',
    );
    const sub = plainJobResubmission(job, { mem: '300M', time: '2', partition: 'long' }, 'rebound:train/c1');
    expect(sub.argv).toEqual([
      'sbatch',
      '--parsable',
      '--job-name=my job',
      '--account=proj',
      '--qos=normal',
      '--partition=long',
      '--chdir=/home/u/run 1',
      '--output=/home/u/run 1/out.%j.log',
      '--error=/home/u/run 1/out.%j.log',
      '--nodes=1',
      '--ntasks=1',
      '--cpus-per-task=2',
      '--mem=300M',
      '--time=2',
      '--comment=rebound:train/c1',
    ]);
    expect(sub.script).toBe(job.script);
  });

  it('gives back every other option it was submitted with, and asks memory per CPU when the job did', () => {
    // As Slurm 22.05 shows a job submitted with -c 2 --mem-per-cpu=100M, mail, a constraint, a GPU.
    const probe =
      'JobId=3052 JobName=probe UserId=alice(1501) Account=proj QOS=normal NumNodes=1 NumCPUs=2 NumTasks=1 ' +
      'CPUs/Task=2 TRES=cpu=2,mem=200M,node=1 Features=bigmem&ssd Reservation=maint Licenses=matlab:1 ' +
      'OverSubscribe=NO MinMemoryCPU=100M TresPerNode=gres:gpu:1 MailUser=alice@example.org MailType=END,FAIL';
    const job = capturedJobFromScontrol(parseScontrolRecord(probe), QUEUED, 'echo');
    expect(job).toMatchObject({
      memoryBytes: 200 * 2 ** 20,
      memoryPerCpuBytes: 100 * 2 ** 20,
      constraint: 'bigmem&ssd',
      reservation: 'maint',
      licenses: 'matlab:1',
      gres: 'gpu:1',
      exclusive: true,
      mailType: 'END,FAIL',
      mailUser: 'alice@example.org',
    });
    const argv = plainJobResubmission(job, { mem: '300M', time: '2' }, 'rebound:w').argv;
    expect(argv).toContain('--mem-per-cpu=150M');
    expect(argv.some((a) => a.startsWith('--mem='))).toBe(false);
    for (const option of [
      '--constraint=bigmem&ssd',
      '--reservation=maint',
      '--licenses=matlab:1',
      '--gres=gpu:1',
      '--mail-type=END,FAIL',
      '--mail-user=alice@example.org',
      '--exclusive',
    ])
      expect(argv).toContain(option);
    // Slurm's defaults are not options: nothing is added for a job that set none of them.
    const plain = capturedJobFromScontrol(
      parseScontrolRecord('JobId=1 JobName=p Features=(null) OverSubscribe=OK MailType=NONE Licenses=(null)'),
      QUEUED,
      'echo',
    );
    expect(plainJobResubmission(plain, { mem: '1G' }, 'rebound:w').argv).toEqual([
      'sbatch',
      '--parsable',
      '--job-name=p',
      '--mem=1G',
      '--comment=rebound:w',
    ]);
  });

  it.each([
    ['/home/u42/proj42/out-42.log', '/home/u42/proj42/out-%j.log'],
    ['/scratch/42/slurm-42.out', '/scratch/42/slurm-%j.out'],
    ['/o/run-420.log', '/o/run-420.log'],
    ['/o/out42.42.log', '/o/out%j.%j.log'],
    ['relative-42', 'relative-%j'],
  ])('restores the job id (42) as a pattern only in the file name: $0', (expanded, pattern) => {
    expect(outputPattern(expanded, '42')).toBe(pattern);
  });

  it.each(HOSTILE)('keeps a hostile job name as one sbatch argument: %j', (name) => {
    const job = capturedJobFromScontrol({ JobId: '7', JobName: name }, QUEUED, 'echo');
    const sub = plainJobResubmission(job, { mem: '1G' }, 'rebound:w');
    expect(runBash(shellCommand(sub.argv))).toEqual(sub.argv.slice(1));
    expect(sub.argv).toContain(`--job-name=${name}`);
    expect(existsSync(sentinel)).toBe(false);
  });
});

describe('rebound tags', () => {
  it.each([
    ['rebound:train', { kind: 'workload', workload: 'train' }],
    ['rebound:train/wl:a2:0', { kind: 'workload', workload: 'train', commandTag: 'wl:a2:0' }],
    [
      'rebound:torc-wf42/torc-wf42:a1:3-allocations:small:0',
      {
        kind: 'torc-allocation',
        workload: 'torc-wf42',
        workflowId: 42,
        commandTag: 'torc-wf42:a1:3-allocations:small:0',
      },
    ],
    // Reserved for Rebound's own records: a plain job's tag cannot claim a workflow or "~".
    ['rebound:torc-wf42', undefined],
    ['rebound:torc-wf42/torc-wf7:sched:s1:x:0', undefined],
    ['rebound:torc-wfx', undefined],
    ['rebound:~untagged', undefined],
    ['something else', undefined],
    ['rebound:bad name', undefined],
    [undefined, undefined],
  ])('parses %j', (comment, tag) => {
    expect(parseTag(comment)).toEqual(tag);
    if (tag) expect(formatTag(tag)).toBe(comment);
  });
});
