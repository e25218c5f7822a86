import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poster } from '../../relay/poster.ts';
import { pathIn, safeFileName, writeFileAtomic } from '../../relay/state-file.ts';

// The spool is a folder other programs write to (the hooks): the relay never follows a link planted
// there, never blocks on a FIFO, and reports what it leaves alone. Ids never become paths unchecked.

const received: string[] = [];
let server: ReturnType<typeof createServer>;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push(body);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('the spool', () => {
  it('sends real spooled events and leaves a FIFO, a link and a folder alone, reporting each once', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'rebound-spool-'));
    const secretTarget = join(mkdtempSync(join(tmpdir(), 'rebound-target-')), 'private.json');
    writeFileSync(secretTarget, '{"private":true}');
    execFileSync('mkfifo', [join(spool, 'a-fifo.json')]);
    symlinkSync(secretTarget, join(spool, 'b-link.json'));
    execFileSync('mkdir', [join(spool, 'c-folder.json')]);
    writeFileSync(join(spool, 'd-event.json'), '[{"id":"spooled"}]');
    const log: string[] = [];
    const poster = new Poster({ url, secret: 'x'.repeat(32), spoolDir: spool, log: (l) => log.push(l) });

    expect(await poster.drain()).toBe(1);
    expect(await poster.drain()).toBe(0);
    expect(received).toEqual(['[{"id":"spooled"}]']);
    expect(log).toHaveLength(3);
    expect(log.join('\n')).toMatch(/a-fifo\.json is not a regular file/);
    expect(log.join('\n')).toMatch(/b-link\.json is a symbolic link \(not followed\)/);
    expect(log.join('\n')).toMatch(/c-folder\.json is not a regular file/);
    expect(existsSync(join(spool, 'd-event.json'))).toBe(false);
    expect(readFileSync(secretTarget, 'utf8')).toBe('{"private":true}');
  });

  it('writes a state file through a fresh name, replacing a planted link instead of following it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rebound-atomic-'));
    const target = join(mkdtempSync(join(tmpdir(), 'rebound-target-')), 'victim');
    writeFileSync(target, 'untouched');
    symlinkSync(target, join(dir, 'state.json'));
    writeFileAtomic(join(dir, 'state.json'), '{"n":1}');
    expect(readFileSync(target, 'utf8')).toBe('untouched');
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{"n":1}');
  });

  it.each(['../../etc/cron.d/x', 'a/b', '.hidden', '', 'x'.repeat(201)])(
    'refuses %j as a file name',
    (token) => {
      expect(() => safeFileName(token, '.sh')).toThrow(/not a safe file name/);
    },
  );

  it('turns a command id into one file name inside the folder', () => {
    expect(pathIn('/r/scripts', 'lab:77:a1', '.sh')).toBe('/r/scripts/lab_77_a1.sh');
  });
});
