// The environment a batch job was submitted with, as Slurm keeps it in accounting
// (AccountingStoreFlags=job_env) and `sacct -j <id> --env-vars` prints it: a header, a rule, then the
// variables one `NAME=value` per line — a value with newlines (a bash function) continues on the lines
// that do not start a new name. Where the cluster keeps none, the body is `NONE`; for a job of someone
// else (or without an association of the caller's) sacct prints nothing at all.
//
// A retry replays it with `sbatch --export-file` (checked on the lab: the job then has exactly these
// variables, none of sbatch's own environment). The variables may hold users' secrets: they are read by
// the relay when it submits, passed through a pipe, and never written anywhere by Rebound.

/** Variables sbatch writes into every submission (its options, limits, where it ran): it writes them anew. */
const WRITTEN_BY_SBATCH =
  /^SLURM_(JOB_NAME|EXPORT_ENV|RLIMIT_\w+|PRIO_PROCESS|SUBMIT_DIR|SUBMIT_HOST|UMASK|GET_USER_ENV)$/;

const NAME = /^([A-Za-z_][A-Za-z0-9_]*(?:%%)?)=/;

export interface SubmittedEnvironment {
  /** The variables to replay, in sacct's order, without those sbatch writes itself. */
  variables: [name: string, value: string][];
  /** Where it was submitted from (sbatch's working directory then: SLURM_SUBMIT_DIR of the job). */
  submitDir?: string;
}

/**
 * `sacct --env-vars` output → the environment, `'not-stored'` when the cluster keeps none for it, or
 * undefined when sacct said nothing (not the caller's job, or no such job).
 */
export function parseEnvVars(output: string): SubmittedEnvironment | 'not-stored' | undefined {
  const lines = output.split('\n');
  const rule = lines.findIndex((l) => /^-{10,}$/.test(l));
  if (rule < 0 || !/^Environment used for /.test(lines[rule - 1] ?? '')) return undefined;
  const body = lines.slice(rule + 1);
  while (body.length && body.at(-1) === '') body.pop();
  if (!body.length || (body.length === 1 && body[0] === 'NONE')) return 'not-stored';
  const all: [string, string][] = [];
  for (const line of body) {
    const name = NAME.exec(line)?.[1];
    if (name) all.push([name, line.slice(name.length + 1)]);
    else if (all.length) all[all.length - 1]![1] += `\n${line}`;
  }
  const submitDir = all.find(([n]) => n === 'SLURM_SUBMIT_DIR')?.[1];
  return {
    variables: all.filter(([n]) => !WRITTEN_BY_SBATCH.test(n)),
    ...(submitDir ? { submitDir } : {}),
  };
}

/**
 * `sacct -j a,b,c --env-vars` (or `--batch-script`) output → each job's section, by job id: a header
 * ("Environment used for <id> …" / "Batch Script for <id>"), a rule, the body. A body can hold any text (a
 * value with newlines, a script), so a header could be forged inside another job's body: a job named twice is
 * left out (its caller asks for it alone), and callers list one owner's jobs together only, so a forged
 * section could only be the forger's own job.
 */
export function accountingSections(output: string, header: 'Environment used for' | 'Batch Script for') {
  const heads = [...output.matchAll(new RegExp(`^${header} (\\S+).*\\n-{10,}\\n`, 'gm'))];
  const sections = new Map<string, string>();
  const twice = new Set<string>();
  heads.forEach((head, i) => {
    const id = head[1]!;
    const end = heads[i + 1]?.index ?? output.length;
    // sacct ends each section with one empty line of its own.
    const body = output.slice(head.index + head[0].length, end).replace(/\n$/, '');
    if (sections.has(id)) twice.add(id);
    sections.set(id, body);
  });
  for (const id of twice) sections.delete(id);
  return { sections, twice };
}

/** One job's environment section (`accountingSections`) as `parseEnvVars` reads a whole output. */
export function parseEnvSection(body: string): SubmittedEnvironment | 'not-stored' | undefined {
  return parseEnvVars(`Environment used for -\n${'-'.repeat(80)}\n${body}`);
}

/** The form `sbatch --export-file` reads: `NAME=value` definitions separated by NUL characters. */
export function exportFile(env: SubmittedEnvironment): Buffer {
  return Buffer.from(env.variables.map(([n, v]) => `${n}=${v}`).join('\0'));
}

/**
 * The variables a script's own `#SBATCH --export=` line names, when it names some without ALL or NONE:
 * sbatch then loads its owner's login environment on the node and adds them (checked on the lab:
 * SLURM_GET_USER_ENV=1 and the named values set). sbatch reads directives up to the script's first command.
 */
export function scriptExportsVariables(script: string): boolean {
  let value: string | undefined;
  for (const line of script.split('\n').slice(1)) {
    const trimmed = line.trim();
    if (trimmed && !trimmed.startsWith('#')) break;
    const option = /^#SBATCH\s+--export(?:=|\s+)(\S+)/.exec(trimmed);
    if (option) value = option[1];
  }
  if (!value) return false;
  const terms = value.split(',').map((t) => t.replace(/^["']|["']$/g, '').toUpperCase());
  return !terms.includes('ALL') && !terms.includes('NONE');
}
