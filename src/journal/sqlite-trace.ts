import type { Database } from "bun:sqlite";

/**
 * Each run's and each incident's W3C trace id (trace_id), so a trace in a
 * collector leads back to its run or incident and the other way round. A
 * journal written before the columns existed gains them in place, under the
 * write lock; its older rows have none.
 */
export function migrateTraceIds(db: Database): void {
  const missing = (table: string) => !db.query<{ name: string }, []>(`PRAGMA table_info(${table})`).all().some((c) => c.name === "trace_id");
  if (!missing("runs") && !missing("incidents")) return;
  db.transaction(() => {
    if (missing("runs")) db.exec("ALTER TABLE runs ADD COLUMN trace_id TEXT");
    if (missing("incidents")) db.exec("ALTER TABLE incidents ADD COLUMN trace_id TEXT");
  }).immediate();
}
