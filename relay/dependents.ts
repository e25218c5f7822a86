import { type Replacement, rewiredDependency } from '../core/dependency.ts';
import type { DependentsReport } from '../core/events.ts';
import { type ActingFor, OwnerSchema, refusal } from '../core/owner.ts';
import { slurmRecords } from '../core/slurm-records.ts';
import { run } from './exec.ts';
import { freshDelimiter } from './slurm.ts';

// A job that others wait on was resubmitted: each pending job whose dependency names the old job is made
// to wait on the new one (core/dependency.ts), as the dependent's owner — only an owner this relay acts
// for; another's is reported with the command that would rewire it. Run after every submission of the
// command, and again when the command finds its job already submitted: a dependent already rewired names
// the old job no more, so running twice changes nothing.

const FIELDS = ['%i', '%U', '%u', '%a', '%E', '%i'] as const;

export async function rewireDependents(
  replacements: Replacement[],
  actingFor: ActingFor,
): Promise<DependentsReport> {
  const d = freshDelimiter();
  const { stdout } = await run(['squeue', '-h', '-t', 'PENDING', '-o', FIELDS.join(d)]);
  const report: DependentsReport = { rewired: [], reported: [] };
  for (const [id = '', uid = '', user = '', account = '', expression = ''] of slurmRecords(
    stdout,
    d,
    FIELDS.length,
  )) {
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
    report.rewired.push({ jobId: id, user, dependency });
  }
  return report;
}
