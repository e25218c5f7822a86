import type { Command } from '../core/commands.ts';
import type { EventOf } from '../core/events.ts';
import { commandIds, torcWorkload } from '../core/ids.ts';
import type { JobRecord } from '../core/ports.ts';
import type { ReboundTag } from '../core/tag.ts';
import type { ServiceDeps } from './deps.ts';
import { command, send } from './effects.ts';

// Orphans: when one of Rebound's allocations ends, whatever Torc's runner left `running` in it is failed
// at once (Torc's −128), so recovery sees it. Two sources report an allocation's end — its own job end
// (jobcomp, via sacct) and the forwarder's squeue check — and both make the same command id: it runs once.
// The relay acts only on the scheduled compute nodes Torc recorded for that Slurm job
// (relay/torc-executor.ts), so a job that merely carries an allocation's tag changes nothing.

/** Orphan cleanup for one allocation. */
function cleanupCommand(workflowId: number, slurmJobId: string, createdAt: string): Command {
  const workload = torcWorkload(workflowId);
  return command({
    type: 'torc.cleanup-allocation',
    id: commandIds.cleanup(workload, slurmJobId),
    workload,
    createdAt,
    workflowId,
    slurmJobId,
  });
}

/** One of our Torc allocations ended (its sacct record): clean up after it at once. */
export async function onAllocationJobEnded(
  deps: ServiceDeps,
  job: JobRecord,
  tag: Extract<ReboundTag, { kind: 'torc-allocation' }>,
) {
  job.decided = true;
  await deps.store.putJob(job);
  await send(deps, [cleanupCommand(tag.workflowId, job.jobId, job.updatedAt)]);
}

/** The forwarder saw a live allocation missing from squeue (its jobcomp event may never have come). */
export async function onAllocationEnded(deps: ServiceDeps, event: EventOf<'slurm.allocation.ended'>) {
  await send(deps, [cleanupCommand(event.data.workflowId, event.data.slurmJobId, deps.now().toISOString())]);
}
