import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROTOCOL } from '../../core/commands.ts';
import { checkCommand } from '../../relay/command-check.ts';
import { Executor } from '../../relay/executor.ts';
import { RELAY_VERSION } from '../../relay/version.ts';

// The relay and the service are upgraded separately: a command this relay cannot run is answered with a
// failed result naming the relay's version, never deleted in silence.

const base = { id: 'lab:7:a1', workload: 'nightly', createdAt: '2026-11-25T12:00:00Z' };
const resubmit = {
  ...base,
  type: 'slurm.resubmit',
  jobId: '7',
  comment: 'rebound:nightly/lab:7:a1.0f1e2d3c4b5a6978',
  resources: { mem: '300M' },
};

describe('relay command check', () => {
  it('accepts a command of its protocol, and one from before versioning (protocol 1)', () => {
    expect(checkCommand({ ...resubmit, protocol: PROTOCOL })).toMatchObject({ ok: true });
    const enrich = { ...base, type: 'slurm.enrich', jobId: '7', eventId: 'jobcomp:lab:7' };
    expect(checkCommand(enrich)).toMatchObject({ ok: true, command: { protocol: 1 } });
  });

  it("refuses a protocol-1 resubmission (a 0.2 service's: no comment, so no nonce) and a comment that is no tag", () => {
    const old = { ...base, type: 'slurm.resubmit', jobId: '7', tag: 'lab:7:a1', resources: {} };
    expect(checkCommand(old)).toMatchObject({ ok: false, reason: expect.stringMatching(/comment/) });
    for (const comment of ['rebound:nightly', 'rebound:torc-wf1/torc-wf1:a1', 'x; rm -rf /'])
      expect(checkCommand({ ...resubmit, comment })).toMatchObject({ ok: false });
  });

  it.each([
    [
      { ...resubmit, protocol: PROTOCOL + 1 },
      `unsupported command slurm.resubmit (protocol ${PROTOCOL + 1}; relay ${RELAY_VERSION}`,
    ],
    [
      { ...base, type: 'slurm.submit-script', script: 'x' },
      `unsupported command slurm.submit-script (relay ${RELAY_VERSION}`,
    ],
    [{ ...resubmit, jobId: 'abc' }, 'malformed command slurm.resubmit: command.jobId'],
    // A forged id that would name a file outside the relay's folders.
    [{ ...resubmit, id: '../../etc/cron.d/x' }, 'malformed command slurm.resubmit: command.id: a command id'],
    [{ ...resubmit, id: '.hidden' }, 'command.id: a command id'],
  ])('answers %j with a reason', (body, reason) => {
    const check = checkCommand(body);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.envelope?.id).toBe((body as { id: string }).id);
    expect(!check.ok && check.reason).toContain(reason);
  });

  it('a command without an id cannot be answered: only its reason is logged', () => {
    const check = checkCommand({ type: 'slurm.resubmit' });
    expect(check).toMatchObject({ ok: false, reason: expect.stringContaining('command.id') });
    expect(!check.ok && check.envelope).toBeUndefined();
  });

  it('the refusal is a failed result for the command’s id, echoing its type and workload', () => {
    const executor = new Executor({
      cluster: 'lab',
      stateDir: mkdtempSync(join(tmpdir(), 'rebound-refuse-')),
      hooks: {},
      actingFor: { mode: 'user', uid: 1501, user: 'alice' },
      now: () => new Date('2026-11-25T12:00:01Z'),
    });
    const check = checkCommand({ ...base, type: 'slurm.frobnicate' });
    if (check.ok || !check.envelope) throw new Error('expected a refusal');
    expect(executor.refuse(check.envelope, check.reason)).toEqual([
      expect.objectContaining({
        id: 'result:lab:7:a1',
        type: 'relay.command.result',
        data: expect.objectContaining({
          commandId: 'lab:7:a1',
          commandType: 'slurm.frobnicate',
          workload: 'nightly',
          ok: false,
          error: expect.stringContaining('unsupported command slurm.frobnicate'),
        }),
      }),
    ]);
  });
});
