import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The README's promise: errors exit non-zero with a message; usage errors exit 2.
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'rebound.mjs');
const rebound = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, REBOUND_DATA: mkdtempSync(join(tmpdir(), 'rebound-cli-')) },
  });

describe('rebound usage errors', () => {
  it.each([
    [['status', '--bogus'], "Unknown option '--bogus'"],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['history'], 'history needs a workload'],
    [['watch', 'x'], 'watch needs a Torc workflow id'],
    [['recover'], 'recover needs a workload'],
    [['sync'], 'sync needs a workload'],
    [['recover', 'w', '--memory-multiplier', 'lots'], '--memory-multiplier: "lots" is not a number'],
    [['recover', 'w', '--runtime-multiplier', '0.5'], '--runtime-multiplier: must be greater than 1'],
    [['recover', 'w', '--memory-multiplier', '11'], '--memory-multiplier: must be at most 10'],
    [['recover', 'w', '--job', 'abc'], '--job:'],
  ])(
    '%j exits 2 with a message',
    (args, message) => {
      const r = rebound(args);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('TypeError');
      expect(r.status).toBe(2);
    },
    20_000,
  );

  it('--help prints the usage and exits 0', () => {
    const r = rebound(['--help']);
    expect(r.stdout).toContain('usage: rebound <command>');
    expect(r.status).toBe(0);
  }, 20_000);
});
