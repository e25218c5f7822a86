import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The hook runs on the Slurm controller, where every local user can read /proc/*/cmdline and, for their
// own processes, environments: the secret must reach no program's argv or environment. Traced with
// strace (installed by scripts/slurm-env.sh), every execve the hook makes, children included.

const HOOK = join(import.meta.dirname, '..', '..', 'hooks', 'jobcomp.sh');
const SECRET = 'hook-secret-that-must-never-be-seen-0123456789abcdef';

describe('the jobcomp hook', () => {
  it('signs and spools without the secret in any argv or environment of the programs it runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rebound-hook-trace-'));
    writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o600 });
    // A closed port: the POST fails and the event is spooled, so every step of the hook runs.
    writeFileSync(
      join(dir, 'hook.conf'),
      `REBOUND_URL=http://127.0.0.1:9\nREBOUND_SECRET_FILE=${join(dir, 'secret')}\nREBOUND_SPOOL=${join(dir, 'spool')}\n`,
    );
    const trace = join(dir, 'trace');
    execFileSync('strace', ['-f', '-qq', '-v', '-s', '65536', '-e', 'trace=execve', '-o', trace, HOOK], {
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        REBOUND_HOOK_CONF: join(dir, 'hook.conf'),
        JOBID: '4242',
        JOBNAME: 'traced',
        JOBSTATE: 'OUT_OF_MEMORY',
        EXITCODE: '0:125',
        CLUSTER: 'lab',
      },
    });
    const execs = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((l) => l.includes('execve('));
    expect(execs.filter((l) => l.includes(SECRET))).toEqual([]);
    // It did post (curl) and spool: the trace covers the whole hook, signing included.
    expect(execs.some((l) => l.includes('"curl"'))).toBe(true);
    expect(readdirSync(join(dir, 'spool'))).toEqual(['jobcomp-lab-4242-e0.json']);
  });
});
