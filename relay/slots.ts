/**
 * At most `size` holders at once; the others wait in order of arrival. Slurm's commands go through one
 * (relay/exec.ts): however many commands the relay runs, slurmctld and slurmdbd see a bounded number.
 */
export class Slots {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private size: number) {}

  resize(size: number): void {
    this.size = size;
    while (this.held < this.size && this.waiting.length) {
      this.held++;
      this.waiting.shift()!();
    }
  }

  /** Resolves when a slot is free, with the function that frees it (call it exactly once). */
  async take(): Promise<() => void> {
    if (this.held < this.size) this.held++;
    else await new Promise<void>((r) => this.waiting.push(r));
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
  }

  get inUse(): number {
    return this.held;
  }
}
