import { BINARY, present, type Row, type StoreOn } from "./postgres-sql.ts";
import type { ShadowAspect, ShadowComparisonRecord, ShadowStateRecord, ShadowStats, ShadowStore } from "./types.ts";

function toComparison(row: Row): ShadowComparisonRecord {
  return {
    id: row.id as number,
    name: row.name as string,
    at: row.at as number,
    source: row.source as ShadowComparisonRecord["source"],
    ...(row.run_id !== null ? { runId: row.run_id as string } : {}),
    ...(row.target !== null ? { target: row.target as string } : {}),
    legacyExit: row.legacy_exit as number | null,
    legacyDurationMs: row.legacy_duration_ms as number,
    ...(row.legacy_error !== null ? { legacyError: row.legacy_error as string } : {}),
    candidateExit: row.candidate_exit as number | null,
    candidateDurationMs: row.candidate_duration_ms as number,
    ...(row.candidate_error !== null ? { candidateError: row.candidate_error as string } : {}),
    candidateFailed: row.candidate_failed as boolean,
    equal: row.equal as boolean,
    differs: row.differs === "" ? [] : ((row.differs as string).split(",") as ShadowAspect[]),
    diff: row.diff as string,
  };
}

// Columns named, never *: a statement prepared by one replica stays valid when a newer one adds a column.
const comparisonColumns = `id, name, at, source, run_id, target, legacy_exit, legacy_duration_ms, legacy_error, candidate_exit, candidate_duration_ms, candidate_error,
  candidate_failed, equal, differs, diff`;
const stateFields = `name, fallen_back_at AS "fallenBackAt", reason, reset_at AS "resetAt", window_start AS "windowStart"`;

/** Shadow comparisons and each shadowed workflow's standing, on PostgreSQL (`differs` as in SQLite: aspects joined by commas). */
export const postgresShadowStore: StoreOn<ShadowStore> = {
  async recordShadowComparison(sql, c) {
    const [row] = await sql.rows<{ id: number }>(
      `INSERT INTO shadow_comparisons (name, at, source, run_id, target, legacy_exit, legacy_duration_ms, legacy_error,
          candidate_exit, candidate_duration_ms, candidate_error, candidate_failed, equal, differs, diff)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
      [
        c.name, c.at, c.source, c.runId ?? null, c.target ?? null, c.legacyExit, c.legacyDurationMs, c.legacyError,
        c.candidateExit, c.candidateDurationMs, c.candidateError, c.candidateFailed, c.equal, c.differs.join(","), c.diff,
      ],
    );
    return row!.id;
  },
  async shadowComparisons(sql, name, options = {}) {
    const where = options.mismatchesOnly ? "AND NOT equal" : "";
    return (await sql.rows(`SELECT ${comparisonColumns} FROM shadow_comparisons WHERE name = $1 ${where} ORDER BY id DESC LIMIT $2`, [name, options.limit ?? 20])).map(toComparison);
  },
  async shadowStats(sql, filter = {}) {
    return sql.rows<ShadowStats>(
      `SELECT name, count(*) AS comparisons, count(*) FILTER (WHERE equal) AS agreed,
          count(*) FILTER (WHERE NOT equal AND legacy_error IS NULL) AS mismatched,
          count(*) FILTER (WHERE legacy_error IS NOT NULL) AS "legacyFailures",
          count(*) FILTER (WHERE candidate_failed AND legacy_error IS NULL) AS "candidateFailures",
          min(at) AS "firstAt", max(at) AS "lastAt"
        FROM shadow_comparisons
        WHERE ($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR source = $2) AND id > $3
        GROUP BY name ORDER BY name ${BINARY}`,
      [filter.name ?? null, filter.source ?? null, filter.afterId ?? 0],
    );
  },
  async getShadowState(sql, name) {
    const [row] = await sql.rows(`SELECT ${stateFields} FROM shadow_state WHERE name = $1`, [name]);
    return row ? present<ShadowStateRecord>(row) : undefined;
  },
  async listShadowStates(sql) {
    return (await sql.rows(`SELECT ${stateFields} FROM shadow_state ORDER BY name ${BINARY}`)).map((row) => present<ShadowStateRecord>(row));
  },
  // Only a workflow not fallen back yet falls back: of two runs deciding at once, one records the fallback.
  async fallBackShadow(sql, name, at, reason) {
    const changed = await sql.changed(
      `INSERT INTO shadow_state (name, fallen_back_at, reason) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET fallen_back_at = excluded.fallen_back_at, reason = excluded.reason WHERE shadow_state.fallen_back_at IS NULL`,
      [name, at, reason],
    );
    return changed > 0;
  },
  // The state before and the new window (after the latest comparison) read and written with no other journal transaction between.
  resetShadow(sql, name, at) {
    return sql.serialized(async (locked) => {
      const [before] = await locked.rows(`SELECT ${stateFields} FROM shadow_state WHERE name = $1`, [name]);
      await locked.changed(
        `INSERT INTO shadow_state (name, reset_at, window_start) VALUES ($1, $2, (SELECT COALESCE(max(id), 0) FROM shadow_comparisons))
          ON CONFLICT (name) DO UPDATE SET fallen_back_at = NULL, reason = NULL, reset_at = excluded.reset_at, window_start = excluded.window_start`,
        [name, at],
      );
      return before ? present<ShadowStateRecord>(before) : undefined;
    });
  },
};
