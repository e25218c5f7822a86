import { describe, expect, it } from 'vitest';
import type { MessageQueue } from '../../core/ports.ts';

type Body = { n: number };

/**
 * The MessageQueue contract: at-least-once, visibility timeout, redelivery, dead letters, and — where the
 * queue promises it (`oncePerId`) — dedupe by id. AWS's events queue does not: a standard queue delivers at
 * least once whatever its sender does, so there the worker makes a repeat harmless (service/dispatch.ts).
 */
export function queueContract(
  name: string,
  make: (maxReceives: number) => Promise<MessageQueue<Body>>,
  { oncePerId = true } = {},
) {
  describe(`MessageQueue contract: ${name}`, () => {
    it(`delivers what was sent${oncePerId ? ', once per id,' : ''} and forgets deleted messages`, async () => {
      const q = await make(5);
      await q.send([
        { id: 'a', body: { n: 1 } },
        { id: 'b', body: { n: 2 } },
      ]);
      await q.send([{ id: 'a', body: { n: 99 } }]);
      const got: Body[] = [];
      for (let batch = await q.receive(10, 30); batch.length; batch = await q.receive(10, 30)) {
        got.push(...batch.map((m) => m.body));
        for (const m of batch) await q.delete(m.receipt);
      }
      expect(got.map((b) => b.n).sort((x, y) => x - y)).toEqual(oncePerId ? [1, 2] : [1, 2, 99]);
      await q.send([{ id: 'a', body: { n: 100 } }]);
      expect((await q.receive(10, 30)).map((m) => m.body.n)).toEqual(oncePerId ? [] : [100]);
    });

    it('redelivers a message not deleted within its visibility timeout', async () => {
      const q = await make(5);
      await q.send([{ id: 'r', body: { n: 1 } }]);
      const [first] = await q.receive(1, 1);
      expect(first!.receiveCount).toBe(1);
      expect(await q.receive(1, 1)).toEqual([]);
      await new Promise((r) => setTimeout(r, 1100));
      const [again] = await q.receive(1, 30);
      expect(again!.body).toEqual({ n: 1 });
      expect(again!.receiveCount).toBe(2);
      await q.delete(again!.receipt);
    });

    it('moves a message aside after too many receives', async () => {
      const q = await make(2);
      await q.send([{ id: 'd', body: { n: 7 } }]);
      for (let i = 0; i < 2; i++) {
        expect(await q.receive(1, 0)).toHaveLength(1);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(await q.receive(1, 0)).toEqual([]);
      expect(await q.deadLetters()).toEqual([{ n: 7 }]);
    });
  });
}
