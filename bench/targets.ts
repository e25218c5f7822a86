// Every benchmark states its targets and fails on a miss: `.ci/run` runs them after the tests, one at a
// time, and a miss fails CI with the figure that missed.

const misses: string[] = [];
let met = 0;

/** Records one figure against its target, e.g. `target('wall time', 160, '<', 1000, 'ms')`. */
export function target(what: string, value: number, op: '<' | '>=', limit: number, unit: string): void {
  const ok = op === '<' ? value < limit : value >= limit;
  if (ok) met++;
  else misses.push(`${what}: ${value.toFixed(1)} ${unit}, target ${op} ${limit} ${unit}`);
}

/** Prints the verdict; exits 1 when a target was missed. */
export function verdict(bench: string): void {
  if (misses.length === 0) {
    console.log(`${bench}: all ${met} targets met`);
    return;
  }
  console.error(`${bench}: ${misses.length} target(s) missed:\n  ${misses.join('\n  ')}`);
  process.exitCode = 1;
}
