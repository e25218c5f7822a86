import { describe, expect, it } from 'vitest';
import { ReboundProcess } from './harness.ts';

// The harness itself: a `rebound start` that dies fails the wait at once, with its own words.
describe('the e2e harness', () => {
  it('a second Rebound on a port in use fails at once, saying so', async () => {
    const first = new ReboundProcess(18_798, {}, { env: { REBOUND_SACCT_INTERVAL: '0' } });
    const second = new ReboundProcess(18_798, {}, { env: { REBOUND_SACCT_INTERVAL: '0' } });
    await first.start();
    try {
      const startedAt = Date.now();
      const failure = await second.start().catch((e: Error) => e);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toContain('rebound start exited (1) before it listened');
      expect((failure as Error).message).toContain('cannot listen on 127.0.0.1:18798: the address is in use');
      expect(Date.now() - startedAt).toBeLessThan(15_000);
    } finally {
      await first.dispose();
      await second.dispose();
    }
  }, 30_000);
});
