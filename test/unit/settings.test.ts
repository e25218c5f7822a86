import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../local/settings.ts';

// The shared secret signs every event: a short one or one others may read is refused at start, with the
// fix in words; the data folder (database, captured scripts, secret) is made private on every start.

const folder = () => mkdtempSync(join(tmpdir(), 'rebound-settings-'));

describe('local settings', () => {
  it('generates a 64-character secret (0600) on first start and makes an existing data folder 0700', () => {
    const data = join(folder(), 'data');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const s = loadSettings({ REBOUND_DATA: data });
    expect(s.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(s.secretFile).mode & 0o777).toBe(0o600);
    expect(statSync(data).mode & 0o777).toBe(0o700);
  });

  it.each([
    ['short', 'too-short', 0o600, 'the secret is 9 bytes; at least 32 are needed'],
    ['empty', '\n', 0o600, 'the secret is empty'],
    ['readable by others', 'x'.repeat(40), 0o644, 'is readable by others (mode 0644); chmod 600 it'],
  ])('refuses a %s secret file', (_what, content, mode, message) => {
    const dir = folder();
    const file = join(dir, 'secret');
    writeFileSync(file, content, { mode });
    chmodSync(file, mode);
    expect(() => loadSettings({ REBOUND_DATA: join(dir, 'data'), REBOUND_SECRET_FILE: file })).toThrow(
      message,
    );
  });
});
