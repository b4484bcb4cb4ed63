// What the PostgreSQL stores write with: statements with bound values on the
// pool or inside a journal transaction (postgres.ts makes both), and the small
// conversions every store shares.

export type Row = Record<string, unknown>;

/**
 * Where a store method runs: on the pool (each statement its own commit) or
 * on the connection of a journal transaction. Values are always bound
 * parameters; the SQL text comes from the code, never from a value.
 */
export interface Sql {
  /** The rows of one statement. */
  rows<R = Row>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** How many rows one statement inserted, updated or deleted. */
  changed(text: string, values?: readonly unknown[]): Promise<number>;
  /**
   * `fn` all or nothing: its own transaction on one connection, or, inside a
   * journal transaction, a savepoint of it (a failure undoes only fn's work).
   * `isolation` applies to a transaction of its own (a consistent read of
   * several statements).
   */
  atomic<T>(fn: (sql: Sql) => Promise<T>, options?: { isolation?: "repeatable read" }): Promise<T>;
  /**
   * `fn` as one transaction holding the journal's lock, so no other journal
   * transaction of any process runs in between (a read and then a write);
   * inside a journal transaction, which holds the lock, fn is part of it.
   */
  serialized<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  /** What the journal remembers across calls (see JournalMemory). */
  readonly memory: JournalMemory;
}

/** Per journal: the next event number of each run this process writes (as the SQLite journal keeps it). */
export interface JournalMemory {
  eventSequence: Map<string, Promise<number>>;
}

/** A store's methods as the PostgreSQL journal implements them: the same, with where they run first. */
export type StoreOn<S> = { [K in keyof S]-?: S[K] extends (...args: infer A) => infer R ? (sql: Sql, ...args: A) => R : never };

/**
 * A value as it is bound: undefined is NULL, and since PostgreSQL's text
 * cannot hold NUL, which SQLite keeps (command output, a label from a
 * webhook), a NUL in a string, or in a string of an array, becomes U+FFFD;
 * every other character is kept. Lookups bind the same way, so a value
 * written with a NUL is found again by itself.
 */
export function bindable(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "string") return value.includes("\0") ? value.replaceAll("\0", "\uFFFD") : value;
  if (Array.isArray(value) && value.some((item) => typeof item === "string" && item.includes("\0"))) return value.map(bindable);
  return value;
}

/** A JSON value for a json column: its text as JSON.stringify writes it (json keeps the text as given, key order included). */
export function json(value: unknown): string {
  return JSON.stringify(value);
}

/** Copies the row's non-null columns: NULL is an absent optional field. */
export function present<T>(row: Row): T {
  const out: Row = {};
  for (const key in row) if (row[key] !== null && row[key] !== undefined) out[key] = row[key];
  return out as T;
}

/** `col = $n, …` for the fields present in a patch (undefined leaves a field as it is), from a fixed map of names. */
export function setList(columns: Record<string, string>, patch: Record<string, unknown>, values: unknown[]): string[] {
  const sets: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    if (patch[field] === undefined) continue;
    values.push(patch[field]);
    sets.push(`${column} = $${values.length}`);
  }
  return sets;
}

/** Binary order for text, as SQLite sorts: ORDER BY x COLLATE "C" (the database's own collation may sort otherwise). */
export const BINARY = 'COLLATE "C"';
