import type { Database } from "bun:sqlite";

/** How an import's rows are written: the statements' text and shape, the same on whichever connection writes. */
export interface ImportStatements {
  valuesPerRow: number;
  rowsPerStatement: number;
  /** The upsert of one row, and of rowsPerStatement rows. */
  upsertOne: string;
  upsertMany: string;
  /** Rows written under the full set of indexes before a bulk load is considered. */
  bulkMinRows: number;
  /** The upsert's unique key: the one index a bulk load keeps. */
  historyIndex: string;
}

export interface ImportWriter {
  /** Writes rowsPerStatement rows: valuesPerRow values each, in order. */
  many(values: readonly unknown[]): void;
  /** Writes one row's values. */
  one(values: readonly unknown[]): void;
  /** Re-creates what a bulk load dropped and counts the rows new and updated; the caller commits. */
  finish(): { inserted: number; updated: number };
}

/**
 * The writing of one import on a connection inside the import's
 * transaction: upserts, and the bulk load. Once it has written more rows
 * than the table held before it (checked at bulkMinRows rows and each
 * doubling after), the incidents table's indexes but the upsert's key are
 * dropped (read from sqlite_master, so any index added later is kept too)
 * and re-created by finish(), in the same transaction. Building an index
 * once over the loaded table (a sort) is much cheaper than keeping it up to
 * date row by row: measured on a million imported rows, about 1.5 s to build
 * the five against about 3 s to maintain them; the re-creation lets SQLite's
 * sorter use a second thread (PRAGMA threads, this connection only,
 * restored after), 1.35 s instead of 1.7 s. New rows are counted once at the
 * end by id, since AUTOINCREMENT hands out ids above every id the table has
 * had.
 *
 * It refers to nothing outside its arguments: its source (toString) is part
 * of the import's writer thread's code, which travels as text
 * (sqlite-history-thread.ts).
 */
export function importWriter(db: Database, statements: ImportStatements): ImportWriter {
  const upsertOne = db.prepare(statements.upsertOne);
  const upsertMany = db.prepare(statements.upsertMany);
  const countSince = db.prepare<{ n: number }, [number]>("SELECT COUNT(*) AS n FROM incidents WHERE id > ?");
  const before = db.query<{ id: number }, []>("SELECT COALESCE(MAX(id), 0) AS id FROM incidents").get()!.id;
  let written = 0;
  let nextCheck = statements.bulkMinRows;
  let tableBefore: number | undefined;
  let recreate: string[] | undefined;
  return {
    many(values) {
      upsertMany.run(...(values as never[]));
      written += statements.rowsPerStatement;
      if (recreate !== undefined || written < nextCheck) return;
      nextCheck *= 2;
      // Rows the table held before this import: every row now less those it added.
      tableBefore ??= db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM incidents").get()!.n - countSince.get(before)!.n;
      if (written <= tableBefore) return;
      const indexes = db
        .query<{ name: string; sql: string }, [string]>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'incidents' AND sql IS NOT NULL AND name <> ?")
        .all(statements.historyIndex);
      // The names come from sqlite_master, quoted as identifiers.
      for (const { name } of indexes) db.exec(`DROP INDEX "${name.replaceAll('"', '""')}"`);
      recreate = indexes.map((index) => index.sql);
    },
    one(values) {
      upsertOne.run(...(values as never[]));
      written++;
    },
    finish() {
      if (recreate !== undefined) {
        const { threads } = db.query<{ threads: number }, []>("PRAGMA threads").get()!;
        db.exec("PRAGMA threads = 2");
        try {
          for (const sql of recreate) db.exec(sql);
        } finally {
          db.exec(`PRAGMA threads = ${Number(threads)}`);
        }
      }
      const inserted = countSince.get(before)!.n;
      return { inserted, updated: written - inserted };
    },
  };
}
