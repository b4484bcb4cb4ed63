import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import { analyticsIndex } from "./sqlite-mttr.ts";
import type { HistoryStore, ImportedIncident } from "./types.ts";

/** Columns that imported history adds to `incidents`: which tool's export a row came from, and that tool's id for it. */
const historyColumns = [
  ["origin", "TEXT"],
  ["external_id", "TEXT"],
] as const;
const historyIndex = "incidents_origin_external";

function missingHistory(db: Database): { columns: (typeof historyColumns)[number][]; index: boolean; analytics: boolean } {
  const present = new Set(db.query<{ name: string }, []>("PRAGMA table_info(incidents)").all().map((c) => c.name));
  const indexes = new Set(db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'incidents'").all().map((i) => i.name));
  // incidents_mttr begins with (service, started_at): the older index on those two alone only slows every write.
  return { columns: historyColumns.filter(([name]) => !present.has(name)), index: !indexes.has(historyIndex), analytics: !indexes.has("incidents_mttr") || indexes.has("incidents_service") };
}

/**
 * Adds what imported history and its analytics need to the incidents table
 * (run after the incident schema): the import's columns and unique key, and
 * the index MTTR reads (sqlite-mttr.ts; built once when a journal written
 * before it opens, about 2 s for a million incidents). The check repeats
 * under the write lock, so two processes opening the same old journal do
 * not both add the columns.
 */
export function migrateHistory(db: Database): void {
  const first = missingHistory(db);
  if (first.columns.length === 0 && !first.index && !first.analytics) return;
  db.transaction(() => {
    const missing = missingHistory(db);
    // Names and types come from the constant list above, never from input.
    for (const [name, type] of missing.columns) db.exec(`ALTER TABLE incidents ADD COLUMN ${name} ${type}`);
    // One row per incident of the other tool: a re-import updates instead of duplicating.
    if (missing.index) db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${historyIndex} ON incidents (origin, external_id) WHERE external_id IS NOT NULL`);
    if (missing.analytics) db.exec(`${analyticsIndex}; DROP INDEX IF EXISTS incidents_service`);
  }).immediate();
}

type Params = Record<string, string | number | null>;

/** The upsert's parameters: the incident an import row stands for. */
function importValues(row: ImportedIncident): Params {
  const { labels } = row;
  const resolved = row.resolved ?? null;
  return {
    fingerprint: `import:${row.origin}:${row.externalId}`,
    status: resolved === null ? "open" : "resolved",
    title: row.title,
    labels: JSON.stringify(labels),
    service: labels.service ?? null,
    severity: labels.severity ?? null,
    alertname: labels.alertname ?? row.title,
    started: row.started,
    // An export rarely knows when monitoring noticed: left empty, not set to the start (a 0s detection).
    detected: row.detected ?? null,
    acknowledged: row.acknowledged ?? null,
    remediationStarted: row.remediationStarted ?? null,
    resolved,
    escalated: row.escalated ? 1 : 0,
    lastNotifiedAt: resolved ?? row.started,
    resolution: resolved === null ? null : "imported",
    origin: row.origin,
    externalId: row.externalId,
  };
}

/**
 * Imported history in the SQLite journal. The whole import is one
 * transaction of one prepared upsert per row, with no reads per row: new rows
 * are counted once at the end by id, since AUTOINCREMENT hands out ids above
 * every id the table has had. Measured on a million rows with the table's
 * indexes: about 9 µs a row inserted, 7 µs updated; named parameters bound
 * slightly faster than positional ones, and a larger page cache did not help.
 */
export function sqliteHistoryStore(db: Database): Synchronous<HistoryStore> {
  const upsert = db.prepare<unknown, Params>(`INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, service, severity, alertname,
      started_at, detected_at, acknowledged_at, remediation_started_at, resolved_at, escalated, escalated_at, automated, attempts, notifications,
      last_notified_at, resolution, origin, external_id)
    VALUES ($fingerprint, $status, $title, 'import', $labels, '{}', $service, $severity, $alertname, $started, $detected, $acknowledged,
      $remediationStarted, $resolved, $escalated, NULL, 0, 0, 0, $lastNotifiedAt, $resolution, $origin, $externalId)
    ON CONFLICT (origin, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
      status = excluded.status, title = excluded.title, labels = excluded.labels, service = excluded.service, severity = excluded.severity,
      alertname = excluded.alertname, started_at = excluded.started_at, detected_at = excluded.detected_at, acknowledged_at = excluded.acknowledged_at,
      remediation_started_at = excluded.remediation_started_at, resolved_at = excluded.resolved_at, escalated = excluded.escalated,
      last_notified_at = excluded.last_notified_at, resolution = excluded.resolution`);
  const highestId = db.prepare<{ id: number }, []>("SELECT COALESCE(MAX(id), 0) AS id FROM incidents");
  const countSince = db.prepare<{ n: number }, { id: number }>("SELECT COUNT(*) AS n FROM incidents WHERE id > $id");

  const importAll = db.transaction((rows: readonly ImportedIncident[]) => {
    const before = highestId.get()!.id;
    for (const row of rows) upsert.run(importValues(row));
    const inserted = countSince.get({ id: before })!.n;
    return { inserted, updated: rows.length - inserted };
  });

  return {
    importIncidents(rows) {
      if (rows.length === 0) return { inserted: 0, updated: 0 };
      return importAll.immediate(rows);
    },
  };
}
