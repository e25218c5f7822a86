import type { AutoScheduleState, TorcCensus } from './auto-schedule.ts';
import type { Command, CommandType, SlurmResources } from './commands.ts';
import type { Diagnosis } from './diagnose.ts';
import type { Event, TorcCompletionPage, TorcRr } from './events.ts';
import type { JobEvidence } from './evidence.ts';
import type { ManualMark } from './manual.ts';
import type { Owner } from './owner.ts';
import type { Plan } from './plan.ts';
import type { FailedJob, JobEnvironment } from './recovery-state.ts';

// Ports: what the application service needs from storage and queues. Two adapters each (SQLite locally,
// DynamoDB/SQS in AWS) pass one contract suite (test/contract).

export type WorkloadStatus = 'watching' | 'recovering' | 'healthy' | 'needs-attention' | 'exhausted';

/** A transition a person is told about (core/notice.ts), kept on the workload until every channel has it. */
export interface Notice {
  /** `<workload>@<record version>`: the transition, whatever event or tick made it. */
  id: string;
  status: WorkloadStatus;
  from?: WorkloadStatus;
  at: string;
  /** Channels it reached. */
  sent: string[];
  attempts: number;
  nextAt: string;
  lastError?: string;
  /** Retries used up: shown in status, never sent again. */
  gaveUpAt?: string;
}

export interface WorkloadRecord {
  key: string;
  kind: 'slurm' | 'torc';
  status: WorkloadStatus;
  updatedAt: string;
  /** Bumped by every write: writers read, change and write back only if nobody wrote in between. */
  version?: number;
  /** Torc: the cluster its relay reported from. */
  cluster?: string;
  /** Torc: the user its allocations run as (the relay's watch list), who may read it with their token. */
  owner?: string;
  /**
   * Torc: the run whose completion the worker last planned from (its pages are kept:
   * listCompletionPages), so `rebound plan` replans exactly what the worker would.
   */
  lastRun?: number;
  /**
   * Torc: a completed run whose recovery waits — for its live allocations to end (`live` > 0; after
   * `torc.allocationWaitSeconds` it needs attention, and still recovers if they end later) or for its
   * failed jobs' results. The tick re-checks it (service/torc-completion.ts).
   */
  waiting?: { runId: number; since: string; occurredAt: string; live: number; reported?: boolean };
  /** Torc: the latest census (ready jobs, live allocations) and auto-schedule's durable state. */
  census?: TorcCensus;
  autoSchedule?: AutoScheduleState;
  /** Transitions not yet delivered to every notification channel (at most the last 10). */
  notices?: Notice[];
  /** Commands sent to the relay whose result has not come back (service/command-watch.ts). */
  awaiting?: AwaitedCommand[];
  /**
   * Plain Slurm: jobs Slurm cancelled because a job they waited on failed, each waiting for one of the jobs
   * it names (`on`) to be resubmitted (service/slurm-dependents.ts).
   */
  waitingDependents?: { key: string; on: string[] }[];
  /** Plain Slurm: arrays whose failed tasks are resubmitted together (service/slurm-arrays.ts), by `<cluster>:<array>`. */
  arrays?: Record<string, ArrayWait>;
}

/** An array whose failed tasks wait for one another, to be resubmitted as one array per set of resources. */
export interface ArrayWait {
  cluster: string;
  /** The array's own number (`123` of `123_4`). */
  jobId: string;
  /** When its first task was decided: the wait (`slurm.arrayWaitSeconds`) counts from here. */
  since: string;
  /** Whether any task was still pending or running when the relay last read the array. */
  live: boolean;
  /** The tasks that ended other than COMPLETED, as the relay read the array. */
  failed: number[];
  /** The tasks decided (retried or not). */
  decided: number[];
  /** The resubmissions sent, until each one's result is in. */
  groups?: { commandId: string; tasks: number[]; resources: SlurmResources; comment: string }[];
}

interface AwaitedCommand {
  id: string;
  type: CommandType;
  sentAt: string;
  /** Reported as silent (the workload needs attention): not again. */
  reported?: boolean;
}

export interface JobRecord {
  /** `<cluster>:<slurm job id>` or `torc:<cluster>:<workflow>:<job>`. */
  key: string;
  workload: string | null;
  jobId: string;
  name: string;
  /** Plain Slurm: the partition it ran in. */
  partition?: string;
  /** Plain Slurm: whose job it is, as sacct accounted it (relay-read, never from a hook's event). */
  owner?: Owner;
  /** Plain Slurm: its QOS, as sacct accounted it (its account is the owner's), and its owner's groups. */
  qos?: string;
  groups?: string[];
  /** Plain Slurm: what it waited on, as captured (`afterok:40`). */
  dependency?: string;
  /** Plain Slurm: the job its failure was resubmitted as (its dependents then wait on that one). */
  retriedAs?: string;
  /** Plain Slurm: CPUs and GPUs per node as it was submitted (the relay's capture). */
  cpus?: number;
  gpus?: number;
  /** Plain Slurm: whether the cluster kept the environment it was submitted with (core/recovery-state.ts). */
  environment?: JobEnvironment;
  /**
   * Plain Slurm: the chain's random nonce, set before its first attempt is claimed and inherited by every
   * resubmission, so the tags of the chain's jobs cannot be predicted by another user.
   */
  nonce?: string;
  /** Torc: the run it ended in and its resource-requirements row then (none when Torc gave it none). */
  torc?: { runId: number; rr?: TorcRr };
  evidence: JobEvidence;
  diagnosis?: Diagnosis;
  /** Plain Slurm: when the run its record is about ended (epoch seconds; a requeued job has several). */
  runEndedAt?: number;
  /** The limits a person set for its next retry (MCP `update_job_resources`; core/recovery-state.ts). */
  nextLimits?: FailedJob['nextLimits'];
  /** Plain Slurm, an array task (`jobId` `123_4`): the retry its decision claimed, sent with its array's. */
  arrayRetry?: { attempt: number; resources: SlurmResources };
  /** The first job of a resubmission chain: attempts are counted per chain. */
  lineage: string;
  attempt: number;
  /** Resubmitted already (by the plan of this attempt); a later event for it changes nothing. */
  decided: boolean;
  updatedAt: string;
}

/** Max retries counts automatic attempts only (claimed − manual); the next attempt's number follows all. */
export interface AttemptCount {
  claimed: number;
  manual: number;
}

export interface AttemptRecord {
  lineage: string;
  attempt: number;
  workload: string;
  /** A person's attempt by hand (core/manual.ts): it uses up no automatic retry. */
  manual?: ManualMark;
  /** The event that made it (Torc: the completion), so a redelivery of that event finds it. */
  source?: string;
  plan: Plan;
  commandIds: string[];
  createdAt: string;
  /**
   * Plain Slurm: the chain's nonce its commands carry (JobRecord.nonce), claimed with the attempt so that
   * whoever resends its commands builds the same tags without a write of its own before the claim.
   */
  nonce?: string;
}

/**
 * A person's access token for the status API and CLI, one per user: only the SHA-256 of its secret part is
 * kept. A new token for a user replaces the old one; a revoked one stays as a record that matches nothing.
 */
export interface TokenRecord {
  user: string;
  uid: number;
  /** Sees every workload (the administrator; in user mode, the one user). */
  admin: boolean;
  /** SHA-256 (hex) of the token's secret part. */
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

/**
 * A cluster's partitions as its relay last discovered them (core/cluster-profile.ts): the profile plans
 * use when the config names none. Kept in the profile's JSON form (an unlimited time is "UNLIMITED").
 */
export interface ClusterRecord {
  cluster: string;
  profile: unknown;
  notes: string[];
  observedAt: string;
}

export interface HistoryEntry {
  workload: string;
  at: string;
  line: string;
}

/** The relay's answer to a person's read request (`rebound logs`), kept a day for the API to hand over. */
export interface RequestAnswer {
  requestId: string;
  workload: string;
  at: string;
  ok: boolean;
  /** The log's tail, or why there is none. */
  text: string;
  path?: string;
  truncated?: boolean;
}

/** Raised by `claimAttempt` when another worker claimed that attempt first; carries the winner. */
export class AttemptAlreadyClaimedError extends Error {
  constructor(readonly existing: AttemptRecord) {
    super(`attempt ${existing.attempt} of ${existing.lineage} is already claimed`);
    this.name = 'AttemptAlreadyClaimedError';
  }
}

/**
 * What the status API reads, and the tokens it keeps: in AWS the API function is given only this half
 * (its IAM role has no other writes).
 */
export interface StatusStore {
  getWorkload(key: string): Promise<WorkloadRecord | undefined>;
  listWorkloads(): Promise<WorkloadRecord[]>;
  getJob(key: string): Promise<JobRecord | undefined>;
  listJobs(workload: string): Promise<JobRecord[]>;
  /** Attempts a resubmission chain (or Torc workflow) has claimed, and how many of them were manual. */
  countAttempts(lineage: string): Promise<AttemptCount>;
  listAttempts(workload: string): Promise<AttemptRecord[]>;
  /** The attempt whose command carried this tag (to link a resubmitted job to its chain). */
  findAttemptByCommand(commandId: string): Promise<AttemptRecord | undefined>;
  /**
   * The workload's attempt made by this event (a Torc run's completion), plan and all — without reading the
   * other attempts' plans (a large workflow's are megabytes each).
   */
  findAttemptBySource(workload: string, source: string): Promise<AttemptRecord | undefined>;
  listHistory(workload: string): Promise<HistoryEntry[]>;
  /** True while a recorded id has not expired: a redelivered event that was fully handled is skipped. */
  wasProcessed(id: string): Promise<boolean>;
  getCluster(cluster: string): Promise<ClusterRecord | undefined>;
  /** The pages of a Torc run's completion received so far, any order (core/torc-state.ts assembles them). */
  listCompletionPages(workload: string, runId: number): Promise<TorcCompletionPage[]>;
  /** Stores a user's token record, replacing the one they had (a revocation is such a record too). */
  putToken(record: TokenRecord): Promise<void>;
  getToken(user: string): Promise<TokenRecord | undefined>;
  getAnswer(requestId: string): Promise<RequestAnswer | undefined>;
}

/** The worker's store: the status half and every write of a decision. */
export interface StateStore extends StatusStore {
  /**
   * Conditional write: stores the record (its version + 1) only if the stored version is still `expected`
   * (undefined: no record yet). False when another writer came first — read again and retry.
   */
  putWorkload(record: WorkloadRecord, expected: number | undefined): Promise<boolean>;
  putJob(record: JobRecord): Promise<void>;
  /** Keeps a cluster's discovered partitions, replacing what was known. */
  putCluster(record: ClusterRecord): Promise<void>;
  /** Keeps one page of a run's completion; the same page again replaces it (a redelivery). */
  putCompletionPage(workload: string, page: TorcCompletionPage): Promise<void>;
  /** Conditional write: exactly one caller wins an attempt number; the others get AttemptAlreadyClaimedError. */
  claimAttempt(record: AttemptRecord): Promise<void>;
  appendHistory(entries: HistoryEntry[]): Promise<void>;
  /** Keeps a request's answer until `expiresAt` (the same request again replaces it). */
  putAnswer(answer: RequestAnswer, expiresAt: Date): Promise<void>;
  /** Records an id once; false when it was already recorded (an event processed before). */
  markProcessed(id: string, expiresAt: Date): Promise<boolean>;
}

export interface QueueMessage<T> {
  body: T;
  receipt: string;
  receiveCount: number;
}

/** At-least-once: a received message comes back after its visibility timeout unless deleted. */
export interface MessageQueue<T> {
  /** Durable when it resolves. A repeated id is accepted and ignored. */
  send(messages: { id: string; body: T; group?: string }[]): Promise<void>;
  receive(max: number, visibilitySeconds: number): Promise<QueueMessage<T>[]>;
  delete(receipt: string): Promise<void>;
  /** Why this receive failed, kept with the message for its dead letter (where the adapter can keep it). */
  fail?(receipt: string, reason: string): Promise<void>;
  /** Messages moved aside after too many receives. */
  deadLetters(): Promise<T[]>;
}

/** A dead-lettered message as a person sees it: what it was, how often it was tried, why it failed. */
export interface DeadLetter {
  id: string;
  receives: number;
  lastError?: string;
  createdAt: string;
  body: unknown;
}

type DeadLetterQueue = 'events' | 'commands';

/**
 * Where a shell shows and replays its dead letters: the local runtime's queues. (In AWS they are the SQS
 * dead-letter queues, redriven from the console; an alarm says when there are any.)
 */
export interface DeadLetters {
  list(): Promise<Record<DeadLetterQueue, DeadLetter[]>>;
  /** Back into its queue as new; false when there is no such dead letter. */
  replay(queue: DeadLetterQueue, id: string): Promise<boolean>;
}

export type EventQueue = MessageQueue<Event>;
export type CommandQueue = MessageQueue<Command>;
/** What a producer needs of a queue: the webhook of the events queue, the worker of the commands queue. */
export type Sender<T> = Pick<MessageQueue<T>, 'send'>;
