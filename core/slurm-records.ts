// Reading Slurm's delimited output so that nothing a user writes can break it. `sacct -P` and `squeue -o`
// print values raw: a job's name or comment may hold `|`, a newline, any delimiter a program could choose
// in advance. So each call gets a delimiter made of fresh random bytes (`slurmDelimiter`), and every
// record ends with a field no user writes and that holds no newline (the job id again): a record is the
// next `fields` values, however many lines its name or comment spans. (sacct's JSON was the other way:
// in the 22.05 build on our test cluster it reports no user or account for a job.)

/** A delimiter no job can contain: `random` (fresh per call, e.g. 6 random bytes in hex) between 0x1F. */
export const slurmDelimiter = (random: string) => `\x1f${random}\x1f`;

/**
 * The records of `output` whose fields are separated by `delimiter`, `fields` per record, the last being a
 * terminator without newlines (a job id). Records are separated by a newline after the terminator.
 */
export function slurmRecords(output: string, delimiter: string, fields: number): string[][] {
  const tokens = output.split(delimiter);
  const records: string[][] = [];
  let current = [tokens[0] ?? ''];
  for (const token of tokens.slice(1)) {
    if (current.length < fields - 1) {
      current.push(token);
      continue;
    }
    // The terminator, then the newline and the next record's first field.
    const newline = token.indexOf('\n');
    current.push(newline < 0 ? token : token.slice(0, newline));
    records.push(current);
    current = [newline < 0 ? '' : token.slice(newline + 1)];
  }
  return records;
}

/** Records as objects keyed by field name (`fields` as asked for, the terminator included). */
export function slurmRows<F extends string>(
  output: string,
  delimiter: string,
  fields: readonly F[],
): Record<F, string>[] {
  return slurmRecords(output, delimiter, fields.length).map(
    (values) => Object.fromEntries(fields.map((f, i) => [f, values[i] ?? ''])) as Record<F, string>,
  );
}
