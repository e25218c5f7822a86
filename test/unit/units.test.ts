import { describe, expect, it } from 'vitest';
import { decodeWaitStatus, parseExitSignal } from '../../core/exit-status.ts';
import {
  formatBytes,
  formatIsoDuration,
  formatSlurmClock,
  formatSlurmMemory,
  formatSlurmTime,
  formatTorcMemory,
  GiB,
  KiB,
  MiB,
  parseIsoDuration,
  parseSlurmMemory,
  parseSlurmTime,
  parseTorcMemory,
  TiB,
} from '../../core/units.ts';

describe('Torc memory', () => {
  it.each([
    ['8g', 8 * GiB],
    ['200m', 200 * MiB],
    ['512K', 512 * KiB],
    ['1t', TiB],
    ['4096', 4096],
    [' 2G ', 2 * GiB],
  ])('parses %j', (input, bytes) => expect(parseTorcMemory(input)).toBe(bytes));

  it.each(['1.5g', '8gb', '512b', '', 'g', '-1g', '8 g'])('rejects %j and quotes it', (input) => {
    expect(() => parseTorcMemory(input)).toThrow(JSON.stringify(input));
  });

  it.each([
    [12 * GiB, '12g'],
    [300 * MiB, '300m'],
    [1.5 * GiB, '1536m'],
    [200 * MiB + 1, '201m'],
    [TiB, '1t'],
    [1, '1m'],
  ])('formats %d bytes as %s, rounding up', (bytes, text) => expect(formatTorcMemory(bytes)).toBe(text));

  it.each(['8g', '200m', '1536m', '3t', '1g'])('round-trips %s', (s) => {
    expect(formatTorcMemory(parseTorcMemory(s))).toBe(s);
  });
});

describe('Slurm memory', () => {
  it.each([
    ['200M', 200 * MiB],
    ['200', 200 * MiB],
    ['1G', GiB],
    ['249344K', 249344 * KiB],
    ['4000Mn', 4000 * MiB],
    ['1.50G', 1.5 * GiB],
    ['0', 0],
  ])('parses %j', (input, bytes) => expect(parseSlurmMemory(input)).toBe(bytes));

  it('reads MaxRSS with a KiB default unit', () => expect(parseSlurmMemory('1024', 'K')).toBe(MiB));
  it.each(['', 'lots', '1,5G', '12X'])('rejects %j', (input) => {
    expect(() => parseSlurmMemory(input)).toThrow(/invalid Slurm memory/);
  });
  it.each([
    [300 * MiB, '300M'],
    [12 * GiB, '12G'],
    [300 * MiB + 10, '301M'],
  ])('formats %d as %s', (bytes, text) => expect(formatSlurmMemory(bytes)).toBe(text));
  it('round-trips', () => expect(formatSlurmMemory(parseSlurmMemory('750M'))).toBe('750M'));
});

describe('formatBytes', () => {
  it.each([
    [GiB * 11.85, '11.85 GiB'],
    [249.5 * MiB, '249.5 MiB'],
    [10 * KiB, '10 KiB'],
  ])('%d → %s', (b, s) => expect(formatBytes(b)).toBe(s));
});

describe('ISO 8601 durations', () => {
  it.each([
    ['PT1H', 3600],
    ['PT1H30M', 5400],
    ['P1D', 86_400],
    ['P1DT12H', 129_600],
    ['PT48H', 172_800],
    ['PT90S', 90],
    ['PT1.9S', 1],
    ['P1W', 604_800],
    ['P1M', 2_629_800],
    ['P1Y', 31_557_600],
    ['P0DT1M', 60],
    // Forms Torc's server accepts too: a fraction in any component, an empty time part.
    ['PT1.5H', 5400],
    ['PT0,5M', 30],
    ['P0.5D', 43_200],
    ['PT', 0],
    ['P0D', 0],
  ])('parses %s', (input, seconds) => expect(parseIsoDuration(input)).toBe(seconds));

  it.each(['', 'P', 'pt1h', 'PT1H junk', '1h', 'PT-1H', 'PT1.H', 'T1H'])(
    'rejects %j and quotes it',
    (input) => {
      expect(() => parseIsoDuration(input)).toThrow(JSON.stringify(input));
    },
  );

  it.each([
    [5040, 'PT1H24M'],
    [3600, 'PT1H'],
    [129_600, 'P1DT12H'],
    [30, 'PT1M'],
    [105, 'PT2M'],
    [86_400, 'P1D'],
    [0, 'PT1M'],
  ])('formats %d s as %s, rounding up to minutes', (s, text) => expect(formatIsoDuration(s)).toBe(text));

  it.each(['PT1H24M', 'P2DT3H5M', 'PT7M'])('round-trips %s', (s) => {
    expect(formatIsoDuration(parseIsoDuration(s))).toBe(s);
  });
});

describe('Slurm time', () => {
  it.each([
    ['1', 60],
    ['90', 5400],
    ['1:30', 90],
    ['01:00:00', 3600],
    ['2-00', 172_800],
    ['1-02:30', 95_400],
    ['10-00:00:00', 864_000],
    ['00:01:23.456', 83],
    ['UNLIMITED', Number.POSITIVE_INFINITY],
    ['INFINITE', Number.POSITIVE_INFINITY],
  ])('parses %s', (input, seconds) => expect(parseSlurmTime(input)).toBe(seconds));

  it.each(['', '1h', 'a:b', '1-', '-5', '1:2:3:4'])('rejects %j', (input) => {
    expect(() => parseSlurmTime(input)).toThrow(`"${input}"`);
  });

  it.each([
    [84, '2'],
    [60, '1'],
    [1, '1'],
    [3600, '01:00:00'],
    [93_600, '1-02:00:00'],
    [3601, '01:01:00'],
  ])('formats %d s as --time=%s, rounding up to minutes', (s, text) => expect(formatSlurmTime(s)).toBe(text));

  it('formats exact clocks', () => {
    expect(formatSlurmClock(864_000)).toBe('10-00:00:00');
    expect(formatSlurmClock(14_400)).toBe('04:00:00');
    expect(formatSlurmClock(Number.POSITIVE_INFINITY)).toBe('UNLIMITED');
  });

  it.each(['2', '01:30:00', '2-00:00:00'])('round-trips %s', (s) => {
    expect(formatSlurmTime(parseSlurmTime(s))).toBe(s);
  });
});

describe('exit statuses', () => {
  it.each([
    ['0:0', 0, 0],
    ['3:0', 3, 0],
    ['0:125', 0, 125],
    ['0:9', 0, 9],
  ])('parses exit:signal %s', (input, exitCode, signal) => {
    expect(parseExitSignal(input)).toEqual({ exitCode, signal });
  });
  it('rejects a bad exit:signal', () => expect(() => parseExitSignal('3')).toThrow('"3"'));
  it.each([
    [768, 3, 0],
    [253, 0, 125],
    [9, 0, 9],
    [0, 0, 0],
    [15, 0, 15],
  ])('decodes wait status %d', (status, exitCode, signal) => {
    expect(decodeWaitStatus(status)).toEqual({ exitCode, signal });
  });
  it('rejects a negative wait status', () => expect(() => decodeWaitStatus(-1)).toThrow(/wait status/));
});
