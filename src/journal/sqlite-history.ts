import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import { writeInThread, type WriterPlan } from "./sqlite-history-thread.ts";
import { importWriter, type ImportStatements } from "./sqlite-import-writer.ts";
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

/** Rows written by one statement (a multi-row upsert): about a fifth less time a row than one statement each. */
const ROWS_PER_STATEMENT = 64;
const VALUES_PER_ROW = 17;
/** Rows an import writes under the full set of indexes before it considers dropping them (see bulkLoad). */
const BULK_MIN_ROWS = 20_000;
/**
 * Rows from which an import is written by a thread of its own while this one
 * reads them (sqlite-history-thread.ts); the first are held until then.
 * Measured on two cores: a million rows in 5.3-5.7 s instead of 6.1-6.2 s
 * (three runs each, interleaved); 100,000 and 300,000 rows about the same
 * either way.
 */
const THREAD_MIN_ROWS = 100_000;

const columns = `fingerprint, status, title, source, labels, annotations, service, severity, alertname,
  started_at, detected_at, acknowledged_at, remediation_started_at, resolved_at, escalated, escalated_at, automated, attempts, notifications,
  last_notified_at, resolution, origin, external_id`;
const rowValues = "(?, ?, ?, 'import', ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0, 0, ?, ?, ?, ?)";

/** The upsert of `rows` rows, by (origin, external_id): a re-import updates instead of duplicating. */
const upsertSql = (rows: number) => `INSERT INTO incidents (${columns}) VALUES ${Array.from({ length: rows }, () => rowValues).join(", ")}
  ON CONFLICT (origin, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
    status = excluded.status, title = excluded.title, labels = excluded.labels, service = excluded.service, severity = excluded.severity,
    alertname = excluded.alertname, started_at = excluded.started_at, detected_at = excluded.detected_at, acknowledged_at = excluded.acknowledged_at,
    remediation_started_at = excluded.remediation_started_at, resolved_at = excluded.resolved_at, escalated = excluded.escalated,
    last_notified_at = excluded.last_notified_at, resolution = excluded.resolution`;

type Value = string | number | null;

/** The upsert's parameters for the incident an import row stands for, written into `values` from `at` (in rowValues' order). */
function putValues(values: unknown[], at: number, row: ImportedIncident): void {
  const { labels } = row;
  const resolved = row.resolved ?? null;
  values[at] = `import:${row.origin}:${row.externalId}`;
  values[at + 1] = resolved === null ? "open" : "resolved";
  values[at + 2] = row.title;
  values[at + 3] = JSON.stringify(labels);
  values[at + 4] = labels.service ?? null;
  values[at + 5] = labels.severity ?? null;
  values[at + 6] = labels.alertname ?? row.title;
  values[at + 7] = row.started;
  // An export rarely knows when monitoring noticed: left empty, not set to the start (a 0s detection).
  values[at + 8] = row.detected ?? null;
  values[at + 9] = row.acknowledged ?? null;
  values[at + 10] = row.remediationStarted ?? null;
  values[at + 11] = resolved;
  values[at + 12] = row.escalated ? 1 : 0;
  values[at + 13] = resolved ?? row.started;
  values[at + 14] = resolved === null ? null : "imported";
  values[at + 15] = row.origin;
  values[at + 16] = row.externalId;
}

/**
 * Imported history in the SQLite journal. The whole import is one
 * transaction of upserts, ROWS_PER_STATEMENT rows a statement, with no reads
 * per row (sqlite-import-writer.ts). Rows may come lazily (the importer maps
 * each CSV row as it is asked for the next), so a large file is never held
 * whole.
 *
 * A large import into a table that holds few rows besides (a fresh journal,
 * a first import) is a bulk load: the other indexes are dropped and
 * re-created after the last row, in the same transaction. Measured on a
 * million rows into a fresh journal: about 5 s for the writes instead of
 * 8.4 s.
 *
 * From THREAD_MIN_ROWS rows on, outside a transaction of this connection,
 * a thread with its own connection writes (the same statements, the same
 * bulk load) while this one reads the rows.
 */
export function sqliteHistoryStore(db: Database): Synchronous<HistoryStore> {
  const writeAll = (rows: Iterable<ImportedIncident>) => {
    const writer = importWriter(db, importStatements);
    const values: Value[] = new Array<Value>(ROWS_PER_STATEMENT * VALUES_PER_ROW).fill(null);
    let pending = 0;
    for (const row of rows) {
      putValues(values, pending * VALUES_PER_ROW, row);
      if (++pending < ROWS_PER_STATEMENT) continue;
      writer.many(values);
      pending = 0;
    }
    for (let k = 0; k < pending; k++) writer.one(values.slice(k * VALUES_PER_ROW, (k + 1) * VALUES_PER_ROW));
    return writer.finish();
  };
  // Made at the first import, not at every open of the journal.
  let importAll: { immediate: typeof writeAll } | undefined;
  return {
    importIncidents(rows) {
      if (Array.isArray(rows) && rows.length === 0) return { inserted: 0, updated: 0 };
      // Inside a transaction of this connection, or without a file, another connection could not write.
      importAll ??= db.transaction(writeAll);
      if (db.inTransaction || db.filename === "" || db.filename === ":memory:") return importAll.immediate(rows);
      const iterator = rows[Symbol.iterator]();
      const first: ImportedIncident[] = [];
      for (let next = iterator.next(); !next.done; next = iterator.next()) {
        first.push(next.value);
        if (first.length === THREAD_MIN_ROWS) return writeInThread(writerPlan(db), first, iterator, putValues);
      }
      return importAll.immediate(first);
    },
  };
}

/** The statements an import writes with, on this connection or the writer thread's. */
const importStatements: ImportStatements = {
  valuesPerRow: VALUES_PER_ROW,
  rowsPerStatement: ROWS_PER_STATEMENT,
  upsertOne: upsertSql(1),
  upsertMany: upsertSql(ROWS_PER_STATEMENT),
  bulkMinRows: BULK_MIN_ROWS,
  historyIndex,
};

/** What the writer thread needs: this connection's file and settings, and the same statements. */
function writerPlan(db: Database): WriterPlan {
  return {
    location: db.filename,
    synchronous: db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous,
    busyTimeoutMs: db.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()!.timeout,
    statements: importStatements,
  };
}
