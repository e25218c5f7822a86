/**
 * Text for a terminal: data that came from jobs (names, comments, hook output) may hold escape sequences
 * that would move the cursor, rewrite the screen or set the window title. Every control character other
 * than a line break or a tab becomes "�"; in a table cell a line break does too (it would forge a row).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_OR_BREAK = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

export const printable = (text: string) => text.replace(CONTROL, '\uFFFD');

export const printableCell = (text: string) => text.replace(CONTROL_OR_BREAK, '\uFFFD');

/** Rows as an aligned text table, a column per name (upper-cased as its heading). */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => (v === undefined || v === null ? '' : printableCell(String(v)));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}
