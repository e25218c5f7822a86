import { UnsafeValueError } from './errors.ts';

/**
 * One POSIX shell word that is always data: single quotes make `$(…)`, backticks, `$VAR`, globs and
 * newlines literal; an embedded quote becomes '\''.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new UnsafeValueError('value', value, 'contains a NUL byte');
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** An argument vector as one line a person can paste into a shell (dry-run output, docs). */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
