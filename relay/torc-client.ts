import { EventSourceParserStream } from 'eventsource-parser/stream';
import * as z from 'zod';
import {
  type TorcBroadcastEvent,
  TorcBroadcastEventSchema,
  type TorcComputeNode,
  TorcComputeNodeSchema,
  TorcIsCompleteSchema,
  type TorcJob,
  TorcJobSchema,
  type TorcJobStatus,
  type TorcResourceRequirements,
  TorcResourceRequirementsSchema,
  type TorcResult,
  TorcResultSchema,
  type TorcScheduledComputeNode,
  TorcScheduledComputeNodeSchema,
  type TorcSlurmScheduler,
  TorcSlurmSchedulerSchema,
  type TorcWorkflowStatus,
  TorcWorkflowStatusSchema,
  torcList,
} from '../core/torc-model.ts';

export interface TorcClientOptions {
  /** Base URL including /torc-service/v1. */
  url: string;
  /** Basic auth, from the relay's config (Torc's CLI uses $USER and TORC_PASSWORD). */
  username?: string;
  password?: string;
  /** Attempts for 5xx and connection errors (backoff 250 ms × 4^n). */
  attempts?: number;
}

/** A Torc answer that is not a success; `status` 0 means the server could not be reached. */
export class TorcApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    message: string,
  ) {
    super(`Torc ${path}: ${status ? `HTTP ${status}: ` : ''}${message}`);
    this.name = 'TorcApiError';
  }
}

/** The server's maximum page (a larger `limit` is a 500). */
const PAGE = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Typed client of the recovery subset of Torc's REST API, with paging and retries. */
export class TorcClient {
  private readonly auth?: string;

  constructor(private readonly opts: TorcClientOptions) {
    if (opts.username !== undefined)
      this.auth = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  }

  private async request<T extends z.ZodType>(
    method: string,
    path: string,
    schema: T,
    body?: unknown,
  ): Promise<z.infer<T>> {
    const attempts = this.opts.attempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.opts.url}${path}`, {
          method,
          headers: {
            ...(this.auth ? { authorization: this.auth } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        if (attempt >= attempts) throw new TorcApiError(0, path, (error as Error).message);
        await sleep(250 * 4 ** (attempt - 1));
        continue;
      }
      const text = await res.text();
      if (res.ok) {
        const parsed = schema.safeParse(text ? JSON.parse(text) : {});
        if (!parsed.success)
          throw new TorcApiError(res.status, path, `unexpected answer: ${parsed.error.issues[0]?.message}`);
        return parsed.data;
      }
      if (res.status >= 500 && attempt < attempts) {
        await sleep(250 * 4 ** (attempt - 1));
        continue;
      }
      throw new TorcApiError(res.status, path, errorMessage(text));
    }
  }

  private async all<T extends z.ZodType>(path: string, item: T): Promise<z.infer<T>[]> {
    const items: z.infer<T>[] = [];
    const sep = path.includes('?') ? '&' : '?';
    for (let offset = 0; ; ) {
      const page = await this.request('GET', `${path}${sep}offset=${offset}&limit=${PAGE}`, torcList(item));
      items.push(...(page.items as z.infer<T>[]));
      if (!page.has_more || page.count === 0) return items;
      offset += page.count;
    }
  }

  status(workflowId: number): Promise<TorcWorkflowStatus> {
    return this.request('GET', `/workflows/${workflowId}/status`, TorcWorkflowStatusSchema);
  }
  putStatus(workflowId: number, status: TorcWorkflowStatus): Promise<TorcWorkflowStatus> {
    return this.request('PUT', `/workflows/${workflowId}/status`, TorcWorkflowStatusSchema, status);
  }
  isComplete(workflowId: number) {
    return this.request('GET', `/workflows/${workflowId}/is_complete`, TorcIsCompleteSchema);
  }
  initializeJobs(workflowId: number): Promise<unknown> {
    return this.request(
      'POST',
      `/workflows/${workflowId}/initialize_jobs?only_uninitialized=true&clear_ephemeral_user_data=false`,
      z.looseObject({ message: z.string().optional() }),
      {},
    );
  }

  jobs(workflowId: number, filter: { status?: TorcJobStatus; activeComputeNodeId?: number } = {}) {
    const q = new URLSearchParams({ workflow_id: String(workflowId), include_relationships: 'true' });
    if (filter.status) q.set('status', filter.status);
    if (filter.activeComputeNodeId !== undefined)
      q.set('active_compute_node_id', String(filter.activeComputeNodeId));
    return this.all(`/jobs?${q}`, TorcJobSchema);
  }
  job(jobId: number): Promise<TorcJob> {
    return this.request('GET', `/jobs/${jobId}`, TorcJobSchema);
  }
  /** Only `resource_requirements_id` and `scheduler_id` may change outside `uninitialized`. */
  putJob(job: TorcJob): Promise<TorcJob> {
    const { status: _omitted, ...rest } = job;
    return this.request('PUT', `/jobs/${job.id}`, TorcJobSchema, rest);
  }
  manageStatusChange(jobId: number, status: TorcJobStatus, runId: number): Promise<TorcJob> {
    return this.request('PUT', `/jobs/${jobId}/manage_status_change/${status}/${runId}`, TorcJobSchema, {});
  }
  completeJob(jobId: number, status: TorcJobStatus, runId: number, result: TorcResult): Promise<TorcJob> {
    return this.request('POST', `/jobs/${jobId}/complete_job/${status}/${runId}`, TorcJobSchema, result);
  }

  results(workflowId: number, jobId?: number): Promise<TorcResult[]> {
    const q = new URLSearchParams({ workflow_id: String(workflowId) });
    if (jobId !== undefined) q.set('job_id', String(jobId));
    return this.all(`/results?${q}`, TorcResultSchema);
  }
  /**
   * The workflow's newest current result and how many there are, in one request: a result is the only
   * record a job's end leaves, so the pair changes whenever one is added or removed (initialize_jobs
   * deletes the results of jobs it resets).
   */
  async resultsMark(workflowId: number): Promise<{ newestId: number; count: number }> {
    const q = new URLSearchParams({
      workflow_id: String(workflowId),
      sort_by: 'id',
      reverse_sort: 'true',
      offset: '0',
      limit: '1',
    });
    const page = await this.request('GET', `/results?${q}`, torcList(TorcResultSchema));
    return { newestId: page.items[0]?.id ?? 0, count: page.total_count };
  }
  resourceRequirements(workflowId: number): Promise<TorcResourceRequirements[]> {
    return this.all(`/resource_requirements?workflow_id=${workflowId}`, TorcResourceRequirementsSchema);
  }
  putResourceRequirements(rr: TorcResourceRequirements & { id: number }) {
    return this.request('PUT', `/resource_requirements/${rr.id}`, TorcResourceRequirementsSchema, rr);
  }
  createResourceRequirements(rr: TorcResourceRequirements) {
    return this.request('POST', '/resource_requirements', TorcResourceRequirementsSchema, rr);
  }

  createSlurmScheduler(s: TorcSlurmScheduler) {
    return this.request('POST', '/slurm_schedulers', TorcSlurmSchedulerSchema, s);
  }
  scheduledComputeNodes(workflowId: number, status?: string): Promise<TorcScheduledComputeNode[]> {
    const q = new URLSearchParams({ workflow_id: String(workflowId) });
    if (status) q.set('status', status);
    return this.all(`/scheduled_compute_nodes?${q}`, TorcScheduledComputeNodeSchema);
  }
  createScheduledComputeNode(scn: TorcScheduledComputeNode) {
    return this.request('POST', '/scheduled_compute_nodes', TorcScheduledComputeNodeSchema, scn);
  }
  putScheduledComputeNode(scn: TorcScheduledComputeNode & { id: number }) {
    return this.request('PUT', `/scheduled_compute_nodes/${scn.id}`, TorcScheduledComputeNodeSchema, scn);
  }
  computeNodes(workflowId: number, scheduledComputeNodeId: number): Promise<TorcComputeNode[]> {
    return this.all(
      `/compute_nodes?workflow_id=${workflowId}&scheduled_compute_node_id=${scheduledComputeNodeId}`,
      TorcComputeNodeSchema,
    );
  }
  putComputeNode(node: TorcComputeNode & { id: number }) {
    return this.request('PUT', `/compute_nodes/${node.id}`, TorcComputeNodeSchema, node);
  }

  /**
   * Torc's per-workflow SSE stream (not in the spec): yields `open` once the server has answered, then
   * each frame's event until the stream ends or `signal` aborts. No ids and no replay: the caller
   * reconnects and reconciles from the API.
   */
  async *events(
    workflowId: number,
    signal: AbortSignal,
  ): AsyncGenerator<TorcBroadcastEvent | 'dropped' | 'open'> {
    const path = `/workflows/${workflowId}/events/stream?level=info`;
    const res = await fetch(`${this.opts.url}${path}`, {
      headers: this.auth ? { authorization: this.auth } : {},
      signal,
    });
    if (!res.ok || !res.body) throw new TorcApiError(res.status, path, errorMessage(await res.text()));
    yield 'open';
    // eventsource-parser handles the framing (CRLF, multi-line data, comments, retry fields).
    const frames = (res.body as ReadableStream<BufferSource>)
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream());
    for await (const frame of frames) {
      if (!frame.data) continue;
      const parsed = TorcBroadcastEventSchema.safeParse(parseJson(frame.data));
      // `event: warning` / `{"dropped": N}` (the server's channel overflowed), or a frame that is not an
      // event at all: either way the caller cannot trust its picture and reconciles from the API.
      yield parsed.success ? parsed.data : 'dropped';
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    return body.error?.message ?? text;
  } catch {
    return text.slice(0, 500) || 'no body';
  }
}
