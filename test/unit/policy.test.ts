import { describe, expect, it } from 'vitest';
import { parsePolicy, policyFor } from '../../core/policy.ts';

describe('policy', () => {
  it('has the documented defaults', () => {
    const p = parsePolicy({});
    expect(p).toMatchObject({
      memoryMultiplier: 1.5,
      runtimeMultiplier: 1.4,
      maxRetries: 3,
      retryUnknown: false,
      retryTransient: true,
      autoSchedule: { enabled: true, threshold: 5, cooldownSeconds: 1800, strandedTimeoutSeconds: 7200 },
      overrides: {},
    });
    expect(p.unknownFailureHook).toBeUndefined();
  });

  it.each([
    [{ memoryMultiplier: 0.9 }, 'policy.memoryMultiplier: must be greater than 1'],
    [{ runtimeMultiplier: 1 }, 'policy.runtimeMultiplier: must be greater than 1'],
    [{ maxRetries: -1 }, 'policy.maxRetries'],
    [{ autoSchedule: { threshold: 0 } }, 'policy.autoSchedule.threshold'],
    [{ unknownFailureHook: 'rm -rf /' }, 'policy.unknownFailureHook'],
    [{ overrides: { wf: { maxRetries: 'three' } } }, 'policy.overrides.wf.maxRetries'],
    [{ maxRetry: 3 }, 'policy'],
    // The key is the workload a tag or `rebound watch` makes; "torc:7" never matched anything.
    [{ overrides: { 'torc:7': { maxRetries: 1 } } }, 'policy.overrides.torc:7: not a workload'],
    [{ overrides: { '~untagged': { maxRetries: 1 } } }, 'policy.overrides.~untagged: not a workload'],
    [{ overrides: { 'torc-wfx': { maxRetries: 1 } } }, 'policy.overrides.torc-wfx: not a workload'],
  ])('rejects %j naming the field', (input, path) => {
    expect(() => parsePolicy(input)).toThrow(path);
  });

  it('applies a per-workload override over the defaults', () => {
    const p = parsePolicy({
      maxRetries: 3,
      overrides: { 'torc-wf7': { maxRetries: 1, autoSchedule: { cooldownSeconds: 5 } } },
    });
    expect(policyFor(p, 'torc-wf7')).toMatchObject({
      maxRetries: 1,
      memoryMultiplier: 1.5,
      autoSchedule: { cooldownSeconds: 5, threshold: 5 },
    });
    expect(policyFor(p, 'other').maxRetries).toBe(3);
  });
});
