import * as z from 'zod';
import { UnitParseError } from './errors.ts';
import type { EventOf, SlurmJobEvent } from './events.ts';
import { decodeWaitStatus, parseExitSignal } from './exit-status.ts';
import { assertNever } from './never.ts';
import { TorcResultStatusSchema } from './torc-model.ts';
import {
  parseIsoDuration,
  parseSlurmMemory,
  parseSlurmSeconds,
  parseSlurmTime,
  parseTorcMemory,
} from './units.ts';

/** Everything known about how one job ended, normalised from any source; diagnosis reads only this. */
const JobEvidenceSchema = z.object({
  /** Slurm's final job state, first word only ("CANCELLED by 0" → "CANCELLED"). Absent for epilog events. */
  slurmState: z.string().optional(),
  /** Who cancelled it, as Slurm's state says ("CANCELLED by 1501": a uid). */
  cancelledByUid: z.number().int().nonnegative().optional(),
  slurmReason: z.string().optional(),
  exitCode: z.number().int().optional(),
  signal: z.number().int().optional(),
  torcStatus: TorcResultStatusSchema.optional(),
  torcReturnCode: z.number().int().optional(),
  peakMemoryBytes: z.number().nonnegative().optional(),
  memoryLimitBytes: z.number().positive().optional(),
  elapsedSeconds: z.number().nonnegative().optional(),
  timeLimitSeconds: z.number().positive().optional(),
  /** CPU time used (sacct's TotalCPU), for the utilization report. */
  cpuSeconds: z.number().nonnegative().optional(),
  /** The nodes it ran on, as a Slurm host list (a node failure's retry keeps off them). */
  nodes: z.string().optional(),
});
export type JobEvidence = z.infer<typeof JobEvidenceSchema>;

const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !Number.isNaN(v))) as T;

/** A value a source could not give (empty, "Unknown", garbage) is absent evidence, not a failed event. */
function optional<T>(value: string | undefined, parse: (s: string) => T): T | undefined {
  if (value === undefined || value.trim() === '' || /^(Unknown|N\/A|None)$/i.test(value.trim()))
    return undefined;
  try {
    return parse(value);
  } catch (error) {
    if (error instanceof UnitParseError) return undefined;
    throw error;
  }
}

/** Slurm's state in its two parts: the state, and for a cancellation the uid that cancelled it. */
function stateFields(state: string): Pick<JobEvidence, 'slurmState' | 'cancelledByUid'> {
  const [first, by, uid] = state.trim().split(/\s+/);
  return {
    slurmState: first!.toUpperCase(),
    ...(by === 'by' && uid !== undefined && /^\d+$/.test(uid) ? { cancelledByUid: Number(uid) } : {}),
  };
}

/** Evidence carried by one Slurm event. Later events for the same job are merged over earlier ones. */
export function evidenceFromSlurmEvent(event: SlurmJobEvent): JobEvidence {
  switch (event.type) {
    case 'slurm.jobcomp': {
      const d = event.data;
      const limit = optional(d.timeLimit, parseSlurmTime);
      return defined({
        ...stateFields(d.state),
        ...exitFields(d.exitCode),
        elapsedSeconds:
          d.startedAt !== undefined && d.endedAt !== undefined && d.startedAt > 0
            ? d.endedAt - d.startedAt
            : undefined,
        timeLimitSeconds: limit !== undefined && Number.isFinite(limit) ? limit : undefined,
        nodes: hostList(d.nodes),
      });
    }
    case 'slurm.epilog': {
      const d = event.data;
      const fromRaw = d.rawExitStatus !== undefined ? decodeWaitStatus(d.rawExitStatus) : undefined;
      return defined({ ...(d.exitCode ? exitFields(d.exitCode) : fromRaw) });
    }
    case 'slurm.sacct': {
      const d = event.data;
      const limit = optional(d.timeLimit, parseSlurmTime);
      return defined({
        ...stateFields(d.state),
        slurmReason: d.reason && d.reason !== 'None' ? d.reason : undefined,
        ...exitFields(d.exitCode),
        peakMemoryBytes: optional(d.maxRss, (s) => parseSlurmMemory(s, 'K')),
        memoryLimitBytes: optional(d.reqMem, (s) => parseSlurmMemory(s)) || undefined,
        elapsedSeconds: optional(d.elapsed, parseSlurmTime),
        timeLimitSeconds: limit !== undefined && Number.isFinite(limit) ? limit : undefined,
        cpuSeconds: optional(d.totalCpu, parseSlurmSeconds),
        nodes: hostList(d.nodes),
      });
    }
    default:
      return assertNever(event, 'Slurm event');
  }
}

/** A host list as Slurm writes one, or nothing (a job that never ran has `None assigned`, `(null)`). */
const hostList = (nodes: string | undefined) =>
  nodes && /^[A-Za-z0-9_.,[\]-]{1,1000}$/.test(nodes) ? nodes : undefined;

function exitFields(text: string): { exitCode?: number; signal?: number } {
  // jobcomp may give "exit:signal" or a bare raw wait status depending on the Slurm build.
  if (/^\d+$/.test(text.trim())) return decodeWaitStatus(Number(text));
  return optional(text, parseExitSignal) ?? {};
}

/** Evidence from a Torc job result plus its resource requirements. */
export function evidenceFromTorcEvent(event: EventOf<'torc.job.finished'>): JobEvidence {
  const d = event.data;
  return defined({
    torcStatus: d.status,
    torcReturnCode: d.returnCode,
    peakMemoryBytes: d.peakMemoryBytes,
    memoryLimitBytes: optional(d.resourceRequirements?.memory, parseTorcMemory),
    elapsedSeconds: d.execTimeMinutes * 60,
    timeLimitSeconds: optional(d.resourceRequirements?.runtime, parseIsoDuration),
  });
}

/** Later, more complete evidence wins field by field; a field it lacks keeps the earlier value. */
export function mergeEvidence(earlier: JobEvidence, later: JobEvidence): JobEvidence {
  return { ...earlier, ...defined(later) };
}
