import { parseArgs } from 'node:util';
import * as z from 'zod';
import type { Command } from '../core/commands.ts';
import { ReboundError } from '../core/errors.ts';
import { describeActingFor } from '../core/owner.ts';
import { PlanSchema } from '../core/plan.ts';
import { startLocal } from '../local/runtime.ts';
import { loadSettings, relayOptions } from '../local/settings.ts';
import { RELAY_VERSION } from '../relay/version.ts';
import { type WorkloadView, WorkloadViewSchema } from '../service/status.ts';
import { api, healthLines } from './api.ts';
import { deadLetters, replayDeadLetter } from './dead-letters.ts';
import { logs, recover, sync } from './person-requests.ts';
import { report } from './report.ts';
import { printable, table } from './terminal.ts';
import { createToken, revokeToken } from './token.ts';
import { UsageError } from './usage-error.ts';
import { watchWorkflow } from './watch.ts';

const USAGE = `usage: rebound <command> [--json]
  start                 run the embedded default (webhook, worker, relay) until SIGINT/SIGTERM
  relay                 run only the login-node relay against a deployed service (REBOUND_URL,
                        REBOUND_COMMANDS_URL: its SQS commands queue) until SIGINT/SIGTERM
  status [workload]     workloads, or one workload's jobs, attempts and evidence
  history <workload>    the workload's decisions, oldest first
  plan <workload>       dry-run: what recovery would do now (changes nothing)
  recover <workload> [--memory-multiplier X] [--runtime-multiplier Y] [--retry-unknown]
          [--recovery-hook NAME] [--job ID] [--dry-run]
                        one recovery by hand now, past max retries too (it uses up no automatic
                        retry); exit 0 started or nothing to do, 1 nothing recoverable, 2 usage,
                        3 unknown workload or job, 4 not allowed now
  report <workload>     resource utilization: per job and job name, peak memory and time against
                        what was asked, CPU efficiency, and the core-hours and GB-hours wasted
  mcp                   MCP over stdio for a local assistant (its tools act with your token)
  logs <workload> <job> [--stderr] [--tail N]
                        the last N (100; at most 10000) lines of the job's output (or error),
                        read on the login node by the relay as the job's owner
  sync <workload> [--dry-run]
                        Torc: clean up jobs left running by allocations Slurm no longer knows
  watch <workflow id> [--user <name>]
                        recover a Torc workflow on events (the running relay picks it up); in
                        site mode, as root, --user names whom its allocations run as
  token create <user> [--admin]
                        site mode, as root: make <user>'s token for status/history/plan (written
                        to ~<user>/.config/rebound/token, mode 0600; --admin: sees every workload)
  token revoke <user>   the user's token stops working
  dead-letters [--replay <id> [--queue events|commands]]
                        events and commands given up after 5 tries, with their last error; --replay
                        puts one back as new (administrators; the local runtime)`;

/** Notices a person has not been sent yet, and why (README "Notifications"). */
/** Arrays whose retries wait: for which tasks, or for the relay's answer. */
function arrayLines(arrays: WorkloadView['arrays']): string[] {
  return Object.values(arrays ?? {}).map((a) => {
    const sent = a.groups?.map((g) => `tasks ${g.tasks.join(',')} sent as ${g.commandId}`).join('; ');
    const waiting = a.live
      ? 'tasks still pending or running'
      : `tasks ${a.failed.filter((t) => !a.decided.includes(t)).join(',')}`;
    return sent
      ? `Array ${a.jobId}: ${sent}, waiting for the relay's answer`
      : `Array ${a.jobId}: retries of tasks ${a.decided.join(',')} wait for ${waiting} (since ${a.since})`;
  });
}

function noticeLines(notices: WorkloadView['notices']): string[] {
  if (!notices?.length) return [];
  return [
    '',
    'Notices not yet delivered:',
    ...notices.map(
      (n) =>
        `  ${n.status} at ${n.at}: ${n.gaveUpAt ? `given up after ${n.attempts} tries` : `${n.attempts} tries so far`}${n.sent.length ? `, reached ${n.sent.join(', ')}` : ''}${n.lastError ? `; last error: ${n.lastError}` : ''}`,
    ),
  ];
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        admin: { type: 'boolean' },
        user: { type: 'string' },
        replay: { type: 'string' },
        queue: { type: 'string' },
        'memory-multiplier': { type: 'string' },
        'runtime-multiplier': { type: 'string' },
        'retry-unknown': { type: 'boolean' },
        'recovery-hook': { type: 'string' },
        job: { type: 'string' },
        'dry-run': { type: 'boolean' },
        stderr: { type: 'boolean' },
        tail: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // node:util names the bad flag ("Unknown option '--bogus'"): a usage error, exit 2.
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseCommandLine(argv);
  const [command, arg, third] = positionals;
  // JSON escapes control characters itself; text is made printable (cli/terminal.ts).
  const out = (json: unknown, text: () => string) =>
    console.log(values.json ? JSON.stringify(json, null, 2) : printable(text()));
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case 'start': {
      const runtime = await startLocal(loadSettings());
      const stop = async (signal: string) => {
        console.log(`${signal}: stopping; accepted events stay queued`);
        await runtime.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      return;
    }
    case 'relay': {
      const settings = loadSettings();
      const queueUrl = process.env.REBOUND_COMMANDS_URL;
      if (!queueUrl || !process.env.REBOUND_URL)
        throw new UsageError(
          'relay needs REBOUND_URL (the deployed webhook) and REBOUND_COMMANDS_URL (its commands queue)',
        );
      // Loaded here: `rebound start` never needs the AWS SDK.
      const [{ SQSClient }, { SqsQueue }, { startRelayDaemon }] = await Promise.all([
        import('@aws-sdk/client-sqs'),
        import('../aws/sqs-queue.ts'),
        import('../relay/daemon.ts'),
      ]);
      const commands = new SqsQueue<Command>(new SQSClient({ useQueueUrlAsEndpoint: false }), {
        url: queueUrl,
        fifo: true,
        waitSeconds: 10,
      });
      const daemon = await startRelayDaemon({ ...relayOptions(settings), commands, log: console.log });
      console.log(
        `Rebound relay ${RELAY_VERSION} in ${describeActingFor(daemon.actingFor)}\n` +
          `cluster ${daemon.cluster}: commands from ${queueUrl}, events to ${settings.url}`,
      );
      const stop = async (signal: string) => {
        console.log(`${signal}: stopping the relay; a command in progress is retried after its lease`);
        await daemon.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      return;
    }
    case 'status': {
      if (!arg) {
        const list = (await api('/v1/workloads')) as Record<string, unknown>[];
        const loops = await healthLines();
        return out(list, () =>
          [list.length ? table(list, ['key', 'status', 'updatedAt']) : 'No workloads yet.', ...loops].join(
            '\n',
          ),
        );
      }
      const view = WorkloadViewSchema.parse(await api(`/v1/workloads/${encodeURIComponent(arg)}`));
      return out(view, () =>
        [
          `${view.key}: ${view.status}`,
          '',
          table(
            view.jobs.map((j) => ({
              ...j,
              evidence: j.evidence.map((e) => `${e.signal}=${e.value}`).join('; '),
            })),
            [
              'jobId',
              ...(view.jobs.some((j) => j.array) ? ['array'] : []),
              'name',
              'attempt',
              'cause',
              'summary',
              'evidence',
            ],
          ),
          ...arrayLines(view.arrays),
          '',
          view.attempts.length
            ? table(
                view.attempts.map((a) => ({ ...a, changes: a.changes.join(', ') })),
                ['lineage', 'attempt', 'changes'],
              )
            : 'No recovery attempts.',
          ...noticeLines(view.notices),
        ].join('\n'),
      );
    }
    case 'history': {
      if (!arg) throw new UsageError('history needs a workload');
      const view = WorkloadViewSchema.parse(await api(`/v1/workloads/${encodeURIComponent(arg)}`));
      return out(
        view.history,
        () => view.history.map((h) => `${h.at}  ${h.line}`).join('\n') || 'No history.',
      );
    }
    case 'plan': {
      if (!arg) throw new UsageError('plan needs a workload');
      const plans = z.array(PlanSchema).parse(await api(`/v1/workloads/${encodeURIComponent(arg)}/plan`));
      return out(plans, () =>
        plans.length ? plans.map((p) => p.report.join('\n')).join('\n\n') : 'Nothing to recover.',
      );
    }
    case 'mcp':
      // Loaded here: no other command needs the MCP SDK.
      return (await import('./mcp.ts')).bridgeStdio();
    case 'report': {
      if (!arg) throw new UsageError(`report needs a workload\n${USAGE}`);
      const r = await report(arg);
      return out(r.json, r.text);
    }
    case 'recover':
    case 'sync':
    case 'logs': {
      if (!arg) throw new UsageError(`${command} needs a workload\n${USAGE}`);
      if (command === 'logs' && !third) throw new UsageError(`logs needs a workload and a job\n${USAGE}`);
      const done =
        command === 'recover'
          ? await recover(arg, values)
          : command === 'sync'
            ? await sync(arg, values['dry-run'] === true)
            : await logs(arg, third!, values.stderr === true, values.tail);
      if (done.error && !values.json) console.error(printable(done.text));
      else out(done.json, () => done.text);
      process.exitCode = done.exitCode;
      return;
    }
    case 'watch': {
      const { workflowId, added, user } = watchWorkflow(arg, values.user);
      const as = user ? `; its allocations run as ${user}` : '';
      return out({ workflowId, added, ...(user ? { user } : {}) }, () =>
        added
          ? `Watching Torc workflow ${workflowId}: recovery runs on its events from now on (rebound status torc-wf${workflowId})${as}.`
          : `Torc workflow ${workflowId} is already watched.`,
      );
    }
    case 'dead-letters': {
      if (values.replay) {
        const done = await replayDeadLetter(values.replay, values.queue);
        return out(done, () => `Replayed ${done.queue} dead letter ${done.id}: it is handled again as new.`);
      }
      const list = await deadLetters();
      return out(list.json, () => list.text);
    }
    case 'token': {
      if ((arg !== 'create' && arg !== 'revoke') || !third)
        throw new UsageError(`token needs "create <user>" or "revoke <user>"\n${USAGE}`);
      if (arg === 'create') {
        const file = await createToken(third, values.admin === true);
        return out(
          { user: third, admin: values.admin === true, file },
          () =>
            `Token for ${third}${values.admin ? ' (administrator: sees every workload)' : ''} written to ${file} (mode 0600).`,
        );
      }
      const revoked = await revokeToken(third);
      return out({ user: third, revoked }, () =>
        revoked ? `Token of ${third} revoked.` : `${third} had no token in force.`,
      );
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(`rebound: ${error instanceof ReboundError ? error.message : error.stack}`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
