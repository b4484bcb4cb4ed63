/** What the journal stores: runs, their targets, every step result, and the event stream. */
import type { OpsError } from "../errors.ts";
import type { AnalyticsStore, HistoryStore } from "./history-types.ts";
import type { ShadowStore } from "./shadow-types.ts";
import type { ClusterStore } from "./cluster-types.ts";
import type { ScheduleStore } from "./schedule-types.ts";
import type { BrowseStore } from "./browse-types.ts";
import type { SilenceStore } from "./silence-types.ts";

export type * from "./cluster-types.ts";
export type * from "./schedule-types.ts";
export type * from "./history-types.ts";
export type * from "./shadow-types.ts";
export type * from "./browse-types.ts";
export type * from "./silence-types.ts";

export type RunStatus = "running" | "succeeded" | "failed" | "interrupted";
export type TargetStatus = "pending" | "running" | "ok" | "changed" | "failed" | "unreachable" | "skipped" | "rolled_back";
export type StepStatus = "ok" | "changed" | "failed" | "skipped" | "unreachable";
export type StepPhase = "pre" | "main" | "post" | "on_failure" | "rollback";

export interface RunParams {
  /** Config files the run was loaded from, how they were found (-c, cwd), and the environment. */
  configFiles: string[];
  configPath?: string;
  cwd: string;
  workflow?: string;
  env?: string;
  limit?: string;
  /** Effective vars after --var overrides: a resume reuses exactly these. */
  vars: Record<string, unknown>;
  /** The ad-hoc command of `opskit exec`. */
  command?: string;
  selector?: string;
  /** `opskit exec -H`: the hosts' pattern (or @file) instead of a selector. */
  hosts?: string;
  /** `opskit exec -b`: the command ran as another user; --become-user and --become-method as given. */
  become?: { user?: string; method?: "sudo" | "doas" | "su" };
  dryRun: boolean;
  concurrency?: number;
  /** The --policy file the run was started with (the config's policy: is read again on resume). */
  policy?: string;
  /** A remediation run started by `opskit serve`: which incident, attempt and rule. */
  trigger?: { incident: number; attempt: number; rule: string };
}

export interface RunRecord {
  id: string;
  kind: "workflow" | "exec";
  name: string;
  status: RunStatus;
  params: RunParams;
  startedAt: string;
  finishedAt?: string;
  summary?: Record<string, unknown>;
  resumedFrom?: string;
  /** The process that started the run, on which host: a "running" run whose process is gone was cut off. */
  owner?: { pid: number; host: string };
  /** Its W3C trace id (32 hex digits): the trace its spans are exported in; a remediation's is its incident's. */
  traceId?: string;
}

export interface TargetRecord {
  runId: string;
  target: string;
  batch: number;
  status: TargetStatus;
  changed: boolean;
  /** A rollback this target still owes (the run stopped before it ran). */
  rollbackOwed: boolean;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  error?: string;
}

export interface StepRecord {
  runId: string;
  target: string;
  phase: StepPhase;
  index: number;
  name: string;
  action: string;
  status: StepStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  attempts: number;
  error?: string;
  startedAt: string;
  /** What the action returned beside its output (an HTTP status and body, …): a resumed run's later steps may read it. */
  data?: Record<string, unknown>;
  /** Not run here: it finished in this earlier run, which a resume or a retry continued. */
  resumedFrom?: string;
}

/**
 * A step's progress on one target: recorded when the step starts (before its
 * action runs) and when it finishes, so that after a run is cut off a retry or
 * resume knows which steps finished (not run again) and which one was under way.
 */
export interface StepProgressRecord {
  runId: string;
  target: string;
  phase: StepPhase;
  index: number;
  name: string;
  startedAt: string;
  /** Absent: the step started and never finished (the process died under it). */
  finishedAt?: string;
  resumedFrom?: string;
  result?: StepRecord;
}

export interface JournalEvent {
  seq: number;
  type: string;
  at: string;
  payload: Record<string, unknown>;
}

/** What one run event changes, written in that order: any of them may be absent. */
export interface RunEventRecords {
  event?: { runId: string; type: string; payload: Record<string, unknown> };
  targets?: TargetRecord[];
  stepStarted?: Parameters<RunStore["startStep"]>[0];
  step?: StepRecord;
  finished?: { runId: string; status: RunStatus; summary: Record<string, unknown> };
}

/**
 * Runs and what they did: the run, its targets, every step result and its
 * progress, and the event stream `--json` printed.
 */
export interface RunStore {
  startRun(run: Omit<RunRecord, "status" | "startedAt" | "owner"> & { startedAt?: string }): Promise<RunRecord>;
  finishRun(runId: string, status: RunStatus, summary: Record<string, unknown>): Promise<void>;
  putTarget(record: TargetRecord): Promise<void>;
  /** Records a step's result, and its progress as finished. */
  putStep(record: StepRecord): Promise<void>;
  /** Records that a step is starting on a target, before its action runs. */
  startStep(record: { runId: string; target: string; phase: StepPhase; index: number; name: string; startedAt: string }): Promise<void>;
  /** Every step that started in a run, per target, finished or not. */
  stepProgress(runId: string): Promise<StepProgressRecord[]>;
  appendEvent(runId: string, type: string, payload: Record<string, unknown>): Promise<void>;
  /**
   * Everything one run event changes, in one commit: its line in the event
   * stream and the records it updates (the journal sink's write), all or none;
   * given a list, every event of it in order, in one commit.
   */
  recordRunEvent(records: RunEventRecords | readonly RunEventRecords[]): Promise<void>;
  listRuns(options?: { limit?: number }): Promise<RunRecord[]>;
  getRun(id: string): Promise<{ run: RunRecord; targets: TargetRecord[]; steps: StepRecord[] } | undefined>;
  events(runId: string): Promise<JournalEvent[]>;
}

/**
 * The journal's contract; SQLite is the embedded implementation, PostgreSQL
 * comes later, and both pass the one suite in contract.ts. Every method
 * returns a promise; each is atomic on its own.
 */
export interface Journal extends RunStore, IncidentStore, HistoryStore, AnalyticsStore, ShadowStore, ClusterStore, ScheduleStore, BrowseStore, SilenceStore {
  readonly location: string;
  /** How batch work on this journal is best cut (heal/processing.ts); absent: as SQLite wants it. */
  readonly batching?: BatchHint;
  /**
   * Runs `fn` as one transaction: what it does through `tx` commits together
   * once its promise resolves, or not at all when it rejects (the rejection
   * is passed on). `tx.transaction` nests as a savepoint: its failure undoes
   * only its own work. Inside `fn` use `tx` only, and await a nested
   * transaction before the next operation: work on the journal itself waits
   * until the transaction has ended, so from inside `fn` it never finishes.
   * Transactions do not interleave: one that reads and then writes sees no
   * other's writes in between. Keep `fn` to journal work (no network, no
   * timers): SQLite's one connection is held for the whole of it.
   */
  transaction<T>(fn: (tx: JournalTx) => Promise<T>): Promise<T>;
  /**
   * Whether the journal can still keep what it is given: its file is the one
   * opened (not deleted or replaced since) and answers a query. Undefined when
   * it can; otherwise the error that says why and what to do.
   */
  health(): Promise<OpsError | undefined>;
  /** Waits for the work under way, then closes; later calls reject. */
  close(): Promise<void>;
}

/** The journal inside a transaction: every store, bound to that transaction. */
export type JournalTx = Omit<Journal, "location" | "batching" | "health" | "close">;

/**
 * What costs what in a journal, for work done in batches. SQLite (the
 * default): a transaction holds the event loop, so it is kept to a few ms,
 * and a savepoint costs nothing. PostgreSQL: a transaction waits on the
 * network and lets requests in, while each statement is a round trip.
 */
export interface BatchHint {
  /** How long a batch's transaction may go on before it commits and lets others in, in ms. */
  sliceMs: number;
  /**
   * Apply notifications without a savepoint each and, when one fails, redo
   * the batch with a savepoint for that one: a savepoint is two round trips,
   * and past 64 in one transaction every snapshot of the server slows.
   */
  optimistic: boolean;
}

// ---------------------------------------------------------------------------
// Incidents: what `opskit serve` records. Times are epoch milliseconds
// (INTEGER columns), so MTTR can be aggregated in SQL over indexed columns.

export type Milestone = "started" | "detected" | "remediation_started" | "remediated" | "verified" | "resolved" | "escalated" | "acknowledged";
export const milestones: readonly Milestone[] = ["started", "detected", "remediation_started", "remediated", "verified", "resolved", "escalated", "acknowledged"];

/** Where an incident came from; "import" is history from another tool (`opskit incidents import`). */
// Open: heal/sources/ registers the senders (alertmanager, generic, grafana, check, …); a new one needs no edit here.
export type AlertSourceKind = string;
export type IncidentStatus = "open" | "resolved";

export interface IncidentRecord {
  id: number;
  fingerprint: string;
  status: IncidentStatus;
  /** alertname, or the check's name. */
  title: string;
  source: AlertSourceKind;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The rule that matched when the incident opened, if any. */
  rule?: string;
  /** First occurrence of each milestone, epoch ms. */
  milestones: Partial<Record<Milestone, number>>;
  /** Remediation attempts started (dry runs excluded). */
  attempts: number;
  escalated: boolean;
  /** Resolved while a rule's run had remediated it. */
  automated: boolean;
  /** How it closed: "alert resolved", "verified by probe", "resolved by hand", "stale: …". */
  resolution?: string;
  /** Notifications seen for this incident, duplicates and repeats included. */
  notifications: number;
  lastNotifiedAt: number;
  /** For imported incidents: the exporting tool's name for this import (`--source`) and its own incident id. */
  origin?: string;
  externalId?: string;
  /** Its W3C trace id (32 hex digits): its intake, gates, attempts and their runs share it. None for imported history. */
  traceId?: string;
}

export type IncidentEventKind = "alert" | "milestone" | "gate" | "run" | "escalation" | "note";

/** One line of an incident's timeline. Consecutive identical lines fold into one with a count. */
export interface IncidentEventRecord {
  incidentId: number;
  seq: number;
  at: number;
  kind: IncidentEventKind;
  message: string;
  data: Record<string, unknown>;
  count: number;
}

export type AttemptStatus = "awaiting_approval" | "queued" | "running" | "verifying" | "succeeded" | "failed" | "interrupted" | "dry_run" | "rejected";

/** One remediation attempt: (incident, attempt) is unique, so no attempt runs twice. */
export interface AttemptRecord {
  incidentId: number;
  attempt: number;
  rule: string;
  fingerprint: string;
  status: AttemptStatus;
  runId?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  detail?: string;
  /** The replica (ReplicaRecord id) that moved it to running: when that replica dies, the attempt is taken over. */
  owner?: string;
}

/** A notification as received (the raw body), committed before the 2xx. */
export interface NotificationRecord {
  id: number;
  source: AlertSourceKind;
  receivedAt: number;
  body: string;
  processed: boolean;
}

/** The last word about a fingerprint, to recognise duplicates and out-of-order delivery. */
export interface AlertStateRecord {
  fingerprint: string;
  status: "firing" | "resolved";
  startsAt: number;
  endsAt?: number;
  incidentId?: number;
  updatedAt: number;
}

/** A rule's circuit breaker, which survives restarts. */
export interface RuleStateRecord {
  rule: string;
  consecutiveFailures: number;
  disabledAt?: number;
  disabledReason?: string;
}

export interface IncidentFilter {
  status?: IncidentStatus;
  fingerprint?: string;
  /** Incidents started at or after this time (epoch ms). */
  since?: number;
  limit?: number;
}

/** Incident storage; every method is atomic on its own, `transaction` groups several (see Journal.transaction). */
/** Incident storage reads the active silences too: a decision inside a transaction sees those it holds. */
export interface IncidentStore extends Pick<SilenceStore, "listSilences"> {
  transaction<T>(fn: (tx: IncidentStore) => Promise<T>): Promise<T>;

  /** Commits raw notifications in one transaction and returns their ids, in order; refuses (E_JOURNAL_GONE) once the file was deleted or replaced. */
  acceptNotifications(batch: { source: AlertSourceKind; receivedAt: number; body: string }[]): Promise<number[]>;
  /** Unprocessed notifications in id order; `receivedBefore` (epoch ms) keeps to those received before it (orphans of a dead replica). */
  pendingNotifications(limit: number, options?: { receivedBefore?: number }): Promise<NotificationRecord[]>;
  markNotificationsProcessed(ids: readonly number[]): Promise<void>;
  /**
   * Marks these notifications processed and resolves the ids it moved, in id
   * order: those not processed yet. Inside the transaction that applies
   * them, it keeps two replicas from applying one notification twice (the
   * loser finds it processed and skips it); a rollback undoes the claim.
   */
  claimNotifications(ids: readonly number[]): Promise<number[]>;
  countNotifications(): Promise<number>;

  getAlertState(fingerprint: string): Promise<AlertStateRecord | undefined>;
  putAlertState(state: AlertStateRecord): Promise<void>;

  /** At most one open incident per fingerprint, whatever races the callers run: opening a second rejects. */
  openIncident(incident: Omit<IncidentRecord, "id" | "status" | "attempts" | "escalated" | "automated" | "notifications">): Promise<IncidentRecord>;
  updateIncident(id: number, patch: Partial<Pick<IncidentRecord, "status" | "attempts" | "escalated" | "automated" | "resolution" | "notifications" | "lastNotifiedAt" | "labels" | "annotations" | "rule">>): Promise<void>;
  /** Sets a milestone if it is not set yet (the first occurrence wins); returns whether it was set. */
  setMilestone(id: number, milestone: Milestone, at: number): Promise<boolean>;
  getIncident(id: number): Promise<IncidentRecord | undefined>;
  findOpenIncident(fingerprint: string): Promise<IncidentRecord | undefined>;
  listIncidents(filter?: IncidentFilter): Promise<IncidentRecord[]>;
  countIncidents(filter?: IncidentFilter): Promise<number>;

  addIncidentEvent(incidentId: number, event: { at: number; kind: IncidentEventKind; message: string; data?: Record<string, unknown> }): Promise<void>;
  incidentEvents(incidentId: number): Promise<IncidentEventRecord[]>;

  /** Inserts attempt N of an incident; rejects (E_ATTEMPT_EXISTS) if that attempt exists: the unique key that keeps an attempt from running twice. */
  createAttempt(attempt: AttemptRecord): Promise<void>;
  updateAttempt(incidentId: number, attempt: number, patch: Partial<Pick<AttemptRecord, "status" | "runId" | "startedAt" | "finishedAt" | "detail" | "owner">>): Promise<void>;
  /**
   * Compare and set: applies the patch only while the attempt is still in status `from`; resolves whether this call
   * moved it. Of two callers racing to approve, start or reject one attempt, exactly one wins (heal/healer.ts).
   */
  claimAttempt(incidentId: number, attempt: number, from: AttemptStatus, patch: Partial<Pick<AttemptRecord, "status" | "runId" | "startedAt" | "finishedAt" | "detail" | "owner">>): Promise<boolean>;
  attempts(incidentId: number): Promise<AttemptRecord[]>;
  /** Attempts in any of these states, across incidents (restart recovery, approval queue). */
  attemptsIn(statuses: readonly AttemptStatus[]): Promise<AttemptRecord[]>;
  /** When a remediation last started for this fingerprint (any incident), for cooldowns; an interrupted attempt does not hold a retry back. */
  lastAttemptStart(fingerprint: string): Promise<number | undefined>;
  /** Attempts of a rule started at or after `since`, for rate limits. */
  countRuleAttemptsSince(rule: string, since: number): Promise<number>;

  getRuleState(rule: string): Promise<RuleStateRecord | undefined>;
  putRuleState(state: RuleStateRecord): Promise<void>;

  getSetting(key: string): Promise<string | undefined>;
  putSetting(key: string, value: string | undefined): Promise<void>;

  /**
   * Marks remediation runs (those with a trigger) still "running" as
   * interrupted: the server died under them. Runs owned by a process in
   * `except` (live replicas, by pid and host) are kept. Returns their ids.
   */
  interruptRunningRuns(options?: { except?: readonly { pid: number; host: string }[] }): Promise<string[]>;
}
