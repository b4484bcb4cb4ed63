import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import type { ShadowAspect, ShadowComparisonRecord, ShadowStateRecord, ShadowStats, ShadowStore } from "./types.ts";

/**
 * Shadow comparisons and each shadowed workflow's standing. Times are epoch
 * ms; `differs` is a comma-separated list of aspects ('' when equal), so a
 * mismatch count is a plain SUM over an indexed name.
 */
const shadowSchema = `
CREATE TABLE IF NOT EXISTS shadow_comparisons (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  at INTEGER NOT NULL,
  source TEXT NOT NULL,
  run_id TEXT,
  target TEXT,
  legacy_exit INTEGER,
  legacy_duration_ms REAL NOT NULL,
  legacy_error TEXT,
  candidate_exit INTEGER,
  candidate_duration_ms REAL NOT NULL,
  candidate_error TEXT,
  candidate_failed INTEGER NOT NULL,
  equal INTEGER NOT NULL,
  differs TEXT NOT NULL,
  diff TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shadow_comparisons_name ON shadow_comparisons (name, id);
CREATE TABLE IF NOT EXISTS shadow_state (
  name TEXT PRIMARY KEY,
  fallen_back_at INTEGER,
  reason TEXT,
  reset_at INTEGER,
  window_start INTEGER NOT NULL DEFAULT 0
);
`;

/** Creates the shadow tables; a journal written before them gains them in place. */
export function migrateShadow(db: Database): void {
  db.exec(shadowSchema);
}

interface ComparisonRow {
  id: number;
  name: string;
  at: number;
  source: string;
  run_id: string | null;
  target: string | null;
  legacy_exit: number | null;
  legacy_duration_ms: number;
  legacy_error: string | null;
  candidate_exit: number | null;
  candidate_duration_ms: number;
  candidate_error: string | null;
  candidate_failed: number;
  equal: number;
  differs: string;
  diff: string;
}

interface StateRow {
  name: string;
  fallen_back_at: number | null;
  reason: string | null;
  reset_at: number | null;
  window_start: number;
}

function toComparison(row: ComparisonRow): ShadowComparisonRecord {
  return {
    id: row.id,
    name: row.name,
    at: row.at,
    source: row.source as ShadowComparisonRecord["source"],
    ...(row.run_id !== null ? { runId: row.run_id } : {}),
    ...(row.target !== null ? { target: row.target } : {}),
    legacyExit: row.legacy_exit,
    legacyDurationMs: row.legacy_duration_ms,
    ...(row.legacy_error !== null ? { legacyError: row.legacy_error } : {}),
    candidateExit: row.candidate_exit,
    candidateDurationMs: row.candidate_duration_ms,
    ...(row.candidate_error !== null ? { candidateError: row.candidate_error } : {}),
    candidateFailed: row.candidate_failed === 1,
    equal: row.equal === 1,
    differs: row.differs === "" ? [] : (row.differs.split(",") as ShadowAspect[]),
    diff: row.diff,
  };
}

function toState(row: StateRow): ShadowStateRecord {
  return {
    name: row.name,
    ...(row.fallen_back_at !== null ? { fallenBackAt: row.fallen_back_at } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    ...(row.reset_at !== null ? { resetAt: row.reset_at } : {}),
    windowStart: row.window_start,
  };
}

type Params = Record<string, string | number | null>;

export function sqliteShadowStore(db: Database): Synchronous<ShadowStore> {
  const insert = db.prepare<unknown, Params>(`INSERT INTO shadow_comparisons (name, at, source, run_id, target, legacy_exit, legacy_duration_ms, legacy_error,
      candidate_exit, candidate_duration_ms, candidate_error, candidate_failed, equal, differs, diff)
    VALUES ($name, $at, $source, $runId, $target, $legacyExit, $legacyDurationMs, $legacyError,
      $candidateExit, $candidateDurationMs, $candidateError, $candidateFailed, $equal, $differs, $diff)`);
  const getState = db.prepare<StateRow, { name: string }>("SELECT * FROM shadow_state WHERE name = $name");
  // Only a workflow not fallen back yet falls back: two runs deciding at once record one fallback.
  const fallBack = db.prepare<unknown, Params>(`INSERT INTO shadow_state (name, fallen_back_at, reason) VALUES ($name, $at, $reason)
    ON CONFLICT (name) DO UPDATE SET fallen_back_at = excluded.fallen_back_at, reason = excluded.reason WHERE shadow_state.fallen_back_at IS NULL`);
  const reset = db.prepare<unknown, Params>(`INSERT INTO shadow_state (name, reset_at, window_start)
    VALUES ($name, $at, (SELECT COALESCE(MAX(id), 0) FROM shadow_comparisons))
    ON CONFLICT (name) DO UPDATE SET fallen_back_at = NULL, reason = NULL, reset_at = excluded.reset_at, window_start = excluded.window_start`);

  return {
    recordShadowComparison(c) {
      const result = insert.run({
        name: c.name,
        at: c.at,
        source: c.source,
        runId: c.runId ?? null,
        target: c.target ?? null,
        legacyExit: c.legacyExit,
        legacyDurationMs: c.legacyDurationMs,
        legacyError: c.legacyError ?? null,
        candidateExit: c.candidateExit,
        candidateDurationMs: c.candidateDurationMs,
        candidateError: c.candidateError ?? null,
        candidateFailed: c.candidateFailed ? 1 : 0,
        equal: c.equal ? 1 : 0,
        differs: c.differs.join(","),
        diff: c.diff,
      });
      return Number(result.lastInsertRowid);
    },
    shadowComparisons(name, options = {}) {
      const where = options.mismatchesOnly ? "AND equal = 0" : "";
      return db
        .query<ComparisonRow, { name: string; limit: number }>(`SELECT * FROM shadow_comparisons WHERE name = $name ${where} ORDER BY id DESC LIMIT $limit`)
        .all({ name, limit: options.limit ?? 20 })
        .map(toComparison);
    },
    shadowStats(filter = {}) {
      return db
        .query<ShadowStats, { name: string | null; source: string | null; afterId: number }>(
          `SELECT name, COUNT(*) AS comparisons, SUM(equal) AS agreed,
             SUM(equal = 0 AND legacy_error IS NULL) AS mismatched,
             SUM(legacy_error IS NOT NULL) AS legacyFailures,
             SUM(candidate_failed = 1 AND legacy_error IS NULL) AS candidateFailures,
             MIN(at) AS firstAt, MAX(at) AS lastAt
           FROM shadow_comparisons
           WHERE ($name IS NULL OR name = $name) AND ($source IS NULL OR source = $source) AND id > $afterId
           GROUP BY name ORDER BY name`,
        )
        .all({ name: filter.name ?? null, source: filter.source ?? null, afterId: filter.afterId ?? 0 });
    },
    getShadowState(name) {
      const row = getState.get({ name });
      return row ? toState(row) : undefined;
    },
    listShadowStates() {
      return db.query<StateRow, []>("SELECT * FROM shadow_state ORDER BY name").all().map(toState);
    },
    fallBackShadow(name, at, reason) {
      return fallBack.run({ name, at, reason }).changes > 0;
    },
    resetShadow(name, at) {
      return db.transaction(() => {
        const before = getState.get({ name });
        reset.run({ name, at });
        return before ? toState(before) : undefined;
      }).immediate();
    },
  };
}
