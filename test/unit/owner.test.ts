import { describe, expect, it } from 'vitest';
import { type ActingFor, describeActingFor, refusal, SiteRulesSchema } from '../../core/owner.ts';

// Whom a relay acts for: one rule, in core/owner.ts; these are its refusals, each in words.

const alice = { uid: 1501, user: 'alice', account: 'lab' };
const mallory = { uid: 1502, user: 'mallory', account: 'other' };
const site = (rules: object = {}): ActingFor => ({ mode: 'site', rules: SiteRulesSchema.parse(rules) });

describe('whom a relay acts for', () => {
  it('user mode: only the user it runs as', () => {
    const me: ActingFor = { mode: 'user', uid: 1501, user: 'alice' };
    expect(refusal(alice, me)).toBeUndefined();
    expect(refusal(mallory, me)).toBe(
      'owned by mallory (uid 1502), not by alice, the user this Rebound runs as',
    );
    // The uid decides, not the name a record carries.
    expect(refusal({ uid: 1502, user: 'alice' }, me)).toMatch(/not by alice/);
  });

  it('site mode: every owner at or above the minimum uid (default 1000)', () => {
    expect(refusal(alice, site())).toBeUndefined();
    expect(refusal({ uid: 0, user: 'root' }, site())).toBe(
      "owned by root (uid 0): below the site's minimum uid 1000",
    );
    expect(refusal({ uid: 999, user: 'svc' }, site())).toMatch(/minimum uid 1000/);
    expect(refusal({ uid: 600, user: 'svc' }, site({ minUid: 500 }))).toBeUndefined();
  });

  it('site mode: the deny list, and the allow lists when set', () => {
    expect(refusal(mallory, site({ denyUsers: ['mallory'] }))).toMatch(/deny list/);
    expect(refusal(mallory, site({ allowUsers: ['alice'] }))).toMatch(/allowed users/);
    expect(refusal(alice, site({ allowUsers: ['alice'] }))).toBeUndefined();
    expect(refusal(mallory, site({ allowAccounts: ['lab'] }))).toMatch(/account other/);
    expect(refusal({ uid: 1503, user: 'bob' }, site({ allowAccounts: ['lab'] }))).toMatch(/account \(none\)/);
    expect(refusal(alice, site({ allowAccounts: ['lab'] }))).toBeUndefined();
  });

  it('the site rules refuse what is not a user name, and start-up names the mode', () => {
    expect(() => SiteRulesSchema.parse({ denyUsers: ['a b'] })).toThrow(/user name/);
    expect(() => SiteRulesSchema.parse({ minUid: -1 })).toThrow();
    expect(describeActingFor({ mode: 'user', uid: 1501, user: 'alice' })).toMatch(/^user mode: .*alice/);
    expect(describeActingFor(site({ denyUsers: ['mallory'] }))).toBe(
      'site mode: recovers each tagged job as its owner (uid >= 1000; never mallory)',
    );
  });
});
