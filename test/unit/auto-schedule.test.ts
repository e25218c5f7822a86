import { describe, expect, it } from 'vitest';
import {
  type AutoScheduleState,
  decideAutoSchedule,
  type TorcCensus,
  trackReady,
} from '../../core/auto-schedule.ts';
import { parsePolicy, policyFor } from '../../core/policy.ts';
import { parseProfile } from '../../core/profiles.ts';

const LAB = parseProfile({
  name: 'lab',
  displayName: 'Lab',
  partitions: [{ name: 'long', cpusPerNode: 2, memoryMb: 20_000, maxWalltimeSeconds: 'UNLIMITED' }],
});
const policy = (over: object = {}) =>
  policyFor(
    parsePolicy({
      autoSchedule: { threshold: 2, cooldownSeconds: 60, strandedTimeoutSeconds: 600, ...over },
    }),
    'w',
  ).autoSchedule;
const RR = { id: 3, name: 'small', memory: '200m', runtime: 'PT1M', numCpus: 1, numGpus: 0, numNodes: 1 };
const T0 = new Date('2026-11-25T12:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const census = (over: Partial<TorcCensus> = {}): TorcCensus => ({
  workflowId: 7,
  observedAt: T0.toISOString(),
  liveAllocations: 1,
  pendingFailed: 0,
  active: 0,
  ready: [],
  resourceRequirements: [RR],
  ...over,
});
const fresh: AutoScheduleState = { count: 0, readySince: {} };
const retry = (id: number) => ({ id, rrId: 3, attemptId: 2 });
const first = (id: number) => ({ id, rrId: 3, attemptId: 1 });
const decide = (c: TorcCensus, s: AutoScheduleState, now: Date, p = policy()) =>
  decideAutoSchedule(c, s, p, LAB, now, 90);

describe('auto-schedule', () => {
  it('with no live allocation schedules every ready job at once, without a cooldown', () => {
    const d = decide(census({ liveAllocations: 0, ready: [first(1), first(2), first(3)] }), fresh, at(1));
    expect(d).toMatchObject({ schedule: true, jobIds: [1, 2, 3] });
    if (d.schedule)
      expect(d.allocations).toMatchObject([
        { rr: 'small', count: 2, jobsPerAllocation: 2, name: 'small_s1', walltime: '00:03:00' },
      ]);
  });

  it('while allocations live, waits for `threshold` retry jobs and schedules only those', () => {
    const one = census({ ready: [retry(1), first(2)] });
    expect(decide(one, fresh, at(1))).toMatchObject({
      schedule: false,
      why: expect.stringContaining('below threshold 2'),
    });
    const two = census({ ready: [retry(1), retry(4), first(2)] });
    expect(decide(two, fresh, at(1))).toMatchObject({ schedule: true, jobIds: [1, 4] });
  });

  it('threshold 0 is refused by the policy (Torc schedules with zero retry jobs)', () => {
    expect(() => parsePolicy({ autoSchedule: { threshold: 0 } })).toThrow(/policy.autoSchedule.threshold/);
  });

  it('counts the first cooldown from when watching began', () => {
    const c = census({ ready: [retry(1), retry(4)] });
    const s = trackReady(fresh, c);
    expect(decide(c, s, at(30))).toMatchObject({ schedule: false, why: 'cooldown' });
    expect(decide(c, s, at(61))).toMatchObject({ schedule: true });
  });

  it('keeps the cooldown after a schedule, then schedules again', () => {
    const s = { ...fresh, count: 1, lastScheduledAt: at(0).toISOString() };
    const c = census({ observedAt: at(30).toISOString(), ready: [retry(1), retry(4)] });
    expect(decide(c, s, at(30))).toMatchObject({ schedule: false, why: 'cooldown' });
    const later = census({ observedAt: at(61).toISOString(), ready: [retry(1), retry(4)] });
    expect(decide(later, s, at(61))).toMatchObject({ schedule: true });
  });

  it('measures the stranded timeout from when each job became ready (Torc: since its last schedule)', () => {
    let s = trackReady(fresh, census({ ready: [retry(1)] }));
    s = trackReady(s, census({ observedAt: at(500).toISOString(), ready: [retry(1), retry(9)] }));
    expect(s.readySince).toEqual({ 1: T0.toISOString(), 9: at(500).toISOString() });
    expect(s.watchingSince).toBe(T0.toISOString());
    const c = census({ observedAt: at(601).toISOString(), ready: [retry(1)] });
    expect(decide(c, s, at(601))).toMatchObject({ schedule: true, why: expect.stringContaining('stranded') });
    expect(decide(c, trackReady(fresh, c), at(601))).toMatchObject({ schedule: false });
  });

  it('never schedules twice for one census: a schedule in flight or a census older than it blocks', () => {
    const c = census({ liveAllocations: 0, ready: [first(1)] });
    expect(decide(c, { ...fresh, inFlight: 'torc-wf7:sched:s1' }, at(1))).toMatchObject({ schedule: false });
    const after = { ...fresh, count: 1, lastScheduledAt: at(5).toISOString() };
    expect(decide(c, after, at(6))).toMatchObject({
      schedule: false,
      why: 'no census since the last schedule',
    });
  });

  it('does nothing when off, and says why when nothing fits a partition', () => {
    expect(
      decide(census({ liveAllocations: 0, ready: [first(1)] }), fresh, at(1), policy({ enabled: false })),
    ).toMatchObject({
      schedule: false,
    });
    const huge = census({
      liveAllocations: 0,
      ready: [first(1)],
      resourceRequirements: [{ ...RR, memory: '900g' }],
    });
    expect(decide(huge, fresh, at(1))).toMatchObject({
      schedule: false,
      why: expect.stringContaining('nothing fits'),
      stall: true,
    });
  });

  it('off, with jobs ready and nothing running them for a cooldown, is a stall a person must hear of', () => {
    const off = policy({ enabled: false });
    const c = census({ liveAllocations: 0, ready: [first(1), first(2)] });
    const seen = trackReady(fresh, c);
    expect(decide(c, seen, at(59), off)).toEqual({ schedule: false, why: 'auto-schedule is off' });
    expect(decide(c, seen, at(60), off)).toEqual({
      schedule: false,
      why: '2 job(s) ready and no live allocation, and auto-schedule is off: submit allocations, or turn auto-schedule on',
      stall: true,
    });
    // Something runs them: waiting is right.
    expect(decide({ ...c, liveAllocations: 1 }, seen, at(600), off)).toEqual({
      schedule: false,
      why: 'auto-schedule is off',
    });
  });

  it('only pending_failed jobs left, nothing ready, running or allocated, for a cooldown: a stall, on or off', () => {
    const held = census({ liveAllocations: 0, pendingFailed: 3 });
    const seen = trackReady(fresh, held);
    expect(seen.heldSince).toBe(T0.toISOString());
    expect(decide(held, seen, at(59))).toMatchObject({ schedule: false, why: 'no job is ready' });
    const stall = {
      schedule: false,
      why: '3 job(s) are pending_failed and nothing else is ready, running or allocated: Torc holds them for a decision (reset them to retry, or fail them); nothing happens until then',
      stall: true,
    };
    expect(decide(held, seen, at(60))).toEqual(stall);
    expect(decide(held, seen, at(60), policy({ enabled: false }))).toEqual(stall);
    // Something still runs: not held; the clock starts again when it stops.
    const running = trackReady(seen, census({ liveAllocations: 0, pendingFailed: 3, active: 1 }));
    expect(running.heldSince).toBeUndefined();
    expect(decide(held, running, at(600))).toMatchObject({ why: 'no job is ready' });
  });
});
