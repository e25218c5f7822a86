import { dependentLines } from '../core/dependency.ts';
import type { EventOf } from '../core/events.ts';
import { groupBy } from '../core/group-by.ts';
import { commandIds, jobKey, tagNameOf } from '../core/ids.ts';
import type { ArrayWait, JobRecord, WorkloadRecord } from '../core/ports.ts';
import { formatTag } from '../core/tag.ts';
import type { ServiceDeps } from './deps.ts';
import { command, history, send, updateWorkload } from './effects.ts';

// An array's tasks end one by one; each gets its own decision (service/slurm-recovery.ts: diagnosis, plan,
// a claimed attempt of its own chain), but the retries are submitted together: the tasks that need the
// same resources become one new array of just their indexes (`--array=2,4`). The workload record keeps,
// per array, the tasks that did not complete (as the relay last read the array) and those decided; once
// no task is pending or running and every failed task is decided — or after `slurm.arrayWaitSeconds` —
// the groups are sent. A group's command id is deterministic: two workers that both see the array
// complete send the same commands, and the queue and the relay keep one.

type ArrayInfo = NonNullable<EventOf<'slurm.sacct'>['data']['array']>;

/** The array a task belongs to, as the workload record keys it. */
const arrayKey = (cluster: string, arrayJobId: string) => `${cluster}:${arrayJobId}`;

/** Every failed task decided, and nothing of the array left to run. */
const complete = (a: ArrayWait) => !a.live && a.failed.every((t) => a.decided.includes(t));

/**
 * A task's decision is in (retried — its job record carries `arrayRetry` — or not): noted on its array,
 * and the array's retries sent if that completes it. A task decided after its array's retries went is
 * sent on its own.
 */
export async function arrayTaskDecided(
  deps: ServiceDeps,
  workload: string,
  cluster: string,
  array: ArrayInfo,
): Promise<void> {
  const key = arrayKey(cluster, array.jobId);
  const now = deps.now().toISOString();
  const updated = await updateWorkload(deps, workload, (w) => {
    if (!w) return undefined;
    const before = w.arrays?.[key];
    // Once the relay saw the array with nothing left to run, that view is complete and final. Without a
    // view (the relay could not read the array), the task waits for its array's other tasks.
    const seen = array.progress ?? { failed: [array.taskId], live: true };
    const live = (before?.live ?? true) && seen.live;
    const failed = seen.live ? union(before?.failed ?? [], seen.failed) : seen.failed;
    const entry: ArrayWait = {
      ...before,
      cluster,
      jobId: array.jobId,
      since: before?.since ?? now,
      live,
      failed,
      decided: union(before?.decided ?? [], [array.taskId]),
    };
    return { ...w, arrays: { ...w.arrays, [key]: entry }, updatedAt: now };
  });
  const entry = (updated ?? (await deps.store.getWorkload(workload)))?.arrays?.[key];
  if (entry && (entry.groups || complete(entry))) await sendArrayRetries(deps, workload, entry);
}

/**
 * The retries of an array's decided tasks not yet sent, one command per set of equal resources, recorded
 * on the array in one conditional write (the record, not this caller's reads, says which task went in
 * which command), then every recorded command sent — again, after a crash: the queue keeps one of each.
 * `reason` says why it does not wait for the rest.
 */
async function sendArrayRetries(deps: ServiceDeps, workload: string, entry: ArrayWait, reason?: string) {
  const key = arrayKey(entry.cluster, entry.jobId);
  const read = new Map<number, JobRecord>();
  for (const t of entry.decided) {
    const job = await deps.store.getJob(jobKey(entry.cluster, `${entry.jobId}_${t}`));
    if (job?.arrayRetry) read.set(t, job);
  }
  let added: ArrayGroup[] = [];
  const updated = await updateWorkload(deps, workload, (w) => {
    const current = w?.arrays?.[key];
    if (!w || !current) return undefined;
    const grouped = new Set((current.groups ?? []).flatMap((g) => g.tasks));
    added = groupsOf(
      workload,
      entry,
      current.decided.filter((t) => !grouped.has(t)).flatMap((t) => read.get(t) ?? []),
    );
    if (!added.length && current.groups) return undefined;
    return {
      ...w,
      arrays: { ...w.arrays, [key]: { ...current, groups: [...(current.groups ?? []), ...added] } },
      updatedAt: deps.now().toISOString(),
    };
  });
  if (added.length)
    await history(deps, workload, [
      `Array ${entry.jobId}: ${reason ?? 'no task left to run'}; resubmitting ${added.map((g) => `tasks ${g.tasks.join(',')}`).join(' and ')}${added.length > 1 ? ' (one array per set of equal resources)' : ''}`,
    ]);
  const groups = (updated ?? (await deps.store.getWorkload(workload)))?.arrays?.[key]?.groups ?? [];
  if (!groups.length) return dropArray(deps, workload, entry.cluster, entry.jobId);
  await send(
    deps,
    groups.map((g) =>
      command({
        type: 'slurm.resubmit',
        id: g.commandId,
        workload,
        createdAt: entry.since,
        jobId: `${entry.jobId}_${g.tasks[0]}`,
        comment: g.comment,
        resources: g.resources,
        tasks: g.tasks,
      }),
    ),
  );
}

type ArrayGroup = NonNullable<ArrayWait['groups']>[number];

/** Tasks with equal resources in one group; its id names the array and its first task (groups never share one). */
function groupsOf(workload: string, entry: ArrayWait, jobs: JobRecord[]): ArrayGroup[] {
  const byResources = groupBy(jobs, (job) => JSON.stringify(job.arrayRetry!.resources));
  return [...byResources.values()].map((members) => {
    const sorted = members.sort((a, b) => taskOf(a) - taskOf(b));
    const id = commandIds.resubmitArray(entry.cluster, entry.jobId, taskOf(sorted[0]!));
    return {
      commandId: id,
      tasks: sorted.map(taskOf),
      resources: sorted[0]!.arrayRetry!.resources,
      comment: formatTag({
        workload: tagNameOf(workload),
        commandTag: commandIds.resubmitTag(id, sorted[0]!.nonce ?? ''),
      }),
    };
  });
}

const taskOf = (job: JobRecord) => Number(job.jobId.split('_')[1]);

function union(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

/** An array whose retries were all answered is no longer kept. */
async function dropArray(deps: ServiceDeps, workload: string, cluster: string, arrayJobId: string) {
  await updateWorkload(deps, workload, (w) => {
    if (!w?.arrays?.[arrayKey(cluster, arrayJobId)]) return undefined;
    const { [arrayKey(cluster, arrayJobId)]: _, ...rest } = w.arrays;
    return { ...w, arrays: rest, updatedAt: deps.now().toISOString() };
  });
}

/**
 * The relay's answer to an array's resubmission: each task of the group joins its own chain as a task
 * of the new array (`<new>_<index>`). Undefined when the command is no array group of this workload.
 */
export async function onArrayResubmitResult(
  deps: ServiceDeps,
  event: EventOf<'relay.command.result'>,
  workload: WorkloadRecord | undefined,
): Promise<boolean> {
  const r = event.data;
  const entry = Object.values(workload?.arrays ?? {}).find((a) =>
    a.groups?.some((g) => g.commandId === r.commandId),
  );
  const group = entry?.groups?.find((g) => g.commandId === r.commandId);
  if (!entry || !group) return false;
  const [newId] = r.slurmJobIds;
  const tasks = group.tasks.join(',');
  if (r.ok && newId) {
    for (const t of group.tasks) {
      const from = await deps.store.getJob(jobKey(entry.cluster, `${entry.jobId}_${t}`));
      const key = jobKey(event.cluster, `${newId}_${t}`);
      if (!from?.arrayRetry || (await deps.store.getJob(key))) continue;
      await deps.store.putJob({
        key,
        workload: r.workload,
        jobId: `${newId}_${t}`,
        name: '',
        evidence: {},
        lineage: from.lineage,
        attempt: from.arrayRetry.attempt,
        decided: false,
        updatedAt: deps.now().toISOString(),
        ...(from.nonce ? { nonce: from.nonce } : {}),
      });
    }
    const verb = r.alreadyDone ? 'were already resubmitted as' : 'resubmitted as';
    await history(deps, r.workload, [
      `Array ${entry.jobId} tasks ${tasks} ${verb} array ${newId}`,
      ...(r.output ? [`Relay: ${r.output}`] : []),
      ...dependentLines(r.dependents, `array ${entry.jobId}`, `array ${newId}`),
    ]);
    if (r.dependents?.error)
      await updateWorkload(deps, r.workload, (w) =>
        w ? { ...w, status: 'needs-attention', updatedAt: deps.now().toISOString() } : undefined,
      );
  } else {
    await updateWorkload(deps, r.workload, (w) =>
      w ? { ...w, status: 'needs-attention', updatedAt: deps.now().toISOString() } : undefined,
    );
    await history(deps, r.workload, [
      `Array ${entry.jobId} tasks ${tasks} failed to be submitted again: ${r.error ?? r.output}`,
    ]);
  }
  await updateWorkload(deps, r.workload, (w) => {
    const current = w?.arrays?.[arrayKey(entry.cluster, entry.jobId)];
    if (!w || !current?.groups) return undefined;
    const groups = current.groups.filter((g) => g.commandId !== r.commandId);
    const { [arrayKey(entry.cluster, entry.jobId)]: _, ...rest } = w.arrays!;
    return {
      ...w,
      arrays: groups.length
        ? { ...rest, [arrayKey(entry.cluster, entry.jobId)]: { ...current, groups } }
        : rest,
      updatedAt: deps.now().toISOString(),
    };
  });
  return true;
}

/**
 * The tick: an array still waiting for tasks after `slurm.arrayWaitSeconds` (a task that never ends, an
 * event that never came) has the retries of its decided tasks sent without them; a task decided later
 * starts a new wait of its own.
 */
export async function recheckWaitingArrays(deps: ServiceDeps): Promise<void> {
  const now = deps.now().getTime();
  const limit = deps.config.slurm.arrayWaitSeconds;
  for (const w of await deps.store.listWorkloads()) {
    for (const entry of Object.values(w.arrays ?? {})) {
      const waited = (now - Date.parse(entry.since)) / 1000;
      if (entry.groups || complete(entry) || waited < limit) continue;
      const pending = entry.failed.filter((t) => !entry.decided.includes(t));
      const reason = `waited ${Math.round(waited)} s for ${entry.live ? 'its tasks still pending or running' : `task(s) ${pending.join(',')}`}`;
      await sendArrayRetries(deps, w.key, entry, reason);
    }
  }
}
