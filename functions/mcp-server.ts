import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Hono } from 'hono';
import * as z from 'zod';
import { PartitionsUnknownError } from '../core/errors.ts';
import { WorkloadKeySchema } from '../core/ids.ts';
import { LogsRequestSchema, ManualRecoverySchema, ResourcesRequestSchema } from '../core/manual.ts';
import type { HistoryEntry, StatusStore } from '../core/ports.ts';
import pkg from '../package.json' with { type: 'json' };
import { requestLogs } from '../service/job-logs.ts';
import { requestResources } from '../service/job-resources.ts';
import type { RequestDeps } from '../service/person-request-event.ts';
import { requestRecovery } from '../service/person-requests.ts';
import { workloadReport } from '../service/report.ts';
import { planWorkload, workloadView } from '../service/status.ts';
import { canRead, type Reader } from '../service/tokens.ts';
import { limitBody, MAX_BODY_BYTES, readerAuth } from './app.ts';

// The MCP server (the tools Torc's MCP server offers, plus the plan and the history): an assistant
// investigates and acts as the person whose token it holds — never anyone else. Stateless Streamable HTTP
// with JSON answers (POST /v1/mcp), so it works behind a Lambda Function URL; `rebound mcp` bridges a local
// assistant's stdio to it (cli/mcp.ts); in AWS it has its own function (functions/mcp.ts). Inputs are the core schemas; every write goes through the same
// requests, claims and history as the CLI's, marked "via MCP".

/** How long a tool waits for the worker (or the relay) before answering with where to look. */
const WAIT_MS = Number(process.env.REBOUND_MCP_WAIT_MS ?? 30_000);

type Answer = { content: { type: 'text'; text: string }[]; isError?: boolean };
const text = (value: unknown): Answer => ({
  content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }],
});
const refuse = (message: string): Answer => ({ ...text(message), isError: true });

const WORKLOAD = {
  workload: WorkloadKeySchema.describe('a workload key: a tag name, or torc-wf<workflow id>'),
};

/** Until `until` holds of the workload's history from the request's first line on (or WAIT_MS passed). */
async function linesOf(
  store: StatusStore,
  workload: string,
  requestId: string,
  until: (l: string[]) => boolean,
) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const lines = (await store.listHistory(workload)).map((h: HistoryEntry) => h.line);
    const first = lines.findIndex((l) => l.includes(requestId));
    if (first >= 0 && until(lines.slice(first))) return lines.slice(first);
    if (Date.now() > deadline)
      return [`Request ${requestId} is queued; get_history shows what the worker did.`];
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The tools, for one reader (their token decides what exists for them). */
function mcpServer(deps: RequestDeps, reader: Reader): McpServer {
  const server = new McpServer({ name: 'rebound', version: pkg.version });
  const who = { by: reader.user, via: 'mcp' as const };
  const workload = async (key: string) => {
    const w = await deps.store.getWorkload(key);
    return w && canRead(reader, w) ? w : undefined;
  };
  const missing = (key: string) => refuse(`no workload "${key}"`);

  server.registerTool(
    'get_workflow_status',
    {
      description:
        'Status of a workload (a plain Slurm tag or a Torc workflow): healthy, recovering, needs-attention or exhausted; jobs counted by cause; recovery attempts and what they changed; notices not yet delivered.',
      inputSchema: WORKLOAD,
    },
    async ({ workload: key }) => {
      const view = (await workload(key)) && (await workloadView(deps, key));
      if (!view) return missing(key);
      const { jobs: _, history: __, ...status } = view;
      return text(status);
    },
  );
  server.registerTool(
    'list_failed_jobs',
    {
      description:
        'The failed jobs of a workload, each with its diagnosis (oom, timeout, transient, unknown, cancelled), the evidence it rests on, and its attempt in its resubmission chain.',
      inputSchema: WORKLOAD,
    },
    async ({ workload: key }) => {
      const view = (await workload(key)) && (await workloadView(deps, key));
      if (!view) return missing(key);
      return text(view.jobs.filter((j) => j.cause && j.cause !== 'success'));
    },
  );
  server.registerTool(
    'get_job_logs',
    {
      description:
        "The tail of a job's standard output (or error, with stderr: true), read on the login node by the relay as the job's owner. At most 10000 lines and 64 KB.",
      inputSchema: { ...WORKLOAD, ...LogsRequestSchema.shape },
    },
    async ({ workload: key, ...request }) => {
      const w = await workload(key);
      if (!w) return missing(key);
      const asked = await requestLogs(deps, w, LogsRequestSchema.parse(request), who);
      if (asked.outcome !== 'sent') return refuse(asked.error);
      const deadline = Date.now() + WAIT_MS;
      while (Date.now() < deadline) {
        const answer = await deps.store.getAnswer(asked.requestId);
        if (answer) return answer.ok ? text(`==> ${answer.path} <==\n${answer.text}`) : refuse(answer.text);
        await new Promise((r) => setTimeout(r, 300));
      }
      return refuse(
        `no answer from the relay after ${WAIT_MS / 1000} s (request ${asked.requestId}): is it running?`,
      );
    },
  );
  server.registerTool(
    'check_resource_utilization',
    {
      description:
        'Resource utilization of a workload, per job and per job name: peak memory and elapsed time against what was requested, CPU efficiency where sacct measured it, and the core-hours and GB-hours wasted.',
      inputSchema: WORKLOAD,
    },
    async ({ workload: key }) =>
      (await workload(key)) ? text(await workloadReport(deps, key)) : missing(key),
  );
  server.registerTool(
    'update_job_resources',
    {
      description:
        "Sets the memory and/or runtime a failed job's next retry asks for, instead of escalating its last ones (a plain Slurm job's next resubmission, or a Torc job's resource requirements when the workflow is recovered). Then call resubmit_workflow.",
      inputSchema: { ...WORKLOAD, ...ResourcesRequestSchema.shape },
    },
    async ({ workload: key, ...request }) => {
      const w = await workload(key);
      if (!w) return missing(key);
      const parsed = ResourcesRequestSchema.safeParse(request);
      if (!parsed.success) return refuse(parsed.error.issues.map((i) => i.message).join('; '));
      const asked = await requestResources(deps, w, parsed.data, who);
      if (asked.outcome !== 'sent') return refuse(asked.error);
      return text((await linesOf(deps.store, key, asked.requestId, (l) => l.length > 0)).join('\n'));
    },
  );
  server.registerTool(
    'resubmit_workflow',
    {
      description:
        "One recovery now, by hand (like `torc recover` / `rebound recover`): the workload's failed jobs that have no retry under way are retried — past max retries too — with these overrides for this attempt only (it uses up no automatic retry). dryRun: the plan only, nothing changed.",
      inputSchema: { ...WORKLOAD, ...ManualRecoverySchema.shape },
    },
    async ({ workload: key, ...request }) => {
      const w = await workload(key);
      if (!w) return missing(key);
      try {
        const answer = await requestRecovery(deps, w, ManualRecoverySchema.parse(request), who);
        if (answer.outcome === 'not-allowed' || answer.outcome === 'unknown-job')
          return refuse(answer.lines.join('\n'));
        if (!answer.requestId) return text({ outcome: answer.outcome, lines: answer.lines });
        const done = await linesOf(deps.store, key, answer.requestId, (l) => l.length > 0);
        return text({ outcome: answer.outcome, requestId: answer.requestId, lines: done });
      } catch (error) {
        if (error instanceof PartitionsUnknownError) return refuse(error.message);
        throw error;
      }
    },
  );
  server.registerTool(
    'get_recovery_plan',
    {
      description:
        'Dry run: what automatic recovery would do now for the workload, in words and as actions. Changes nothing.',
      inputSchema: WORKLOAD,
    },
    async ({ workload: key }) => {
      if (!(await workload(key))) return missing(key);
      try {
        return text(await planWorkload(deps, key));
      } catch (error) {
        if (error instanceof PartitionsUnknownError) return refuse(error.message);
        throw error;
      }
    },
  );
  server.registerTool(
    'get_history',
    {
      description: "The workload's decisions in words, oldest first (the last ones only, with last).",
      inputSchema: { ...WORKLOAD, last: z.number().int().min(1).max(1000).optional() },
    },
    async ({ workload: key, last }) => {
      if (!(await workload(key))) return missing(key);
      const lines = (await deps.store.listHistory(key)).map((h) => `${h.at}  ${h.line}`);
      return text((last ? lines.slice(-last) : lines).join('\n') || 'No history.');
    },
  );
  return server;
}

/** POST /v1/mcp: one stateless MCP exchange per request, as the token's reader. */
export function mountMcp(app: Hono<{ Variables: { reader: Reader } }>, deps: RequestDeps): void {
  app.use('/v1/mcp', limitBody(MAX_BODY_BYTES), readerAuth(deps.store));
  app.all('/v1/mcp', async (c) => {
    const server = mcpServer(deps, c.get('reader'));
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw);
    } finally {
      await server.close();
    }
  });
}
