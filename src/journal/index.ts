// The journal: the durable record of runs, targets, step results and events.
// Embedded SQLite by default (one file), PostgreSQL when several servers share
// work (a postgres:// URL); both implement one asynchronous interface and pass
// the one suite in contract.ts. Each is loaded only when opened.
import { homedir } from "node:os";
import { join } from "node:path";
import type { Journal } from "./types.ts";
import { isPostgresUrl, maskPostgresUrl } from "./postgres-url.ts";

export { isPostgresUrl, maskPostgresUrl };

export { milestones } from "./types.ts";
export { connectionBroken } from "./postgres-errors.ts";
export { runTriggers } from "./browse-types.ts";
export type {
  AlertSourceKind, AlertStateRecord, AttemptRecord, AttemptStatus, IncidentEventKind, IncidentEventRecord, IncidentFilter, IncidentRecord, IncidentStatus, IncidentStore,
  Milestone, NotificationRecord, RuleStateRecord, HistoryStore, ImportedIncident, AnalyticsStore, MttrQuery, MttrResult, MttrPhase, MttrPhaseRow, MttrCountRow,
} from "./types.ts";
export type { BrowseStore, GateFacts, IncidentPage, IncidentQuery, RunPage, RunQuery, RunTrigger, StepSummary } from "./types.ts";
export type { ClusterStore, LeaseRecord, ReplicaRecord, ScheduleFireRecord, ScheduleFireStatus, ScheduleStore } from "./types.ts";
export type { SilenceMatcher, SilenceRecord, SilenceStore } from "./types.ts";
export type { ShadowAspect, ShadowComparisonRecord, ShadowSource, ShadowStateRecord, ShadowStats, ShadowStore } from "./types.ts";
export type { Journal, JournalEvent, JournalTx, RunEventRecords, RunParams, RunRecord, RunStatus, RunStore, StepPhase, StepProgressRecord, StepRecord, StepStatus, TargetRecord, TargetStatus } from "./types.ts";

/**
 * Where the journal lives: --journal (a file, or postgres://USER@HOST:PORT/DB),
 * else $OPSKIT_JOURNAL, else the config's `journal:` (`configured`), else
 * $XDG_STATE_HOME/opskit/journal.db (~/.local/state/opskit/journal.db).
 */
export function journalLocation(explicit?: string, env: Record<string, string | undefined> = process.env, configured?: string): string {
  if (explicit) return explicit;
  if (env.OPSKIT_JOURNAL) return env.OPSKIT_JOURNAL;
  if (configured) return configured;
  return defaultJournalFile(env);
}

/** $XDG_STATE_HOME/opskit/journal.db (~/.local/state/opskit/journal.db): where the journal is when nothing names one. */
export function defaultJournalFile(env: Record<string, string | undefined> = process.env): string {
  const state = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return join(state, "opskit", "journal.db");
}

/** A journal location as it may be shown: a PostgreSQL URL with its password masked, a file path as it is. */
export function displayJournalLocation(location: string): string {
  return isPostgresUrl(location) ? maskPostgresUrl(location) : location;
}

export interface JournalOptions {
  /**
   * Flush every commit to disk before it returns, so that what was
   * acknowledged survives a power loss, not only a crash of the process
   * (`server.fsync`). Without it (WAL, synchronous NORMAL) a commit survives
   * any crash of opskit itself.
   */
  durable?: boolean;
  /**
   * Verify the file at open (opskit serve): PRAGMA quick_check on journals up
   * to 1 GiB, and a write, so a damaged or read-only journal fails at start
   * with the path and the fix rather than on the first alert.
   */
  check?: boolean;
  /**
   * Copy the WAL into the database file on a thread of its own (opskit
   * serve), so no commit waits for a checkpoint's fsyncs (sqlite-checkpoint.ts).
   */
  backgroundCheckpoints?: boolean;
  /** PostgreSQL: the connections the journal keeps at most (default 10). */
  poolSize?: number;
  /**
   * SQLite: open the file read-only, as it is (no schema update, no write):
   * a reader beside a running server, which WAL lets read without blocking
   * it or being blocked (the reader sees the last commit at each read).
   */
  readOnly?: boolean;
}

/**
 * Opens the journal at `location`: a postgres:// or postgresql:// URL opens
 * the PostgreSQL journal (and loads pg), anything else is a SQLite file.
 * `durable`, `check`, `backgroundCheckpoints` and `readOnly` are SQLite's; PostgreSQL
 * commits durably and its open checks the server (E_JOURNAL_UNAVAILABLE,
 * E_JOURNAL_SCHEMA_NEWER, …).
 */
export async function openJournal(location: string, options: JournalOptions = {}): Promise<Journal> {
  if (isPostgresUrl(location)) {
    const { openPostgresJournal } = await import("./postgres.ts");
    return openPostgresJournal(location, options.poolSize !== undefined ? { poolSize: options.poolSize } : {});
  }
  const { openSqliteJournal } = await import("./sqlite.ts");
  return openSqliteJournal(location, options);
}

/**
 * One incident's MTTR phases in ms, by the definitions `opskit mttr` uses
 * (mttr-stats.ts, loaded on first use).
 */
export async function incidentPhases(incident: Pick<import("./types.ts").IncidentRecord, "status" | "milestones" | "escalated" | "attempts">): Promise<Partial<Record<import("./types.ts").MttrPhase, number>>> {
  return (await import("./mttr-stats.ts")).incidentPhases(incident);
}

/**
 * Sortable, readable run ids: 20261125T120102-3fa9c2d1. 32 random bits: a
 * server starting a hundred remediations in one second must not collide
 * (16 bits did, about one storm in fourteen).
 */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").slice(0, 15);
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
  return `${stamp}-${random}`;
}
