import { json, type Sql, type StoreOn } from "./postgres-sql.ts";
import type { HistoryStore, ImportedIncident } from "./types.ts";

/**
 * Rows written by one statement. Each statement carries its rows as one
 * array per column (13 parameters, whatever the count), so its text and its
 * prepared plan are the same for every batch.
 */
const ROWS_PER_STATEMENT = 2_000;

// The same rows the SQLite journal writes (sqlite-history.ts): source 'import', open until resolved,
// the alertname label else the title, last notified at the resolution else the start. `xmax = 0` tells a
// row this statement inserted from one it updated, so the counts need no second read.
const upsert = `WITH written AS (
    INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, service, severity, alertname,
      started_at, detected_at, acknowledged_at, remediation_started_at, resolved_at, escalated, automated, attempts, notifications,
      last_notified_at, resolution, origin, external_id)
    SELECT 'import:' || origin || ':' || external_id, CASE WHEN resolved IS NULL THEN 'open' ELSE 'resolved' END, title, 'import', labels::json, '{}',
      service, severity, alertname, started, detected, acknowledged, remediation_started, resolved, escalated, false, 0, 0,
      COALESCE(resolved, started), CASE WHEN resolved IS NULL THEN NULL ELSE 'imported' END, origin, external_id
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::boolean[])
      AS row (origin, external_id, title, labels, service, severity, alertname, started, detected, acknowledged, remediation_started, resolved, escalated)
    ON CONFLICT (origin, external_id) DO UPDATE SET
      status = excluded.status, title = excluded.title, labels = excluded.labels, service = excluded.service, severity = excluded.severity,
      alertname = excluded.alertname, started_at = excluded.started_at, detected_at = excluded.detected_at, acknowledged_at = excluded.acknowledged_at,
      remediation_started_at = excluded.remediation_started_at, resolved_at = excluded.resolved_at, escalated = excluded.escalated,
      last_notified_at = excluded.last_notified_at, resolution = excluded.resolution
    RETURNING xmax = 0 AS inserted
  )
  SELECT count(*) FILTER (WHERE inserted) AS inserted FROM written`;

/** One statement's rows, column by column. */
class Columns {
  readonly arrays: unknown[][] = Array.from({ length: 13 }, () => []);
  /** Each (origin, externalId) once: a statement may not update a row twice, so a later row of the same incident replaces an earlier one. */
  private readonly at = new Map<string, number>();
  /** Rows given, repeats in the statement included (each counts as written, as in the SQLite journal). */
  given = 0;

  add(row: ImportedIncident): void {
    this.given++;
    const key = JSON.stringify([row.origin, row.externalId]);
    const index = this.at.get(key) ?? this.arrays[0]!.length;
    this.at.set(key, index);
    const { labels } = row;
    const values = [
      row.origin, row.externalId, row.title, json(labels), labels.service, labels.severity, labels.alertname ?? row.title,
      // An export rarely knows when monitoring noticed: left empty, not set to the start (a 0s detection).
      row.started, row.detected ?? null, row.acknowledged ?? null, row.remediationStarted ?? null, row.resolved ?? null, row.escalated === true,
    ];
    values.forEach((value, i) => (this.arrays[i]![index] = value));
  }
}

async function writeColumns(sql: Sql, columns: Columns): Promise<{ inserted: number; written: number }> {
  const [row] = await sql.rows<{ inserted: number }>(upsert, columns.arrays);
  return { inserted: row!.inserted, written: columns.given };
}

/**
 * Imported history on PostgreSQL: every row in one transaction (all or
 * nothing), written ROWS_PER_STATEMENT rows a statement as the rows are
 * read, so an import of any size holds one statement's rows at a time.
 */
export const postgresHistoryStore: StoreOn<HistoryStore> = {
  importIncidents(sql, rows) {
    if (Array.isArray(rows) && rows.length === 0) return Promise.resolve({ inserted: 0, updated: 0 });
    return sql.atomic(async (tx) => {
      let [inserted, written] = [0, 0];
      let columns = new Columns();
      for (const row of rows) {
        columns.add(row);
        if (columns.given < ROWS_PER_STATEMENT) continue;
        const done = await writeColumns(tx, columns);
        [inserted, written] = [inserted + done.inserted, written + done.written];
        columns = new Columns();
      }
      if (columns.given > 0) {
        const done = await writeColumns(tx, columns);
        [inserted, written] = [inserted + done.inserted, written + done.written];
      }
      return { inserted, updated: written - inserted };
    });
  },
};
