import { afterAll, beforeAll, expect, it } from 'vitest';
import { jobsOf, ReboundProcess, slurm, submit, tagged, waitFor } from '../e2e/harness.ts';

// Its own phase (npm run test:e2e runs it after the concurrent suites): setting the test cluster's one node
// DOWN kills every job running on it. A job Slurm requeues itself after a node failure keeps its id and
// runs again; Rebound follows it instead of submitting it a second time (issue 12, acceptance 6).

const RUN = Date.now().toString(36);
const workload = `requeued-${RUN}`;
const NODE = 'vm';
let rebound: ReboundProcess;

/** Back in service: a DOWN node whose slurmd answers may already be back by itself (ReturnToService=2). */
const resume = () => {
  if (/down|drain/i.test(slurm(['sinfo', '-h', '-n', NODE, '-o', '%T'])))
    slurm(['scontrol', 'update', `NodeName=${NODE}`, 'State=RESUME']);
};

beforeAll(async () => {
  rebound = new ReboundProcess(18_803, {}, { match: tagged(workload), env: { REBOUND_SACCT_INTERVAL: '0' } });
  await rebound.start();
}, 30_000);
afterAll(async () => {
  // Whatever happened, the node serves the next suite.
  resume();
  await rebound?.dispose();
});

type View = { status: string; history: { line: string }[] };

it('a node failure under a running job: Slurm requeues it, Rebound follows it, exactly one job id completes', async () => {
  // The first run waits to be interrupted; the run after the requeue finishes at once.
  const id = submit(
    ['-J', 'requeued', `--comment=rebound:${workload}`, '-o', `/tmp/rebound-e2e-${RUN}-requeued-%j.out`],
    // SLURM_RESTART_COUNT is unset or 0 on the first run ("0" prefixed: 0 or 01, 02, …).
    'if [ 0"$SLURM_RESTART_COUNT" -gt 0 ]; then echo rerun; else sleep 600; fi',
  );
  await waitFor('the job running', () => slurm(['squeue', '-h', '-j', id, '-o', '%T']) === 'RUNNING', 60_000);
  slurm(['scontrol', 'update', `NodeName=${NODE}`, 'State=DOWN', 'Reason=rebound-e2e-node-failure']);
  const followed = await waitFor(
    'the interrupted run followed',
    async () => {
      const view = (await rebound.get<View>(`/v1/workloads/${workload}`)).body;
      return view.history?.find((h) => h.line.includes('requeued by Slurm'));
    },
    90_000,
  );
  expect(followed.line).toMatch(
    new RegExp(
      `^Job ${id} \\(requeued\\): NODE_FAIL on ${NODE}; requeued by Slurm, which runs it again as job ${id}: followed, not resubmitted$`,
    ),
  );
  resume();
  // Slurm makes a requeued job eligible again a couple of minutes later (BeginTime).
  const [job] = await waitFor(
    'the requeued job to complete',
    () => {
      const jobs = jobsOf(workload);
      return jobs.length === 1 && jobs[0]!.state === 'COMPLETED' && jobs;
    },
    300_000,
  );
  expect(job!.jobId).toBe(id);
  await rebound.idle();
  // Exactly one Slurm job id in accounting for it, and nothing resubmitted.
  expect(jobsOf(workload).map((j) => j.jobId)).toEqual([id]);
  const view = (await rebound.get<View>(`/v1/workloads/${workload}`)).body;
  expect(view.history.map((h) => h.line).filter((l) => / resubmitted as /.test(l))).toEqual([]);
  expect(view.history.map((h) => h.line)).toContain(`Job ${id} (requeued): completed`);
  expect(view.status).not.toBe('needs-attention');
}, 420_000);
