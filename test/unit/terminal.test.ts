import { describe, expect, it } from 'vitest';
import { printable, printableCell } from '../../cli/terminal.ts';

// `rebound status`/`history` print job names and hook output: a name like this one must not reach the
// terminal as escape sequences (here: clear the screen, set the window title, fake a prompt).
const hostile = 'job\u001b[2J\u001b]0;pwned\u0007\rroot# \u009b31m';

describe('terminal output', () => {
  it('replaces control characters, keeping line breaks and tabs in text', () => {
    expect(printable(`${hostile}\n\tnext`)).toBe(
      'job\uFFFD[2J\uFFFD]0;pwned\uFFFD\uFFFDroot# \uFFFD31m\n\tnext',
    );
  });

  it('replaces line breaks too inside a table cell, where one would forge a row', () => {
    expect(printableCell('a\nb\tc')).toBe('a\uFFFDb\tc');
  });
});
