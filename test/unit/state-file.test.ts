import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { SacctWatcher } from '../../relay/sacct-watcher.ts';
import { readStateFile, writeFileAtomic } from '../../relay/state-file.ts';
import { TorcClient } from '../../relay/torc-client.ts';
import { TorcForwarder } from '../../relay/torc-forwarder.ts';
import { readRegistry } from '../../relay/torc-registry.ts';

// A relay state file damaged by a crash, a full disk or a person's edit is reported and rebuilt: never a
// crash at start-up, never a silent reset.

const dir = () => mkdtempSync(join(tmpdir(), 'rebound-state-'));

describe('relay state files', () => {
  it('are written whole (no temp file left) and read back through their schema', () => {
    const path = join(dir(), 's.json');
    writeFileAtomic(path, JSON.stringify({ n: 1 }));
    expect(readStateFile(path, z.object({ n: z.number() }))).toEqual({ kind: 'ok', value: { n: 1 } });
    expect(readStateFile(join(dir(), 'none.json'), z.object({}))).toEqual({ kind: 'missing' });
  });

  it.each([
    ['{"since": 1, "polledAt": 2, "pos', 'JSON'],
    ['{"since": "yesterday", "polledAt": 2, "posted": {}}', 'state.since'],
  ])(
    'a corrupt sacct watcher file (%s) is kept aside, reported, and the watcher catches up from its time',
    (text, why) => {
      const path = join(dir(), 'sacct-watcher.json');
      writeFileSync(path, text);
      const written = Date.parse('2026-11-25T12:00:00Z');
      utimesSync(path, written / 1000, written / 1000);
      const log: string[] = [];
      const watcher = new SacctWatcher({
        cluster: 'lab',
        stateFile: path,
        post: async () => {},
        log: (l) => log.push(l),
        user: 'nobody',
        now: () => written + 3_600_000,
      });
      // From the file's last write minus the 10-minute overlap: nothing since then is missed.
      expect(watcher.cursor).toEqual({ since: written - 600_000, polledAt: written - 600_000, posted: {} });
      expect(log).toHaveLength(1);
      expect(log[0]).toContain('sacct watcher: state file unreadable');
      expect(log[0]).toContain(why);
      expect(existsSync(path)).toBe(false);
      expect(readFileSync(`${path}.corrupt-${written + 3_600_000}`, 'utf8')).toBe(text);
    },
  );

  it('a corrupt forwarder file is reported and rebuilt from Torc; a corrupt watch list is reported', () => {
    const d = dir();
    writeFileSync(join(d, 'torc-forwarder.json'), '{"7": {"posted": 3}}');
    writeFileSync(join(d, 'torc-workflows.json'), '[7, "eight"]');
    const log: string[] = [];
    new TorcForwarder({
      client: new TorcClient({ url: 'http://127.0.0.1:9/torc-service/v1' }),
      cluster: 'lab',
      post: async () => {},
      registryFile: join(d, 'torc-workflows.json'),
      stateFile: join(d, 'torc-forwarder.json'),
      log: (l) => log.push(l),
    });
    expect(log).toEqual([expect.stringContaining('torc forwarder: state file unreadable (state.7.posted')]);
    expect(readRegistry(join(d, 'torc-workflows.json'), (l) => log.push(l))).toEqual([]);
    expect(log[1]).toContain('watch list unreadable');
  });
});
