// A plain Slurm job opts in with `sbatch --comment=rebound:<workload>`. Resubmissions keep the tag and add
// the command that made them, so a repeated command can find its own job: `rebound:<workload>/<command>`.

const TAG_RE = /^rebound:([A-Za-z0-9_.-]{1,100})(?:\/([A-Za-z0-9_.:-]{1,120}))?$/;

export interface ReboundTag {
  workload: string;
  commandTag?: string;
}

export function parseTag(comment: string | undefined): ReboundTag | undefined {
  const m = comment ? TAG_RE.exec(comment.trim()) : null;
  if (!m) return undefined;
  return m[2] ? { workload: m[1]!, commandTag: m[2] } : { workload: m[1]! };
}

export function formatTag(tag: ReboundTag): string {
  return tag.commandTag ? `rebound:${tag.workload}/${tag.commandTag}` : `rebound:${tag.workload}`;
}
