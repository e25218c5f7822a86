import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL } from '../../core/commands.ts';
import { parseRelayConfig } from '../../relay/config.ts';
import { Executor } from '../../relay/executor.ts';

// A recovery hook is the user's (or site's) program: it sees the minimal environment, TORC_WORKFLOW_ID,
// and what its own config lists — never the relay's settings or secrets.

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('recovery hooks', () => {
  it('get the minimal environment plus TORC_WORKFLOW_ID and the variables their config lists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rebound-hook-env-'));
    const dump = join(dir, 'env');
    const script = join(dir, 'hook.sh');
    writeFileSync(script, `#!/bin/sh\nenv > ${dump}\necho "fixed workflow $1"\n`);
    chmodSync(script, 0o755);
    Object.assign(process.env, {
      TORC_PASSWORD: 'canary-torc',
      AWS_SECRET_ACCESS_KEY: 'canary-aws',
      REBOUND_SECRET_FILE: '/canary/secret',
      PROJECT_ROOT: '/projects/alpha',
    });
    const { hooks } = parseRelayConfig({ hooks: { fix: { command: [script], env: ['PROJECT_ROOT'] } } });
    const executor = new Executor({
      cluster: 'lab',
      stateDir: dir,
      hooks,
      actingFor: { mode: 'user', uid: 1501, user: 'alice' },
    });
    const [result] = await executor.execute({
      type: 'hook.run',
      id: 'torc-wf7:a1:0-hook',
      protocol: PROTOCOL,
      workload: 'torc-wf7',
      createdAt: '2026-11-25T12:00:00Z',
      hook: 'fix',
      workflowId: 7,
    });
    expect(result).toMatchObject({ data: { ok: true, output: 'fixed workflow 7\n' } });
    const env = readFileSync(dump, 'utf8');
    expect(env).toContain('TORC_WORKFLOW_ID=7');
    expect(env).toContain('PROJECT_ROOT=/projects/alpha');
    expect(env).toMatch(/^PATH=/m);
    for (const leak of ['canary-torc', 'canary-aws', 'REBOUND_']) expect(env).not.toContain(leak);
  });

  it('are an argument vector, or { command, env }; an environment name of no valid form is refused', () => {
    expect(parseRelayConfig({ hooks: { a: ['/bin/true'] } }).hooks.a).toEqual({
      command: ['/bin/true'],
      env: [],
    });
    expect(() => parseRelayConfig({ hooks: { a: { command: ['/bin/true'], env: ['A=B'] } } })).toThrow(
      /relay\.hooks\.a/,
    );
  });
});
