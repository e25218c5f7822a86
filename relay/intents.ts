import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { pathIn, readStateFile, writeFileAtomic, writeFileAtomicAsync } from './state-file.ts';

const IntentSchema = z.union([
  z.object({ state: z.literal('submitting'), at: z.number() }),
  z.object({ state: z.literal('submitted'), at: z.number(), jobId: z.string().regex(/^\d+$/) }),
]);
export type Intent = z.infer<typeof IntentSchema>;

/** Long after any command could be delivered again (the queues keep a message for days, not weeks). */
const KEEP_MS = 14 * 86_400_000;

/**
 * The relay's own word on "did I already submit this?": written (fsync'd) before each sbatch and again
 * with the job id after it, one file per command. A command delivered again is answered from here without
 * asking Slurm; only a command whose sbatch was under way when the relay stopped (`submitting`) needs
 * Slurm's word (relay/slurm-executor.ts).
 */
export class IntentJournal {
  private purgedAt = 0;
  /** When this journal was started: a command from before it may have been submitted by a relay without one. */
  private readonly since: number;

  constructor(
    private readonly dir: string,
    now = Date.now(),
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const started = readStateFile(join(dir, 'since'), z.number());
    this.since = started.kind === 'ok' ? started.value : now;
    if (started.kind !== 'ok') writeFileAtomic(join(dir, 'since'), JSON.stringify(this.since));
  }

  /**
   * What this relay did about a command created at `createdAt`. Unknown (`submitting`: ask Slurm) for a
   * damaged entry, or a command older than the journal (from a relay before 0.4, or another data folder).
   */
  read(commandId: string, createdAt: number): Intent | undefined {
    const read = readStateFile(pathIn(this.dir, commandId, '.json'), IntentSchema);
    if (read.kind === 'ok') return read.value;
    return read.kind === 'corrupt' || createdAt < this.since ? { state: 'submitting', at: 0 } : undefined;
  }

  /** Durable (fsync'd) when it resolves: only then may the sbatch run. */
  submitting(commandId: string, now = Date.now()): Promise<void> {
    return this.write(commandId, { state: 'submitting', at: now });
  }

  async submitted(commandId: string, jobId: string, now = Date.now()): Promise<void> {
    await this.write(commandId, { state: 'submitted', at: now, jobId });
    if (now - this.purgedAt > 3_600_000) this.purge(now);
  }

  private write(commandId: string, intent: Intent): Promise<void> {
    return writeFileAtomicAsync(pathIn(this.dir, commandId, '.json'), JSON.stringify(intent));
  }

  /** Forgets entries older than any redelivery (checked at most hourly, as submissions go). */
  purge(now = Date.now()): void {
    this.purgedAt = now;
    if (!existsSync(this.dir)) return;
    for (const name of readdirSync(this.dir)) {
      if (name === 'since') continue;
      const path = join(this.dir, name);
      if (now - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { force: true });
    }
  }
}
