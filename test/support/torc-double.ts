import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { TORC_DONE } from '../../core/torc-model.ts';
import { parseIsoDuration, parseTorcMemory } from '../../core/units.ts';
import { loadTorcOpenApi } from './torc-openapi.ts';

// TEST DOUBLE of the part of Torc's REST API and SSE stream that Rebound and the stand-in runner use.
// Stateful, in memory, and checked: every request body and every answer is validated against Torc's
// torc-openapi.yaml (with the documented drift), and a mismatch is recorded in `violations` and answered
// 500, so the double cannot silently diverge from Torc. Semantics follow Torc's server: run_id fencing,
// cascade cancel on a failed dependency, reset of downstream jobs, current results per job.

type Json = Record<string, unknown>;
type Status =
  | 'uninitialized'
  | 'blocked'
  | 'ready'
  | 'pending'
  | 'running'
  | 'completed'
  | 'failed'
  | 'canceled'
  | 'terminated'
  | 'disabled'
  | 'pending_failed';

export interface DoubleJob {
  id: number;
  workflow_id: number;
  name: string;
  command: string;
  status: Status;
  resource_requirements_id: number;
  scheduler_id: number | null;
  attempt_id: number;
  depends_on_job_ids: number[];
  cancel_on_blocking_job_failure: boolean;
  active_compute_node_id?: number;
}

const COMPLETE: readonly Status[] = TORC_DONE;
const BASE = '/torc-service/v1';

export interface WorkflowSpec {
  name: string;
  resourceRequirements: { name: string; memory: string; runtime: string; num_cpus?: number }[];
  jobs: { name: string; command: string; rr: string; dependsOn?: string[] }[];
}

export class TorcDouble {
  readonly violations: string[] = [];
  /** Every request answered, as `METHOD /path` (the event stream included), for tests that count load. */
  readonly requests: string[] = [];
  url = '';
  /**
   * Ids count up per table, as in Torc's SQLite tables, but from a random start: a test that assumed
   * workflow 1, 2, … (or a job id equal to a workflow id) fails at once.
   */
  private readonly nextIds = new Map<string, number>();
  private readonly firstId = 100 + Math.floor(Math.random() * 9000);
  readonly workflows = new Map<
    number,
    { id: number; name: string; user: string; run_id: number; is_canceled: boolean }
  >();
  readonly jobs = new Map<number, DoubleJob>();
  readonly rrs = new Map<number, Json & { id: number; workflow_id: number; name: string }>();
  readonly results = new Map<number, Json & { id: number; job_id: number; workflow_id: number }>();
  /** job id → its current result id (Torc's workflow_result table). */
  readonly current = new Map<number, number>();
  readonly schedulers = new Map<number, Json & { id: number; workflow_id: number }>();
  readonly scns = new Map<number, Json & { id: number; workflow_id: number; status: string }>();
  readonly computeNodes = new Map<number, Json & { id: number; workflow_id: number }>();
  private readonly subscribers = new Set<{ workflowId: number; send: (frame: string) => void }>();
  private server?: ReturnType<typeof serve>;
  private readonly spec = loadTorcOpenApi();

  /** `auth`: as `torc-server --require-auth`, every request needs these Basic credentials (401 otherwise). */
  constructor(private readonly options: { auth?: { username: string; password: string } } = {}) {}

  /** Creates a workflow as `torc workflows create` + `initialize` would, and returns its id. */
  createWorkflow(spec: WorkflowSpec): number {
    const wf = { id: this.id('workflow'), name: spec.name, user: 'rebound', run_id: 1, is_canceled: false };
    this.workflows.set(wf.id, wf);
    const rrIds = new Map<string, number>();
    for (const rr of spec.resourceRequirements) {
      const id = this.id('rr');
      rrIds.set(rr.name, id);
      this.rrs.set(id, { id, workflow_id: wf.id, num_cpus: 1, num_gpus: 0, num_nodes: 1, ...rr });
    }
    const jobIds = new Map<string, number>();
    for (const j of spec.jobs) jobIds.set(j.name, this.id('job'));
    for (const j of spec.jobs) {
      const id = jobIds.get(j.name)!;
      this.jobs.set(id, {
        id,
        workflow_id: wf.id,
        name: j.name,
        command: j.command,
        status: 'uninitialized',
        resource_requirements_id: rrIds.get(j.rr)!,
        scheduler_id: null,
        attempt_id: 1,
        depends_on_job_ids: (j.dependsOn ?? []).map((d) => jobIds.get(d)!),
        cancel_on_blocking_job_failure: true,
      });
      for (const d of this.jobs.get(id)!.depends_on_job_ids)
        this.dependentsOf.set(d, [...(this.dependentsOf.get(d) ?? []), this.jobs.get(id)!]);
    }
    this.initialize(wf.id);
    return wf.id;
  }

  private failures = 0;

  /** The next `n` requests fail as Torc fails internally: HTTP 500, plain text. */
  failNext(n: number): void {
    this.failures = n;
  }

  /** A scheduled compute node with no Slurm job behind it: a live allocation as far as Torc knows. */
  addScheduledNode(workflowId: number, status: 'pending' | 'active'): number {
    const id = this.id('scn');
    this.scns.set(id, {
      id,
      workflow_id: workflowId,
      scheduler_id: 0,
      scheduler_config_id: 0,
      scheduler_type: 'slurm',
      status,
    });
    return id;
  }

  /**
   * Ends every job of a workflow at once, as a finished run leaves it (a current result each, statuses
   * set; no events: the forwarder's poll finds them), or those `outcome` gives one. For workflows too
   * large to run job by job.
   */
  finishAll(
    workflowId: number,
    outcome: (job: DoubleJob) =>
      | {
          status: 'completed' | 'failed';
          returnCode: number;
          peakMemoryBytes?: number;
        }
      | undefined,
  ): void {
    const wf = this.workflows.get(workflowId)!;
    for (const job of this.jobsOf(workflowId)) {
      const o = outcome(job);
      if (!o) continue;
      const result = {
        id: this.id('result'),
        job_id: job.id,
        workflow_id: workflowId,
        run_id: wf.run_id,
        attempt_id: job.attempt_id,
        compute_node_id: 1,
        return_code: o.returnCode,
        exec_time_minutes: 0.01,
        completion_time: new Date().toISOString(),
        status: o.status,
        ...(o.peakMemoryBytes !== undefined ? { peak_memory_bytes: o.peakMemoryBytes } : {}),
      };
      this.results.set(result.id, result);
      this.current.set(job.id, result.id);
      job.status = o.status;
    }
  }

  /** Everything the server holds about one workflow, to compare before and after an operation. */
  snapshot(workflowId: number): string {
    const mine = <T extends { workflow_id: number }>(m: Map<number, T>) =>
      [...m.values()].filter((v) => v.workflow_id === workflowId);
    return JSON.stringify([
      this.workflows.get(workflowId),
      ...[this.jobs, this.rrs, this.results, this.schedulers, this.scns, this.computeNodes].map((m) =>
        mine(m as Map<number, { workflow_id: number }>),
      ),
    ]);
  }

  jobsOf(workflowId: number): DoubleJob[] {
    return [...this.jobs.values()].filter((j) => j.workflow_id === workflowId);
  }

  async start(): Promise<string> {
    const app = this.app();
    this.server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((r) => this.server!.once('listening', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${BASE}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of this.subscribers) s.send('');
    this.subscribers.clear();
    await new Promise<void>((r) => {
      (this.server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
      this.server?.close(() => r());
    });
  }

  /** Drops every open SSE stream (as a server restart or a proxy would). */
  dropStreams(): void {
    for (const s of this.subscribers) s.send('');
    this.subscribers.clear();
  }

  private id(table: string): number {
    const id = this.nextIds.get(table) ?? this.firstId + this.nextIds.size * 100_000;
    this.nextIds.set(table, id + 1);
    return id;
  }

  private broadcast(workflowId: number, eventType: string, severity: string, data: Json): void {
    const frame = `event: ${eventType}\ndata: ${JSON.stringify({ workflow_id: workflowId, timestamp: Date.now(), event_type: eventType, severity, data })}\n\n`;
    for (const s of this.subscribers) if (s.workflowId === workflowId) s.send(frame);
  }

  private initialize(workflowId: number): void {
    for (const job of this.jobsOf(workflowId)) {
      if (job.status !== 'uninitialized') continue;
      this.current.delete(job.id);
      job.status = this.depsDone(job) ? 'ready' : 'blocked';
    }
  }

  private depsDone(job: DoubleJob): boolean {
    return job.depends_on_job_ids.every((d) => this.jobs.get(d)?.status === 'completed');
  }

  /** Each job's dependents, indexed at creation (a 100,000-job workflow scans no list per job). */
  private readonly dependentsOf = new Map<number, DoubleJob[]>();

  private dependents(jobId: number): DoubleJob[] {
    return this.dependentsOf.get(jobId) ?? [];
  }

  /** Torc's unblocking task, run at once: ready on success, cascade cancel on failure. */
  private afterCompletion(job: DoubleJob): void {
    for (const d of this.dependents(job.id)) {
      if (job.status === 'completed' && d.status === 'blocked' && this.depsDone(d)) d.status = 'ready';
      if (job.status !== 'completed' && d.cancel_on_blocking_job_failure && !COMPLETE.includes(d.status)) {
        d.status = 'canceled';
        this.afterCompletion(d);
      }
    }
  }

  private resetDownstream(job: DoubleJob): void {
    for (const d of this.dependents(job.id)) {
      if (d.status === 'uninitialized') continue;
      d.status = 'uninitialized';
      this.resetDownstream(d);
    }
  }

  private isComplete(workflowId: number): boolean {
    const wf = this.workflows.get(workflowId)!;
    return wf.is_canceled || this.jobsOf(workflowId).every((j) => COMPLETE.includes(j.status));
  }

  private list(items: unknown[], q: (k: string) => string | undefined) {
    // Torc sorts by any column it is named (`sort_by`, `reverse_sort`); the double by any field.
    const key = q('sort_by');
    if (key) {
      const sign = q('reverse_sort') === 'true' ? -1 : 1;
      const value = (item: unknown) => (item as Json)[key] as number | string;
      items = [...items].sort((a, b) => (value(a) < value(b) ? -sign : value(a) > value(b) ? sign : 0));
    }
    const offset = Number(q('offset') ?? 0);
    const limit = Number(q('limit') ?? 10000);
    if (limit > 10000) throw new HttpError(500, 'An internal error occurred');
    const page = items.slice(offset, offset + limit);
    return {
      items: page,
      offset,
      max_limit: 10000,
      count: page.length,
      total_count: items.length,
      has_more: offset + page.length < items.length,
    };
  }

  private app() {
    // The validated request body, handed from the checking middleware to the routes.
    const app = new Hono<{ Variables: { body: Json } }>();
    const checked = <T>(method: string, path: string, status: number, body: T) => {
      const errors = this.spec.response(method, path, status, body);
      if (errors.length) this.violations.push(...errors);
      return body;
    };
    app.onError((err, c) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError)) this.violations.push(`double crashed: ${err.message}`);
      return c.json({ error: { message: err.message } }, status as 400);
    });
    app.use(`${BASE}/*`, async (c, next) => {
      const path = c.req.path.slice(BASE.length);
      this.requests.push(`${c.req.method} ${path}${new URL(c.req.url).search}`);
      const auth = this.options.auth;
      if (auth && c.req.header('authorization') !== `Basic ${btoa(`${auth.username}:${auth.password}`)}`) {
        return c.text('Unauthorized', 401, { 'www-authenticate': 'Basic realm="Torc"' });
      }
      if (this.failures > 0) {
        this.failures--;
        return c.text('An internal error occurred', 500);
      }
      if (['POST', 'PUT'].includes(c.req.method)) {
        const text = await c.req.text();
        const body = text ? JSON.parse(text) : {};
        const errors = path.endsWith('/events/stream') ? [] : this.spec.request(c.req.method, path, body);
        if (errors.length) {
          this.violations.push(...errors);
          return c.json({ error: { message: errors.join('; ') } }, 500);
        }
        c.set('body', body);
      }
      await next();
    });
    const body = (c: { get: (key: 'body') => Json }) => c.get('body');
    const wfOf = (id: string) => {
      const wf = this.workflows.get(Number(id));
      if (!wf) throw new HttpError(404, `workflow ${id} not found`);
      return wf;
    };
    const jobOf = (id: string) => {
      const job = this.jobs.get(Number(id));
      if (!job) throw new HttpError(404, `job ${id} not found`);
      return job;
    };
    const reply = (
      c: { req: { method: string; path: string }; json: (b: unknown, s?: number) => Response },
      value: unknown,
    ) => c.json(checked(c.req.method, c.req.path.slice(BASE.length), 200, value));
    const wireJob = (j: DoubleJob) => {
      const { active_compute_node_id: _, ...rest } = j;
      return rest;
    };

    app.get(`${BASE}/workflows/:id`, (c) => {
      const wf = wfOf(c.req.param('id'));
      return reply(c, { id: wf.id, name: wf.name, user: wf.user });
    });
    app.get(`${BASE}/workflows/:id/status`, (c) => {
      const wf = wfOf(c.req.param('id'));
      return reply(c, { id: wf.id, run_id: wf.run_id, is_canceled: wf.is_canceled, is_archived: false });
    });
    app.put(`${BASE}/workflows/:id/status`, (c) => {
      const wf = wfOf(c.req.param('id'));
      const b = body(c);
      wf.run_id = Number(b.run_id);
      wf.is_canceled = Boolean(b.is_canceled);
      return reply(c, { id: wf.id, run_id: wf.run_id, is_canceled: wf.is_canceled, is_archived: false });
    });
    app.get(`${BASE}/workflows/:id/is_complete`, (c) => {
      const wf = wfOf(c.req.param('id'));
      return reply(c, {
        is_canceled: wf.is_canceled,
        is_complete: this.isComplete(wf.id),
        needs_to_run_completion_script: false,
      });
    });
    app.post(`${BASE}/workflows/:id/initialize_jobs`, (c) => {
      const wf = wfOf(c.req.param('id'));
      this.initialize(wf.id);
      this.broadcast(wf.id, 'workflow_started', 'info', {
        category: 'workflow',
        type: 'started',
        user: wf.user,
        message: 'initialized',
      });
      return reply(c, { message: 'Initialized job status' });
    });
    app.get(`${BASE}/jobs`, (c) => {
      const wf = wfOf(c.req.query('workflow_id') ?? '0');
      const status = c.req.query('status');
      const active = c.req.query('active_compute_node_id');
      const jobs = this.jobsOf(wf.id)
        .filter((j) => !status || j.status === status)
        .filter((j) => !active || j.active_compute_node_id === Number(active))
        .map(wireJob);
      return reply(
        c,
        this.list(jobs, (k) => c.req.query(k)),
      );
    });
    app.get(`${BASE}/jobs/:id`, (c) => reply(c, wireJob(jobOf(c.req.param('id')))));
    app.put(`${BASE}/jobs/:id`, (c) => {
      const job = jobOf(c.req.param('id'));
      const b = body(c);
      if (b.status !== undefined && b.status !== job.status)
        throw new HttpError(422, 'status cannot be changed by PUT');
      if (b.resource_requirements_id !== undefined)
        job.resource_requirements_id = Number(b.resource_requirements_id);
      if (b.scheduler_id !== undefined)
        job.scheduler_id = b.scheduler_id === null ? null : Number(b.scheduler_id);
      return reply(c, wireJob(job));
    });
    app.put(`${BASE}/jobs/:id/manage_status_change/:status/:run_id`, (c) => {
      const job = jobOf(c.req.param('id'));
      const wf = wfOf(String(job.workflow_id));
      const status = c.req.param('status') as Status;
      if (Number(c.req.param('run_id')) !== wf.run_id) throw new HttpError(422, 'run_id mismatch');
      if (COMPLETE.includes(status)) throw new HttpError(422, 'use complete_job for a complete status');
      const wasComplete = COMPLETE.includes(job.status);
      job.status = status;
      if (status === 'uninitialized' && wasComplete) this.resetDownstream(job);
      return reply(c, wireJob(job));
    });
    app.put(`${BASE}/jobs/:id/start_job/:run_id/:compute_node_id`, (c) => {
      const job = jobOf(c.req.param('id'));
      const wf = wfOf(String(job.workflow_id));
      if (Number(c.req.param('run_id')) !== wf.run_id) throw new HttpError(422, 'run_id mismatch');
      job.status = 'running';
      job.active_compute_node_id = Number(c.req.param('compute_node_id'));
      this.broadcast(wf.id, 'job_started', 'info', {
        job_id: job.id,
        job_name: job.name,
        compute_node_id: job.active_compute_node_id,
        run_id: wf.run_id,
      });
      return reply(c, wireJob(job));
    });
    app.post(`${BASE}/jobs/:id/complete_job/:status/:run_id`, (c) => {
      const job = jobOf(c.req.param('id'));
      const wf = wfOf(String(job.workflow_id));
      const status = c.req.param('status') as Status;
      if (COMPLETE.includes(job.status)) throw new HttpError(422, `job ${job.id} is already complete`);
      if (Number(c.req.param('run_id')) !== wf.run_id) throw new HttpError(500, 'An internal error occurred');
      const result = { ...body(c), id: this.id('result') } as Json & {
        id: number;
        job_id: number;
        workflow_id: number;
      };
      this.results.set(result.id, result);
      this.current.set(job.id, result.id);
      job.status = status;
      delete job.active_compute_node_id;
      this.broadcast(
        wf.id,
        `job_${status}`,
        status === 'failed' ? 'error' : status === 'completed' ? 'info' : 'warning',
        {
          job_id: job.id,
          job_name: job.name,
          status,
          return_code: result.return_code,
        },
      );
      this.afterCompletion(job);
      return reply(c, wireJob(job));
    });
    app.post(`${BASE}/workflows/:id/claim_jobs_based_on_resources/:limit`, (c) => {
      const wf = wfOf(c.req.param('id'));
      const b = body(c);
      const memory = Number(b.memory_gb) * 1024 ** 3;
      const seconds = b.time_limit ? parseIsoDuration(String(b.time_limit)) : Number.POSITIVE_INFINITY;
      const claimed: DoubleJob[] = [];
      for (const job of this.jobsOf(wf.id)) {
        if (claimed.length >= Number(c.req.param('limit')) || job.status !== 'ready') continue;
        const rr = this.rrs.get(job.resource_requirements_id)!;
        if (parseTorcMemory(String(rr.memory)) > memory || parseIsoDuration(String(rr.runtime)) >= seconds)
          continue;
        job.status = 'pending';
        claimed.push(job);
      }
      return reply(c, { jobs: claimed.map(wireJob) });
    });
    app.get(`${BASE}/results`, (c) => {
      const wf = wfOf(c.req.query('workflow_id') ?? '0');
      const jobId = c.req.query('job_id');
      const all = c.req.query('all_runs') === 'true';
      const items = (
        all ? [...this.results.values()] : [...this.current.values()].map((id) => this.results.get(id)!)
      ).filter((r) => r.workflow_id === wf.id && (!jobId || r.job_id === Number(jobId)));
      return reply(
        c,
        this.list(items, (k) => c.req.query(k)),
      );
    });
    app.get(`${BASE}/resource_requirements`, (c) => {
      const wf = wfOf(c.req.query('workflow_id') ?? '0');
      return reply(
        c,
        this.list(
          [...this.rrs.values()].filter((r) => r.workflow_id === wf.id),
          (k) => c.req.query(k),
        ),
      );
    });
    app.get(`${BASE}/resource_requirements/:id`, (c) => {
      const rr = this.rrs.get(Number(c.req.param('id')));
      if (!rr) throw new HttpError(404, 'not found');
      return reply(c, rr);
    });
    app.put(`${BASE}/resource_requirements/:id`, (c) => {
      const rr = this.rrs.get(Number(c.req.param('id')));
      if (!rr) throw new HttpError(404, 'not found');
      const b = body(c);
      parseTorcMemory(String(b.memory));
      parseIsoDuration(String(b.runtime));
      Object.assign(rr, b, { id: rr.id });
      return reply(c, rr);
    });
    app.post(`${BASE}/resource_requirements`, (c) => {
      const b = body(c);
      const rr = { ...b, id: this.id('rr') } as Json & { id: number; workflow_id: number; name: string };
      this.rrs.set(rr.id, rr);
      return reply(c, rr);
    });
    app.post(`${BASE}/slurm_schedulers`, (c) => {
      const s = { ...body(c), id: this.id('scheduler') } as Json & { id: number; workflow_id: number };
      this.schedulers.set(s.id, s);
      return reply(c, s);
    });
    app.get(`${BASE}/scheduled_compute_nodes`, (c) => {
      const wf = wfOf(c.req.query('workflow_id') ?? '0');
      const status = c.req.query('status');
      const slurm = c.req.query('scheduler_id');
      const items = [...this.scns.values()].filter(
        (s) =>
          s.workflow_id === wf.id &&
          (!status || s.status === status) &&
          (!slurm || String(s.scheduler_id) === slurm),
      );
      return reply(
        c,
        this.list(items, (k) => c.req.query(k)),
      );
    });
    app.get(`${BASE}/scheduled_compute_nodes/:id`, (c) => {
      const scn = this.scns.get(Number(c.req.param('id')));
      if (!scn) throw new HttpError(404, 'not found');
      return reply(c, scn);
    });
    app.post(`${BASE}/scheduled_compute_nodes`, (c) => {
      const scn = { ...body(c), id: this.id('scn') } as Json & {
        id: number;
        workflow_id: number;
        status: string;
      };
      this.scns.set(scn.id, scn);
      this.broadcast(scn.workflow_id, 'scheduler_node_created', 'info', {
        category: 'scheduler',
        scheduled_compute_node_id: scn.id,
        scheduler_id: scn.scheduler_id,
        scheduler_config_id: scn.scheduler_config_id,
        scheduler_type: scn.scheduler_type,
        status: scn.status,
      });
      return reply(c, scn);
    });
    app.put(`${BASE}/scheduled_compute_nodes/:id`, (c) => {
      const scn = this.scns.get(Number(c.req.param('id')));
      if (!scn) throw new HttpError(404, 'not found');
      Object.assign(scn, body(c), { id: scn.id });
      return reply(c, scn);
    });
    app.get(`${BASE}/compute_nodes`, (c) => {
      const wf = wfOf(c.req.query('workflow_id') ?? '0');
      const scn = c.req.query('scheduled_compute_node_id');
      const items = [...this.computeNodes.values()].filter(
        (n) =>
          n.workflow_id === wf.id &&
          (!scn || (n.scheduler as Json | undefined)?.scheduler_id === Number(scn)),
      );
      return reply(
        c,
        this.list(items, (k) => c.req.query(k)),
      );
    });
    app.post(`${BASE}/compute_nodes`, (c) => {
      const node = { ...body(c), id: this.id('compute_node') } as Json & { id: number; workflow_id: number };
      this.computeNodes.set(node.id, node);
      return reply(c, node);
    });
    app.put(`${BASE}/compute_nodes/:id`, (c) => {
      const node = this.computeNodes.get(Number(c.req.param('id')));
      if (!node) throw new HttpError(404, 'not found');
      Object.assign(node, body(c), { id: node.id });
      return reply(c, node);
    });
    // Not in the spec: Torc's SSE stream, one per workflow, no ids, no replay, no keep-alive.
    app.get(`${BASE}/workflows/:id/events/stream`, (c) => {
      const wf = wfOf(c.req.param('id'));
      let subscriber: { workflowId: number; send: (frame: string) => void };
      const stream = new ReadableStream<Uint8Array>({
        start: (controller) => {
          const encoder = new TextEncoder();
          subscriber = {
            workflowId: wf.id,
            send: (frame) => {
              try {
                if (frame) controller.enqueue(encoder.encode(frame));
                else controller.close();
              } catch {
                this.subscribers.delete(subscriber);
              }
            },
          };
          this.subscribers.add(subscriber);
        },
        cancel: () => {
          this.subscribers.delete(subscriber);
        },
      });
      return new Response(stream, {
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
      });
    });
    return app;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
