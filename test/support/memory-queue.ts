import type { MessageQueue, QueueMessage } from '../../core/ports.ts';

// A MessageQueue in memory with the contract's semantics (at-least-once, visibility timeout, dead letters
// after maxReceives, a repeated id ignored), for service tests. Passes test/contract/queue.contract.ts.

interface Slot<T> {
  id: string;
  body: T;
  group?: string;
  visibleAt: number;
  receives: number;
  state: 'ready' | 'done' | 'dead';
}

export class MemoryQueue<T> implements MessageQueue<T> {
  private readonly slots: Slot<T>[] = [];
  private readonly ids = new Set<string>();
  /** Every id given to `send`, repeats included (a re-send is visible to a test). */
  readonly offered: string[] = [];

  constructor(private readonly maxReceives = 5) {}

  async send(messages: { id: string; body: T; group?: string }[]) {
    for (const m of messages) {
      this.offered.push(m.id);
      if (this.ids.has(m.id)) continue;
      this.ids.add(m.id);
      this.slots.push({ ...m, body: structuredClone(m.body), visibleAt: 0, receives: 0, state: 'ready' });
    }
  }

  async receive(max: number, visibilitySeconds: number): Promise<QueueMessage<T>[]> {
    const now = Date.now();
    const out: QueueMessage<T>[] = [];
    for (const [seq, s] of this.slots.entries()) {
      if (out.length >= max) break;
      if (s.state !== 'ready' || s.visibleAt > now) continue;
      if (s.receives >= this.maxReceives) {
        s.state = 'dead';
        continue;
      }
      s.receives++;
      s.visibleAt = now + visibilitySeconds * 1000;
      out.push({ body: structuredClone(s.body), receipt: `${seq}:${s.receives}`, receiveCount: s.receives });
    }
    return out;
  }

  async delete(receipt: string) {
    const [seq, receives] = receipt.split(':').map(Number);
    const s = this.slots[seq!];
    if (s?.state === 'ready' && s.receives === receives) s.state = 'done';
  }

  async deadLetters() {
    return this.slots.filter((s) => s.state === 'dead').map((s) => structuredClone(s.body));
  }

  /** What was sent and not yet deleted, oldest first (what a test asserts on). */
  pending(): T[] {
    return this.slots.filter((s) => s.state === 'ready').map((s) => s.body);
  }

  /** Everything ever sent, in order. */
  sent(): T[] {
    return this.slots.map((s) => s.body);
  }
}
