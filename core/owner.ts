import * as z from 'zod';

// Whose job it is, and whether Rebound may act for them. The owner is what Slurm reports in a field no
// user can write (squeue's %U, sacct's UID: relay/owner-lookup.ts), never a value from an event body or
// a job's comment. The rule for "may Rebound act for this owner" is here and nowhere else.

/** The characters of a Unix user name as Slurm prints it (no spaces, `|`, `:` or control characters). */
export const USER_NAME = '[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}';
export const UserNameSchema = z.string().regex(new RegExp(`^${USER_NAME}$`), 'a Unix user name');

export const OwnerSchema = z.object({
  uid: z.number().int().nonnegative(),
  user: UserNameSchema,
  account: z.string().max(200).optional(),
});
export type Owner = z.infer<typeof OwnerSchema>;

/**
 * How Rebound runs. `user` (the default): one user's own service and relay, acting only for that user's
 * jobs. `site`: an administrator's service fed by the site hook, and a root relay acting for each job's
 * owner as that owner, within the site's rules.
 */
export const ModeSchema = z.enum(['user', 'site']);
export type Mode = z.infer<typeof ModeSchema>;

/** The site's rules for whom a site-mode relay may act (rebound.config.json `site`). */
export const SiteRulesSchema = z.strictObject({
  /** Accounts below this uid (system and service accounts) are never acted for. */
  minUid: z.number().int().nonnegative().default(1000),
  /** Users never acted for, whatever their tags say. */
  denyUsers: z.array(UserNameSchema).default([]),
  /** When set, only these users are acted for (the tag is still needed per job). */
  allowUsers: z.array(UserNameSchema).optional(),
  /** When set, only jobs charged to these Slurm accounts are acted for. */
  allowAccounts: z.array(z.string().min(1)).optional(),
});
export type SiteRules = z.infer<typeof SiteRulesSchema>;

/** Who a relay acts for: itself (user mode), or each owner within the site's rules (site mode). */
export type ActingFor = { mode: 'user'; uid: number; user: string } | { mode: 'site'; rules: SiteRules };

/** Why a relay will not act for this owner, in words; undefined when it may. */
export function refusal(owner: Owner, actingFor: ActingFor): string | undefined {
  const who = `${owner.user} (uid ${owner.uid})`;
  if (actingFor.mode === 'user')
    return owner.uid === actingFor.uid
      ? undefined
      : `owned by ${who}, not by ${actingFor.user}, the user this Rebound runs as`;
  const { rules } = actingFor;
  if (owner.uid < rules.minUid) return `owned by ${who}: below the site's minimum uid ${rules.minUid}`;
  if (rules.denyUsers.includes(owner.user)) return `owned by ${who}: on the site's deny list`;
  if (rules.allowUsers && !rules.allowUsers.includes(owner.user))
    return `owned by ${who}: not on the site's list of allowed users`;
  if (rules.allowAccounts && !(owner.account && rules.allowAccounts.includes(owner.account)))
    return `owned by ${who}: account ${owner.account ?? '(none)'} is not on the site's list of allowed accounts`;
  return undefined;
}

/** The first line `rebound start` prints: which mode, and whom it acts for. */
export function describeActingFor(a: ActingFor): string {
  if (a.mode === 'user')
    return `user mode: recovers the jobs of ${a.user} (uid ${a.uid}) only; other users' jobs are recorded as ~foreign`;
  const r = a.rules;
  const limits = [
    `uid >= ${r.minUid}`,
    ...(r.denyUsers.length ? [`never ${r.denyUsers.join(', ')}`] : []),
    ...(r.allowUsers ? [`only users ${r.allowUsers.join(', ')}`] : []),
    ...(r.allowAccounts ? [`only accounts ${r.allowAccounts.join(', ')}`] : []),
  ];
  return `site mode: recovers each tagged job as its owner (${limits.join('; ')})`;
}
