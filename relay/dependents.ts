import { type Replacement, rewiredDependency } from '../core/dependency.ts';
import type { DependentsReport } from '../core/events.ts';
import { type ActingFor, OwnerSchema, refusal } from '../core/owner.ts';
import { run } from './exec.ts';
import { Slots } from './slots.ts';

// A job that others wait on was resubmitted: each pending job whose dependency names the old job is made
// to wait on the new one (core/dependency.ts), as the dependent's owner — only an owner this relay acts
// for; another's is reported with the command that would rewire it. Run after every submission of the
// command, and again when the command finds its job already submitted: a dependent already rewired names
// the old job no more, so running twice changes nothing.

/**
 * Rewirings one at a time: resubmissions of the same moment share one listing of pending jobs, and a job
 * waiting on two of them must see the first rewiring before the second is computed.
 */
const oneAtATime = new Slots(1);

/**
 * `pending`: squeue's pending jobs (relay/slurm-lookups.ts PENDING_FIELDS), listed after the old job ended
 * and shared by the resubmissions of the moment; each rewiring writes the new dependency back into it.
 */
export async function rewireDependents(
  replacements: Replacement[],
  actingFor: ActingFor,
  pending: string[][],
): Promise<DependentsReport> {
  const free = await oneAtATime.take();
  try {
    return await rewire(replacements, actingFor, pending);
  } finally {
    free();
  }
}

async function rewire(
  replacements: Replacement[],
  actingFor: ActingFor,
  pending: string[][],
): Promise<DependentsReport> {
  const report: DependentsReport = { rewired: [], reported: [] };
  for (const row of pending) {
    const [id = '', uid = '', user = '', account = '', expression = ''] = row;
    const dependency = rewiredDependency(expression, replacements);
    const owner = OwnerSchema.safeParse({
      uid: Number(uid),
      user,
      ...(account && account !== '(null)' ? { account } : {}),
    });
    if (!dependency || !/^\d+(_\d+)?$/.test(id) || !owner.success) continue;
    const refused = refusal(owner.data, actingFor);
    if (refused) {
      report.reported.push({ jobId: id, user, dependency, reason: refused });
      continue;
    }
    const update = ['scontrol', 'update', `JobId=${id}`, `Dependency=${dependency}`];
    await run(actingFor.mode === 'user' ? update : ['runuser', '-u', user, '--', ...update], { cwd: '/' });
    row[4] = dependency;
    report.rewired.push({ jobId: id, user, dependency });
  }
  return report;
}
