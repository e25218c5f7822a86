import { UnitParseError } from './errors.ts';

// Memory everywhere inside Rebound is bytes; durations are seconds. Strings exist only at the edges:
// Torc resource requirements (memory "12g", runtime ISO 8601) and Slurm (--mem "300M", --time "2").
// Every formatter that produces a limit rounds UP, so a grown limit never ends below what was asked.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
export const MINUTE = 60;
export const HOUR = 3600;
export const DAY = 86_400;

const BINARY: Record<string, number> = { '': 1, k: KiB, m: MiB, g: GiB, t: TiB, p: 1024 * TiB };

/** Torc's memory form: an integer and at most one of k/m/g/t (binary). The server rejects "1.5g" and "8gb". */
export function parseTorcMemory(input: string): number {
  const m = /^(\d+)([kmgt])?$/i.exec(input.trim());
  if (!m)
    throw new UnitParseError('Torc memory', input, 'expected an integer with an optional k/m/g/t suffix');
  return Number(m[1]) * BINARY[(m[2] ?? '').toLowerCase()]!;
}

/** Bytes → Torc memory, rounded up to whole MiB and shown in the largest unit that divides it exactly. */
export function formatTorcMemory(bytes: number): string {
  const mib = Math.max(1, Math.ceil(bytes / MiB));
  if (mib % (1024 * 1024) === 0) return `${mib / (1024 * 1024)}t`;
  if (mib % 1024 === 0) return `${mib / 1024}g`;
  return `${mib}m`;
}

/**
 * Slurm's memory form (--mem, ReqMem, MaxRSS): a number with an optional K/M/G/T/P suffix; no suffix means
 * MiB for requests. sacct may append "n" (per node) or "c" (per CPU) to ReqMem.
 */
export function parseSlurmMemory(input: string, defaultUnit: 'K' | 'M' = 'M'): number {
  const m = /^(\d+(?:\.\d+)?)([KMGTP])?([nc])?$/i.exec(input.trim());
  if (!m)
    throw new UnitParseError('Slurm memory', input, 'expected a number with an optional K/M/G/T suffix');
  return Math.round(Number(m[1]) * BINARY[(m[2] ?? defaultUnit).toLowerCase()]!);
}

/** Bytes → a Slurm --mem value, rounded up to whole MiB ("300M", or "12G" when exact). */
export function formatSlurmMemory(bytes: number): string {
  const mib = Math.max(1, Math.ceil(bytes / MiB));
  return mib % 1024 === 0 ? `${mib / 1024}G` : `${mib}M`;
}

/** Human form for reports: "249.5 MiB", "11.85 GiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= TiB) return `${(bytes / TiB).toFixed(2)} TiB`;
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${Math.round(bytes / KiB)} KiB`;
}

// Torc's constants for calendar units (src/time_utils.rs), so a runtime means the same seconds on both sides.
const ISO_UNITS = { Y: 31_557_600, M: 2_629_800, W: 604_800, D: DAY, H: HOUR, TM: MINUTE, S: 1 } as const;
const N = '(\\d+(?:[.,]\\d+)?)';
const ISO_RE = new RegExp(`^P(?:${N}Y)?(?:${N}M)?(?:${N}W)?(?:${N}D)?(?:T(?:${N}H)?(?:${N}M)?(?:${N}S)?)?$`);

/**
 * ISO 8601 duration (Torc runtime) → seconds, in the forms Torc's server accepts: a fraction in any
 * component (`PT1.5H`), and a time part with nothing in it (`PT`, zero). Stricter than Torc only where
 * Torc's parser silently ignores trailing text. The fraction of the last second is dropped, as Torc does.
 */
export function parseIsoDuration(input: string): number {
  const text = input.trim();
  const m = ISO_RE.exec(text);
  if (!m || text === 'P') {
    throw new UnitParseError('ISO 8601 duration', input, 'expected a form such as PT1H30M or P1DT12H');
  }
  const [, y, mo, w, d, h, mi, s] = m;
  const n = (g: string | undefined) => (g === undefined ? 0 : Number(g.replace(',', '.')));
  return Math.floor(
    n(y) * ISO_UNITS.Y +
      n(mo) * ISO_UNITS.M +
      n(w) * ISO_UNITS.W +
      n(d) * ISO_UNITS.D +
      n(h) * ISO_UNITS.H +
      n(mi) * ISO_UNITS.TM +
      n(s),
  );
}

/** Seconds → ISO 8601, rounded up to whole minutes (at least PT1M): "PT1H24M", "P1DT12H". */
export function formatIsoDuration(seconds: number): string {
  const total = Math.max(1, Math.ceil(seconds / MINUTE));
  const d = Math.floor(total / 1440);
  const h = Math.floor((total % 1440) / 60);
  const m = total % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}`;
  return `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
}

/**
 * Every Slurm time form → seconds: "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS"; sacct's
 * Elapsed may carry fractional seconds. UNLIMITED/INFINITE → Infinity.
 */
export function parseSlurmTime(input: string): number {
  return Math.floor(parseSlurmSeconds(input));
}

/** As parseSlurmTime, keeping fractions of a second (sacct's TotalCPU: "00:00.337"). */
export function parseSlurmSeconds(input: string): number {
  const s = input.trim();
  if (/^(UNLIMITED|INFINITE)$/i.test(s)) return Number.POSITIVE_INFINITY;
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+(?:\.\d+)?))?$/.exec(s);
  if (!m)
    throw new UnitParseError(
      'Slurm time',
      input,
      'expected MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS',
    );
  const [, days, a, b, c] = m;
  const parts = [a, b, c].filter((p): p is string => p !== undefined).map(Number);
  let seconds: number;
  if (days !== undefined) {
    // With a day prefix the fields are hours[:minutes[:seconds]].
    const [h = 0, mi = 0, se = 0] = parts;
    seconds = Number(days) * DAY + h * HOUR + mi * MINUTE + se;
  } else if (parts.length === 1) seconds = parts[0]! * MINUTE;
  else if (parts.length === 2) seconds = parts[0]! * MINUTE + parts[1]!;
  else seconds = parts[0]! * HOUR + parts[1]! * MINUTE + parts[2]!;
  return seconds;
}

/** Seconds → a Slurm --time value rounded up to whole minutes: "2" below an hour, else "[D-]HH:MM:SS". */
export function formatSlurmTime(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / MINUTE));
  return minutes < 60 ? String(minutes) : formatSlurmClock(minutes * MINUTE);
}

/** Exact seconds as "HH:MM:SS", or "D-HH:MM:SS" from a day up (partition limits, walltimes). */
export function formatSlurmClock(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'UNLIMITED';
  const s = Math.ceil(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  const d = Math.floor(s / DAY);
  const clock = `${pad(Math.floor((s % DAY) / HOUR))}:${pad(Math.floor((s % HOUR) / MINUTE))}:${pad(s % MINUTE)}`;
  return d ? `${d}-${clock}` : clock;
}
