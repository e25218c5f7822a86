import type { EventOf } from '../core/events.ts';
import type { ServiceDeps } from './deps.ts';
import { history, updateWorkload } from './effects.ts';

// A command sent to the relay is noted on its workload until its result comes (service/effects.ts, send).
// One that has no result after `commandResultSeconds` — the relay is down, or lost it — makes the workload
// need attention, once, instead of leaving it "recovering" for ever.

/** A result came: the command is no longer awaited. */
export async function resultArrived(deps: ServiceDeps, r: EventOf<'relay.command.result'>['data']) {
  await updateWorkload(deps, r.workload, (w) =>
    w?.awaiting?.some((a) => a.id === r.commandId)
      ? { ...w, awaiting: w.awaiting.filter((a) => a.id !== r.commandId) }
      : undefined,
  );
}

/** The tick: each command silent for longer than the setting is reported, once. */
export async function reportSilentCommands(deps: ServiceDeps): Promise<void> {
  const now = deps.now().getTime();
  const limit = deps.config.commandResultSeconds;
  for (const w of await deps.store.listWorkloads()) {
    const silent = (w.awaiting ?? []).filter(
      (a) => !a.reported && (now - Date.parse(a.sentAt)) / 1000 >= limit,
    );
    if (!silent.length) continue;
    const ids = new Set(silent.map((a) => a.id));
    const marked = await updateWorkload(deps, w.key, (current) =>
      current
        ? {
            ...current,
            status: 'needs-attention',
            updatedAt: deps.now().toISOString(),
            awaiting: (current.awaiting ?? []).map((a) => (ids.has(a.id) ? { ...a, reported: true } : a)),
          }
        : undefined,
    );
    if (!marked) continue;
    await history(
      deps,
      w.key,
      silent.map(
        (a) =>
          `No result from the relay for ${a.type} command ${a.id} after ${Math.round((now - Date.parse(a.sentAt)) / 1000)} s: is the relay running (\`rebound status\` lists its loops)? A command it failed on is in \`rebound dead-letters\`.`,
      ),
    );
  }
}
