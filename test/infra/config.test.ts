import { describe, expect, it } from 'vitest';
import { serviceConfig } from '../../infra/config.ts';

describe('the policy in sst.config.ts', () => {
  it('is validated with the core schema when the config is evaluated: a bad value names its path', () => {
    expect(JSON.parse(serviceConfig({ policy: { maxRetries: 2 }, profile: 'kestrel' }))).toMatchObject({
      policy: { maxRetries: 2 },
    });
    expect(() => serviceConfig({ policy: { memoryMultiplier: 0.9 } })).toThrow(
      /config\.policy\.memoryMultiplier: must be greater than 1/,
    );
    expect(() => serviceConfig({ profile: 'perlmutter' })).toThrow(/unknown profile "perlmutter"/);
  });
});
