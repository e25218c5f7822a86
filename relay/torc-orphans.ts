import { idList } from '../core/plan-report.ts';
import { ORPHANED_RETURN_CODE, type TorcScheduledComputeNode } from '../core/torc-model.ts';
import { TorcApiError, type TorcClient } from './torc-client.ts';

// Orphans: jobs Torc still counts as running on an allocation that ended. One allocation's clean-up (its
// end reported by jobcomp or the forwarder: service/torc-orphans.ts) and `rebound sync` for a whole workflow
// (like `torc workflows sync-status`) fail them with Torc's −128 and mark the allocation complete.

/**
 * `rebound sync`: the allocations Torc counts as pending or running that Slurm no longer knows
 * (squeue), each cleaned up as an ended one — or, in a dry run, named with the jobs it would fail.
 */
export async function syncOrphans(
  client: TorcClient,
  workflowId: number,
  dryRun: boolean,
  slurmJobs: () => Promise<Set<string>>,
): Promise<string> {
  const live = (await client.scheduledComputeNodes(workflowId)).filter(
    (s) => s.status !== 'complete' && s.scheduler_id > 0,
  );
  const queued = live.length ? await slurmJobs() : new Set<string>();
  const gone = [...new Set(live.map((s) => String(s.scheduler_id)).filter((id) => !queued.has(id)))];
  if (!gone.length)
    return `No orphans found: ${live.length} allocation(s) Torc counts as live, all known to Slurm`;
  if (dryRun) {
    const running: number[] = [];
    for (const scn of live.filter((s) => gone.includes(String(s.scheduler_id))))
      for (const { jobs } of await runningOn(client, workflowId, scn)) running.push(...jobs.map((j) => j.id));
    return `Would clean up ${gone.length} allocation(s) no longer in Slurm (${idList(gone)}): ${running.length} running job(s) would be marked failed (orphaned)${running.length ? `: ${idList(running)}` : ''}`;
  }
  const failed: number[] = [];
  for (const id of gone) failed.push(...(await cleanupAllocation(client, workflowId, id)));
  return `Cleaned up ${gone.length} allocation(s) no longer in Slurm (${idList(gone)}): ${failed.length} job(s) marked failed (orphaned)${failed.length ? `: ${idList(failed)}` : ''}`;
}

/** An allocation's compute nodes, each with the jobs Torc marks running on it. */
async function runningOn(client: TorcClient, workflowId: number, scn: TorcScheduledComputeNode) {
  const nodes = await client.computeNodes(workflowId, scn.id!);
  return Promise.all(
    nodes.map(async (node) => ({
      node,
      jobs: await client.jobs(workflowId, { status: 'running', activeComputeNodeId: node.id! }),
    })),
  );
}

/** Orphan cleanup for one dead allocation: its running jobs become failed with Torc's −128. */
export async function cleanupAllocation(
  client: TorcClient,
  workflowId: number,
  slurmJobId: string,
): Promise<number[]> {
  const scns = (await client.scheduledComputeNodes(workflowId)).filter(
    (s) => String(s.scheduler_id) === slurmJobId,
  );
  const status = await client.status(workflowId);
  const failed: number[] = [];
  for (const scn of scns) {
    for (const { node, jobs } of await runningOn(client, workflowId, scn)) {
      for (const job of jobs) {
        try {
          await client.completeJob(job.id, 'failed', status.run_id, {
            job_id: job.id,
            workflow_id: workflowId,
            run_id: status.run_id,
            attempt_id: job.attempt_id ?? 1,
            compute_node_id: node.id!,
            return_code: ORPHANED_RETURN_CODE,
            exec_time_minutes: 0,
            completion_time: new Date().toISOString(),
            status: 'failed',
          });
          failed.push(job.id);
        } catch (error) {
          // Already complete (a retry after a lost answer, or the runner finished it): nothing to do.
          if (!(error instanceof TorcApiError && error.status === 422)) throw error;
        }
      }
      if (node.is_active !== false) await client.putComputeNode({ ...node, id: node.id!, is_active: false });
    }
    if (scn.status !== 'complete')
      await client.putScheduledComputeNode({ ...scn, id: scn.id!, status: 'complete' });
  }
  return failed;
}
