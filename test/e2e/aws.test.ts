import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../../service/signature.ts';
import { type Emulators, startEmulators } from '../aws/emulators.ts';
import { startLambdaHost } from '../aws/lambda-host.ts';
import { LAB_PROFILE } from '../support/lab-profile.ts';
import { ALICE, completed, HOG, hookRoute, jobsOf, SLURM_CONF, submit, tagged, waitFor } from './harness.ts';

// Acceptance for the AWS shell: scenarios 1 and 5 of the local suite with the AWS adapters — the api and
// worker functions invoked as Lambda invokes them, DynamoDB Local, fauxqs for SQS — the relay in AWS mode
// (`rebound relay`, long-polling the FIFO commands queue) and the real Slurm with its jobcomp hook.

const RUN = Date.now().toString(36);
const SECRET = 'aws-e2e-secret-not-for-production';
const dir = mkdtempSync(join(tmpdir(), 'rebound-aws-e2e-'));
// The relay runs as alice (user mode), whose jobs it recovers.
chownSync(dir, ALICE.uid, ALICE.gid);
const out = (name: string) => ['-o', join(dir, `${name}-%j.out`)];

let emulators: Emulators;
let host: Awaited<ReturnType<typeof startLambdaHost>>;
let relay: ChildProcess;
let relayOutput = '';
let unroute: (() => void) | undefined;
const workload = `aws-oom-${RUN}`;

beforeAll(async () => {
  emulators = await startEmulators();
  host = await startLambdaHost(
    emulators,
    18_790,
    {
      profile: LAB_PROFILE,
    },
    SECRET,
  );
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, SECRET, { mode: 0o600 });
  chownSync(secretFile, ALICE.uid, ALICE.gid);
  unroute = hookRoute('aws-e2e', {
    url: host.url,
    secretFile,
    spool: join(dir, 'spool'),
    match: tagged(workload),
  });
  const relayConfig = join(dir, 'relay.config.json');
  writeFileSync(relayConfig, JSON.stringify({ relay: {} }));
  relay = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'rebound.mjs'), 'relay'], {
    uid: ALICE.uid,
    gid: ALICE.gid,
    env: {
      ...process.env,
      ...host.setup.env,
      HOME: dir,
      USER: ALICE.name,
      LOGNAME: ALICE.name,
      SLURM_CONF,
      REBOUND_DATA: join(dir, 'relay-data'),
      REBOUND_URL: host.url,
      REBOUND_SECRET_FILE: secretFile,
      REBOUND_SACCT_INTERVAL: '0',
      // The functions' REBOUND_CONFIG is JSON; the relay's is a file with its own section.
      REBOUND_CONFIG: relayConfig,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  relay.stdout!.on('data', (d) => (relayOutput += d));
  relay.stderr!.on('data', (d) => (relayOutput += d));
  await waitFor('the relay', () => relayOutput.includes('Rebound relay') || relay.exitCode !== null, 30_000);
  if (relay.exitCode !== null) throw new Error(`rebound relay exited: ${relayOutput}`);
}, 90_000);

afterAll(async () => {
  unroute?.();
  relay?.kill('SIGTERM');
  await host?.stop();
  await emulators?.stop();
});

describe('the AWS shell on the real Slurm', () => {
  it('an OOM job is resubmitted with --mem=300M and completes; the status API shows the attempt; every event POSTed 5 more times still gives one sbatch', async () => {
    submit(['-J', 'aws-oom', '--mem=200M', `--comment=rebound:${workload}`, ...out('oom')], HOG(250));
    const jobs = await waitFor('the retry to complete', completed(workload, 2), 180_000);
    expect(jobs.map((j) => [j.state, j.reqMem])).toEqual([
      ['OUT_OF_MEMORY', '200M'],
      ['COMPLETED', '300M'],
    ]);
    // A person reads with a token, which the holder of the secret asks the service for; in user mode the
    // one user's token sees the whole service (workload keys name no owner).
    const ask = JSON.stringify({ user: ALICE.name, uid: ALICE.uid, admin: true });
    const minted = await fetch(`${host.url}/v1/tokens`, {
      method: 'POST',
      body: ask,
      headers: signedHeaders(SECRET, ask, { method: 'POST', path: '/v1/tokens' }),
    });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const res = await fetch(`${host.url}/v1/workloads/${workload}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const view = (await res.json()) as {
      status: string;
      attempts: { changes: string[] }[];
      jobs: { cause?: string }[];
    };
    expect(view.attempts).toMatchObject([{ changes: ['memory 200M -> 300M'] }]);
    expect(view.jobs.map((j) => j.cause)).toContain('oom');

    await host.idle();
    for (const j of jobs) {
      const body = JSON.stringify({
        id: `jobcomp:rebound:${j.jobId}`,
        version: 1,
        source: 'jobcomp',
        occurredAt: new Date().toISOString(),
        cluster: 'rebound',
        type: 'slurm.jobcomp',
        data: { jobId: j.jobId, state: j.state, exitCode: '0:0' },
      });
      for (let i = 0; i < 5; i++) {
        const posted = await fetch(`${host.url}/v1/events`, {
          method: 'POST',
          body,
          headers: signedHeaders(SECRET, body),
        });
        expect(posted.status).toBe(202);
      }
    }
    await host.idle();
    expect(jobsOf(workload)).toHaveLength(2);
  }, 300_000);
});
