#!/usr/bin/env node
// TEST DOUBLE — a stand-in for Torc's Slurm job runner (torc-slurm-job-runner), for the end-to-end tests
// only. It runs inside a real Slurm allocation, as Torc's runner does: marks its scheduled compute node
// active, registers a compute node, claims jobs that fit its resources and remaining time from the Torc
// (test double) server, runs each with `bash -c`, kills a job whose memory passes its resource
// requirements (as a per-job cgroup would: return code 137), terminates jobs when the allocation is
// about to end (status terminated, -15), reports each result with complete_job, and exits when idle.
// Each job's output goes where Torc's runner puts it: <output dir>/job_stdio/job_wf<W>_j<job>_r<run>_a<attempt>.{o,e}.
//
//   torc-runner-stand-in.mjs <torc url> <workflow id> <output dir> [--poll-interval N]
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const [url, workflowArg, outputDir = '.'] = process.argv.slice(2);
const workflowId = Number(workflowArg);
const slurmJobId = Number(process.env.SLURM_JOB_ID);
const scnId = Number((process.env.SLURM_JOB_NAME ?? '').split('_').pop());
const memBytes = Number(process.env.SLURM_MEM_PER_NODE ?? 1024) * 1024 * 1024;
const cpus = Number(process.env.SLURM_CPUS_PER_TASK ?? process.env.SLURM_CPUS_ON_NODE ?? 1);
/** Stop handing out time this long before the allocation ends (Torc's runner uses 2 × its buffer). */
const bufferSeconds = Number(process.env.TORC_STAND_IN_BUFFER ?? 30);
const idleSeconds = Number(process.env.TORC_STAND_IN_IDLE ?? 5);

const log = (line) => console.log(`${new Date().toISOString()} stand-in runner: ${line}`);

async function api(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/** Seconds left in this allocation, from squeue's %L ("M:SS", "H:MM:SS" or "D-HH:MM:SS"). */
function timeLeft() {
  const text = execFileSync('squeue', ['-h', '-j', String(slurmJobId), '-o', '%L'], {
    encoding: 'utf8',
  }).trim();
  if (!/^[\d:-]+$/.test(text)) return 24 * 3600;
  const [days, clock] = text.includes('-') ? text.split('-') : ['0', text];
  return (
    Number(days) * 86400 +
    clock
      .split(':')
      .map(Number)
      .reduce((acc, n) => acc * 60 + n, 0)
  );
}
const endAt = Date.now() + timeLeft() * 1000;
const secondsLeft = () => (endAt - Date.now()) / 1000;

/** The memory of a job's whole process group, in bytes (ps sums RSS in KiB). */
function groupRss(pgid) {
  try {
    const out = execFileSync('ps', ['-o', 'rss=', '-g', String(pgid)], { encoding: 'utf8' });
    return out.split('\n').reduce((n, l) => n + (Number(l.trim()) || 0), 0) * 1024;
  } catch {
    return 0;
  }
}

const parseMemory = (s) => {
  const m = /^(\d+)([kmgt]?)$/i.exec(s);
  return Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
};

const scn = await api('GET', `/scheduled_compute_nodes/${scnId}`);
await api('PUT', `/scheduled_compute_nodes/${scnId}`, { ...scn, status: 'active' });
const node = await api('POST', '/compute_nodes', {
  workflow_id: workflowId,
  hostname: hostname(),
  pid: process.pid,
  start_time: new Date().toISOString(),
  num_cpus: cpus,
  memory_gb: memBytes / 1024 ** 3,
  num_gpus: 0,
  num_nodes: 1,
  compute_node_type: 'slurm',
  is_active: true,
  scheduler: { scheduler_id: scnId, type: 'slurm', slurm_job_id: slurmJobId },
});
log(
  `allocation ${slurmJobId} (scheduled node ${scnId}): ${cpus} cpu(s), ${memBytes} bytes, ${Math.round(secondsLeft())} s`,
);

const running = new Map();
let idleSince = Date.now();
let stopping = false;

function runJob(job, rr, runId) {
  const limit = parseMemory(rr.memory);
  const started = Date.now();
  mkdirSync(join(outputDir, 'job_stdio'), { recursive: true });
  const base = join(
    outputDir,
    'job_stdio',
    `job_wf${workflowId}_j${job.id}_r${runId}_a${job.attempt_id ?? 1}`,
  );
  const [out, err] = [openSync(`${base}.o`, 'a'), openSync(`${base}.e`, 'a')];
  const child = spawn('bash', ['-c', job.command], { detached: true, stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  const entry = { job, rr, runId, child, peak: 0, killedFor: undefined, cpus: rr.num_cpus, memory: limit };
  running.set(job.id, entry);
  const sampler = setInterval(() => {
    const rss = groupRss(child.pid);
    entry.peak = Math.max(entry.peak, rss);
    if (rss > limit && !entry.killedFor) {
      entry.killedFor = 'memory';
      process.kill(-child.pid, 'SIGKILL');
    }
  }, 100);
  child.on('exit', async (code, signal) => {
    clearInterval(sampler);
    running.delete(job.id);
    idleSince = Date.now();
    const status = entry.killedFor === 'time' ? 'terminated' : code === 0 ? 'completed' : 'failed';
    const returnCode =
      entry.killedFor === 'memory'
        ? 137
        : entry.killedFor === 'time'
          ? -15
          : (code ?? (signal === 'SIGKILL' ? -9 : -1));
    const result = {
      job_id: job.id,
      workflow_id: workflowId,
      run_id: runId,
      attempt_id: job.attempt_id ?? 1,
      compute_node_id: node.id,
      return_code: returnCode,
      exec_time_minutes: (Date.now() - started) / 60000,
      completion_time: new Date().toISOString(),
      status,
      peak_memory_bytes: entry.peak,
      avg_memory_bytes: entry.peak,
    };
    log(`job ${job.id} (${job.name}) ${status}, return code ${returnCode}, peak ${entry.peak} bytes`);
    try {
      await api('POST', `/jobs/${job.id}/complete_job/${status}/${runId}`, result);
    } catch (error) {
      log(`complete_job failed: ${error.message}`);
    }
  });
}

while (true) {
  const left = secondsLeft();
  if (left <= bufferSeconds && !stopping) {
    stopping = true;
    for (const e of running.values()) {
      e.killedFor = 'time';
      process.kill(-e.child.pid, 'SIGTERM');
    }
  }
  const usedCpus = [...running.values()].reduce((n, e) => n + e.cpus, 0);
  const usedMem = [...running.values()].reduce((n, e) => n + e.memory, 0);
  if (!stopping && usedCpus < cpus) {
    const { run_id: runId } = await api('GET', `/workflows/${workflowId}/status`);
    const minutes = Math.floor((left - bufferSeconds) / 60);
    const { jobs } = await api(
      'POST',
      `/workflows/${workflowId}/claim_jobs_based_on_resources/${cpus - usedCpus}`,
      {
        num_cpus: cpus - usedCpus,
        memory_gb: (memBytes - usedMem) / 1024 ** 3,
        num_gpus: 0,
        num_nodes: 1,
        time_limit: `PT${Math.max(0, minutes)}M`,
      },
    );
    for (const job of jobs) {
      const rr = await api('GET', `/resource_requirements/${job.resource_requirements_id}`);
      await api('PUT', `/jobs/${job.id}/start_job/${runId}/${node.id}`, {});
      log(`job ${job.id} (${job.name}) started with ${rr.memory}, ${rr.runtime}`);
      runJob(job, rr, runId);
    }
  }
  if (running.size === 0 && (stopping || Date.now() - idleSince > idleSeconds * 1000)) break;
  await new Promise((r) => setTimeout(r, 500));
}

await api('PUT', `/compute_nodes/${node.id}`, { ...node, is_active: false, duration_seconds: 0 });
const done = await api('GET', `/scheduled_compute_nodes/${scnId}`);
await api('PUT', `/scheduled_compute_nodes/${scnId}`, { ...done, status: 'complete' });
log('idle: exiting');
