// bench:completion — the worker's whole handling of a large Torc workflow's completion (issue 14, target 5):
// its reads, the plan and its writes, not the pure planner alone (bench:plan). The failed jobs' results are
// recorded first, as their events would (not measured); then a fresh Node process, running the handling
// bundled as a Lambda function is, with the local SQLite store, is handed the completion's pages; five
// times, each on a copy of the recorded state. Targets (medians of 5): 100,000 jobs / 10,000 failed under
// 150 MB peak RSS and 300 ms; 1,000,000 / 100,000 under 1 GB and 3 s. `--quick`: the first case only.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../core/commands.ts';
import type { Event } from '../core/events.ts';
import { KESTREL } from '../core/profiles.ts';
import type { TorcJob, TorcResourceRequirements } from '../core/torc-model.ts';
import { openDatabase } from '../local/sqlite.ts';
import { SqliteQueue } from '../local/sqlite-queue.ts';
import { SqliteStore } from '../local/sqlite-store.ts';
import { completionPages } from '../relay/torc-events.ts';
import { parseServiceConfig } from '../service/config.ts';
import { handleEvents } from '../service/dispatch.ts';
import { lambdaBundle } from './lambda-build.ts';
import { target, verdict } from './targets.ts';

const CASES = [
  { jobs: 100_000, mb: 150, ms: 300 },
  { jobs: 1_000_000, mb: 1024, ms: 3000 },
].slice(0, process.argv.includes('--quick') ? 1 : 2);
const WF = 7;
const ROWS = 50;

// The runner sits inside the repository so that Node finds better-sqlite3 (left out of the bundle: native).
const outDir = join(import.meta.dirname, '..', 'node_modules', '.cache', 'rebound-bench');
mkdirSync(outDir, { recursive: true });
const runner = join(outDir, 'completion-run.mjs');
await lambdaBundle(join(import.meta.dirname, 'completion-run.ts'), runner, ['better-sqlite3']);

for (const c of CASES) {
  const rows: TorcResourceRequirements[] = Array.from({ length: ROWS }, (_, i) => ({
    id: i + 1,
    workflow_id: WF,
    name: `row${i}`,
    num_cpus: 1 + (i % 8),
    num_gpus: 0,
    num_nodes: 1,
    memory: `${1 + (i % 16)}g`,
    runtime: 'PT2H',
  }));
  // Every 10th job failed (half of them out of memory, half out of time), every 10th (offset 5) cancelled.
  const jobs: TorcJob[] = Array.from({ length: c.jobs }, (_, i) => ({
    id: 1000 + i,
    workflow_id: WF,
    name: `job${i}`,
    command: 'true',
    resource_requirements_id: (i % ROWS) + 1,
    status: i % 10 === 0 ? 'failed' : i % 10 === 5 ? 'canceled' : 'completed',
  }));
  const now = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'rebound-completion-'));
  const db = openDatabase(join(dir, 'db'));
  const deps = {
    store: new SqliteStore(db),
    commands: new SqliteQueue<Command>(db, 'commands'),
    config: parseServiceConfig({ profile: KESTREL }),
    now: () => new Date(),
  };
  const failed = jobs.filter((j) => j.status === 'failed');
  const t = performance.now();
  for (let i = 0; i < failed.length; i += 1000)
    await handleEvents(
      deps,
      failed.slice(i, i + 1000).map((j, k): Event => {
        const row = rows[j.resource_requirements_id! - 1]!;
        const oom = (i + k) % 2 === 0;
        return {
          id: `torc-job:${WF}:${j.id}:1`,
          version: 1,
          source: 'relay:torc',
          occurredAt: now,
          cluster: 'lab',
          type: 'torc.job.finished',
          data: {
            workflowId: WF,
            jobId: j.id,
            jobName: j.name,
            status: oom ? 'failed' : 'terminated',
            runId: 1,
            returnCode: oom ? 137 : -9,
            execTimeMinutes: oom ? 10 : 121,
            peakMemoryBytes: 2 ** 30,
            attemptId: 1,
            resourceRequirements: {
              id: row.id!,
              name: row.name,
              memory: row.memory,
              runtime: row.runtime,
              numCpus: row.num_cpus,
              numGpus: 0,
              numNodes: 1,
            },
          },
        };
      }),
    );
  db.close();
  const pages = completionPages('lab', WF, 1, false, jobs, rows, 0, now);
  const pagesFile = join(dir, 'pages.json');
  writeFileSync(pagesFile, JSON.stringify(pages));
  console.log(
    `${c.jobs.toLocaleString()} jobs, ${failed.length.toLocaleString()} failed: results recorded in ${((performance.now() - t) / 1000).toFixed(1)} s; the completion is ${pages.length} page(s)`,
  );
  // Median of 5 runs, each on a fresh copy of the recorded state (a run writes its plan into it).
  type Run = {
    totalMs: number;
    lastPageMs: number;
    startRssMb: number;
    peakRssMb: number;
    commands: string[];
  };
  const runs: Run[] = [];
  for (let i = 0; i < 5; i++) {
    const copy = join(dir, `run${i}.db`);
    copyFileSync(join(dir, 'db'), copy);
    const r = JSON.parse(
      execFileSync(process.execPath, ['--no-warnings', runner, copy, pagesFile], { encoding: 'utf8' }),
    ) as Run;
    if (r.commands[0] !== 'torc.update-resources') throw new Error(`no recovery was planned: ${r.commands}`);
    runs.push(r);
    console.log(
      `  run ${i + 1}: handled in ${r.totalMs.toFixed(0)} ms (the last page, which plans and writes: ${r.lastPageMs.toFixed(0)} ms); peak RSS ${r.peakRssMb.toFixed(0)} MB (${r.startRssMb.toFixed(0)} MB at start)`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
  target(`${c.jobs} jobs: peak RSS (median of 5)`, median(runs.map((r) => r.peakRssMb)), '<', c.mb, 'MB');
  target(`${c.jobs} jobs: handling (median of 5)`, median(runs.map((r) => r.totalMs)), '<', c.ms, 'ms');
}
verdict('bench:completion');
