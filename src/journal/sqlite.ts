import { Database } from "bun:sqlite";
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { configError, type OpsError } from "../errors.ts";
import { asyncSqliteJournal } from "./sqlite-async.ts";
import { migrateBrowse, sqliteBrowseStore } from "./sqlite-browse.ts";
import { checkpointInBackground } from "./sqlite-checkpoint.ts";
import { deletedFileDescriptor, journalFailure } from "./sqlite-errors.ts";
import { migrateHistory, sqliteHistoryStore } from "./sqlite-history.ts";
import { sqliteAnalyticsStore } from "./sqlite-mttr.ts";
import { incidentSchema, migrateAttemptOwner, sqliteIncidentStore } from "./sqlite-incidents.ts";
import { migrateCluster, sqliteClusterStore } from "./sqlite-cluster.ts";
import { migrateSchedules, sqliteScheduleStore } from "./sqlite-schedules.ts";
import { migrateRunOwner, runSchema, sqliteRunStore } from "./sqlite-runs.ts";
import { migrateShadow, sqliteShadowStore } from "./sqlite-shadow.ts";
import { migrateSilences, sqliteSilenceStore } from "./sqlite-silences.ts";
import { migrateTraceIds } from "./sqlite-trace.ts";
import type { Journal } from "./types.ts";

const pragmas = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 30000;
`;

/**
 * PRAGMA quick_check reads every page: measured at 288 ms for a 200 MB
 * journal (1.5 million incidents, page cache warm), so about 1.5 s a GiB.
 * Above this size the open skips it; damage met later still surfaces as
 * E_JOURNAL_CORRUPT with the path, through journalFailure.
 */
export const QUICK_CHECK_MAX_BYTES = 1024 ** 3;

/** The file's identity: a journal deleted or replaced under a running server has another (or none). */
function fileIdentity(path: string): string | undefined {
  try {
    const stat = statSync(path, { bigint: true });
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

function journalGone(location: string): OpsError {
  const fd = deletedFileDescriptor(location);
  return configError(
    "E_JOURNAL_GONE",
    `the journal at ${location} is gone: it was deleted or replaced while this process had it open, so nothing new can be kept`,
    `restart opskit serve to open a journal at ${location} again (restore it from a backup first if you have one)${fd ? `; until this process stops, the deleted file can still be copied from ${fd}` : ""}`,
  );
}

/** Opens the file and brings its schema up to date; a file that cannot serve fails here with the path and the fix. */
function openDatabase(location: string, options: { durable?: boolean; check?: boolean; readOnly?: boolean }): Database {
  let db: Database | undefined;
  try {
    if (options.readOnly) {
      if (fileIdentity(location) === undefined) throw configError("E_JOURNAL_NOT_FOUND", `there is no journal at ${location}`, "pass --journal the file opskit serve writes (journal: in its config, or --journal it was started with)");
      db = new Database(location, { readonly: true, strict: true });
      db.exec("PRAGMA busy_timeout = 30000;");
      // A file that is not a journal (or not one at all) fails here rather than on the first read.
      db.query("SELECT 1 FROM incidents LIMIT 1").all();
      return db;
    }
    mkdirSync(dirname(location), { recursive: true });
    db = new Database(location, { create: true, strict: true });
    db.exec(pragmas);
    db.exec(runSchema);
    // WAL with NORMAL survives a crash of the process; FULL also a power loss (one fsync per commit).
    if (options.durable) db.exec("PRAGMA synchronous = FULL;");
    if (options.check && (statSync(location).size <= QUICK_CHECK_MAX_BYTES)) {
      const problems = db.query<{ quick_check: string }, []>("PRAGMA quick_check(5)").all().map((r) => r.quick_check);
      if (problems[0] !== "ok") throw Object.assign(new Error(`PRAGMA quick_check: ${problems.filter((p) => !p.startsWith("***")).join("; ")}`), { code: "SQLITE_CORRUPT" });
    }
    db.exec(incidentSchema);
    migrateHistory(db);
    migrateShadow(db);
    migrateRunOwner(db);
    migrateAttemptOwner(db);
    migrateCluster(db);
    migrateSchedules(db);
    migrateBrowse(db);
    migrateTraceIds(db);
    migrateSilences(db);
    // SQLite opens a file it may not write read-only without a word; the first write would fail mid-command.
    if (options.check) db.exec("BEGIN IMMEDIATE; PRAGMA user_version = 0; ROLLBACK;");
    return db;
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Closing a handle on a damaged file may fail too; the first error is the one to report.
    }
    throw journalFailure(error, location) ?? configError("E_JOURNAL_OPEN", `cannot open the journal at ${location}: ${(error as Error).message}`, "pass --journal PATH or set OPSKIT_JOURNAL to a writable file");
  }
}

/** The history store, whose imports write incidents behind the incident store's memory of them: it forgets after each. */
function withHistory<H extends { importIncidents(...args: never[]): unknown }>(history: H, forget: () => void): H {
  return {
    ...history,
    importIncidents(...args: Parameters<H["importIncidents"]>) {
      try {
        return history.importIncidents(...args);
      } finally {
        forget();
      }
    },
  };
}

/**
 * The embedded journal: one SQLite file in WAL mode, written synchronously as
 * events happen, behind the journal's asynchronous interface (sqlite-async.ts).
 * `check` (opskit serve) verifies the file at open: its pages (PRAGMA
 * quick_check, up to QUICK_CHECK_MAX_BYTES) and that it can be written.
 */
export function openSqliteJournal(location: string, options: { durable?: boolean; check?: boolean; backgroundCheckpoints?: boolean; readOnly?: boolean } = {}): Journal {
  const db = openDatabase(location, options);
  const checkpointer = options.backgroundCheckpoints ? checkpointInBackground(db, location, { durable: options.durable ?? false }) : undefined;
  const absolute = resolve(location);
  const identity = fileIdentity(absolute);
  const gone = () => fileIdentity(absolute) !== identity;
  const touch = db.prepare<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master");
  const incidents = sqliteIncidentStore(db);
  return asyncSqliteJournal(db, {
    ...incidents.store,
    // One stat per group commit (a few µs): a notification is never acknowledged into a file nobody will open again.
    acceptNotifications(batch) {
      if (gone()) throw journalGone(location);
      return incidents.store.acceptNotifications(batch);
    },
    health() {
      if (gone()) return journalGone(location);
      try {
        touch.get();
        return undefined;
      } catch (error) {
        return journalFailure(error, location) ?? configError("E_JOURNAL_UNUSABLE", `the journal at ${location} does not answer: ${(error as Error).message}`, "check the file and its disk; restart opskit serve");
      }
    },
    ...sqliteRunStore(db),
    ...withHistory(sqliteHistoryStore(db), incidents.forget),
    ...sqliteAnalyticsStore(db),
    ...sqliteShadowStore(db),
    ...sqliteClusterStore(db),
    ...sqliteScheduleStore(db),
    ...sqliteBrowseStore(db),
    ...sqliteSilenceStore(db),
    // The checkpoint thread's connection closes first, so this one closes last, as it would without the thread.
    async close() {
      await checkpointer?.close();
      db.close();
    },
  }, { location, rolledBack: incidents.rolledBack });
}
