import { isReservedWorkload, torcWorkflowOf, WORKLOAD_NAME } from './ids.ts';

// A plain Slurm job opts in with `sbatch --comment=rebound:<workload>`. Resubmissions keep the tag and add
// the command that made them, so a repeated command can find its own job: `rebound:<workload>/<command>`.
// Rebound's own Torc allocations are tagged `rebound:torc-wf<id>/<command>`; a plain job cannot use that
// prefix (nor "~"), so `--comment=rebound:torc-wf42` is no tag at all.

// "~" is let through the pattern so that the reservation below, not the pattern, is what refuses it.
// Sizes: a command tag holds a job key (cluster ≤ 100, job id, attempt) and a 16-character nonce, or a
// Torc allocation's step and name (≤ 120): 250 at most, so a whole tag is ≤ 359 characters. Slurm keeps
// comments whole well beyond that (390 checked on the test cluster, in squeue and sacct alike).
const TAG_RE = new RegExp(`^rebound:(~?${WORKLOAD_NAME})(?:/([A-Za-z0-9_.:-]{1,250}))?$`);

export type ReboundTag =
  | { kind: 'workload'; workload: string; commandTag?: string }
  /** One of Rebound's allocations for a Torc workflow (the command that submitted it is its proof). */
  | { kind: 'torc-allocation'; workload: string; workflowId: number; commandTag: string };

export function parseTag(comment: string | undefined): ReboundTag | undefined {
  const m = comment ? TAG_RE.exec(comment.trim()) : null;
  if (!m) return undefined;
  const [, workload, commandTag] = m as unknown as [string, string, string | undefined];
  const workflowId = torcWorkflowOf(workload);
  if (workflowId !== undefined)
    return commandTag?.startsWith(`${workload}:`)
      ? { kind: 'torc-allocation', workload, workflowId, commandTag }
      : undefined;
  if (isReservedWorkload(workload)) return undefined;
  return commandTag ? { kind: 'workload', workload, commandTag } : { kind: 'workload', workload };
}

export function formatTag(tag: { workload: string; commandTag?: string }): string {
  return tag.commandTag ? `rebound:${tag.workload}/${tag.commandTag}` : `rebound:${tag.workload}`;
}
