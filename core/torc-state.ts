import type { ResourceGroup } from './allocation.ts';
import type { Diagnosis } from './diagnose.ts';
import type { EventOf, TorcRr } from './events.ts';
import type { JobEvidence } from './evidence.ts';
import { torcWorkload } from './ids.ts';
import type { Profile } from './profiles.ts';
import type { FailedJob, RecoveryState } from './recovery-state.ts';
import { parseIsoDuration, parseTorcMemory } from './units.ts';

export type TorcCompletion = EventOf<'torc.workflow.completed'>['data'];

export interface RecordedTorcJob {
  id: number;
  name: string;
  evidence: JobEvidence;
  diagnosis?: Diagnosis;
  rr: TorcRr;
}

/**
 * A Torc resource-requirements row in bytes and seconds, as allocation planning takes it. A job takes at
 * least one CPU on at least one node, whatever a row says (Torc's server accepts 0).
 */
export const resourceGroup = (rr: TorcRr): ResourceGroup => ({
  name: rr.name,
  cpus: Math.max(1, rr.numCpus),
  gpus: rr.numGpus,
  nodes: Math.max(1, rr.numNodes),
  memoryBytes: parseTorcMemory(rr.memory),
  runtimeSeconds: parseIsoDuration(rr.runtime),
});

/**
 * The planner's view of a completed Torc run: the failed jobs with what they ran with, the rows they share,
 * and the jobs cancelled behind them, which a reset brings back (blocked until their upstream completes,
 * so their allocations are deferred).
 */
export function torcRecoveryState(
  completion: TorcCompletion,
  failed: RecordedTorcJob[],
  profile: Profile,
  runnerBufferSeconds: number,
): RecoveryState {
  const rrs = new Map(completion.resourceRequirements.map((r) => [r.id, r]));
  const jobs: FailedJob[] = failed.map((j) => {
    const g = resourceGroup(j.rr);
    return {
      id: String(j.id),
      name: j.name,
      evidence: j.evidence,
      ...(j.diagnosis ? { diagnosis: j.diagnosis } : {}),
      limits: { memoryBytes: g.memoryBytes, runtimeSeconds: g.runtimeSeconds },
      cpus: g.cpus,
      gpus: g.gpus,
      rr: { id: j.rr.id, name: j.rr.name },
    };
  });
  const canceled = completion.canceled.filter((c) => rrs.has(c.rrId));
  return {
    kind: 'torc',
    workload: torcWorkload(completion.workflowId),
    profile,
    runnerBufferSeconds,
    jobs,
    rrMembers: Object.fromEntries(Object.entries(completion.rrMembers).map(([k, v]) => [Number(k), v])),
    pending: {
      jobs: canceled.map((c) => ({ id: c.id, rr: rrs.get(c.rrId)!.name, waits: true })),
      groups: [...new Set(canceled.map((c) => c.rrId))].map((id) => resourceGroup(rrs.get(id)!)),
    },
  };
}
