// The journal: the durable record of runs, targets, step results and events.
// Embedded SQLite by default (one file); the interface (asynchronous, every
// method a promise) is what PostgreSQL will implement when several servers
// share work, and contract.ts is the suite both must pass.
import { homedir } from "node:os";
import { join } from "node:path";
import type { Journal } from "./types.ts";

export { milestones } from "./types.ts";
export type {
  AlertSourceKind, AlertStateRecord, AttemptRecord, AttemptStatus, IncidentEventKind, IncidentEventRecord, IncidentFilter, IncidentRecord, IncidentStatus, IncidentStore,
  Milestone, NotificationRecord, RuleStateRecord, HistoryStore, ImportedIncident, AnalyticsStore, MttrQuery, MttrResult, MttrPhase, MttrPhaseRow, MttrCountRow,
} from "./types.ts";
export type { ShadowAspect, ShadowComparisonRecord, ShadowSource, ShadowStateRecord, ShadowStats, ShadowStore } from "./types.ts";
export type { Journal, JournalEvent, JournalTx, RunEventRecords, RunParams, RunRecord, RunStatus, RunStore, StepPhase, StepProgressRecord, StepRecord, StepStatus, TargetRecord, TargetStatus } from "./types.ts";

/**
 * Where the journal lives: --journal PATH, else $OPSKIT_JOURNAL, else
 * $XDG_STATE_HOME/opskit/journal.db (~/.local/state/opskit/journal.db).
 */
export function journalLocation(explicit?: string, env = process.env): string {
  if (explicit) return explicit;
  if (env.OPSKIT_JOURNAL) return env.OPSKIT_JOURNAL;
  const state = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return join(state, "opskit", "journal.db");
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
}

export async function openJournal(location: string, options: JournalOptions = {}): Promise<Journal> {
  const { openSqliteJournal } = await import("./sqlite.ts");
  return openSqliteJournal(location, options);
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
