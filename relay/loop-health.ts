/** What /healthz and `rebound status` say of one of the relay's loops. */
export interface LoopHealth {
  lastSuccessAt?: string;
  lastError?: { at: string; message: string };
}

/**
 * A loop's record of how it goes: its last success and last error for people, and one log line per
 * episode — the first failure of a kind, and the recovery — instead of one per retry.
 */
export class LoopRecord {
  readonly health: LoopHealth = {};
  private episode?: string;
  failures = 0;

  constructor(
    private readonly name: string,
    private readonly log: (line: string) => void,
  ) {}

  succeeded(now = new Date()): void {
    this.health.lastSuccessAt = now.toISOString();
    if (this.episode) this.log(`${this.name}: working again (after: ${this.episode})`);
    this.episode = undefined;
    this.failures = 0;
  }

  failed(error: unknown, retryInMs: number, now = new Date()): void {
    const message = error instanceof Error ? error.message : String(error);
    this.health.lastError = { at: now.toISOString(), message };
    this.failures++;
    if (message === this.episode) return;
    this.episode = message;
    this.log(
      `${this.name}: ${message} (retrying in ${Math.ceil(retryInMs / 1000)} s, and logged again only if it changes)`,
    );
  }
}

/** Exponential backoff from `baseMs` up to `maxMs`, with jitter (50–100 %) so relays do not retry in step. */
export const backoffMs = (failures: number, baseMs: number, maxMs: number, random = Math.random()) =>
  Math.round(Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1)) * (0.5 + random / 2));
