import { pushTo } from '../core/group-by.ts';

/**
 * Many askers, one Slurm call: keys asked for within `delayMs` of the first are fetched together, and each
 * asker gets its own key's answer (undefined when the fetch had none). One fetch at a time: keys asked
 * while one runs wait for it to end and go together in the next, so the busier Slurm is, the larger the
 * rounds. A failed fetch fails every asker of that round. Used for the per-job questions the relay asks
 * slurmctld and slurmdbd (relay/slurm-lookups.ts).
 */
export class Coalesced<V> {
  private asked = new Map<string, { resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[]>();
  private timer?: NodeJS.Timeout;
  private fetching = false;

  constructor(
    private readonly fetch: (keys: string[]) => Promise<Map<string, V>>,
    private readonly delayMs = 20,
  ) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      pushTo(this.asked, key, { resolve, reject });
      this.schedule(this.delayMs);
    });
  }

  private schedule(delayMs: number): void {
    if (this.fetching || this.timer || this.asked.size === 0) return;
    this.timer = setTimeout(() => void this.flush(), delayMs);
  }

  private async flush(): Promise<void> {
    const round = this.asked;
    this.asked = new Map();
    this.timer = undefined;
    this.fetching = true;
    try {
      const answers = await this.fetch([...round.keys()]);
      for (const [key, askers] of round) for (const a of askers) a.resolve(answers.get(key));
    } catch (error) {
      for (const askers of round.values()) for (const a of askers) a.reject(error);
    } finally {
      this.fetching = false;
      this.schedule(0);
    }
  }
}
