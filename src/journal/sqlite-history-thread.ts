import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import { importWriter, type ImportStatements } from "./sqlite-import-writer.ts";

/**
 * A writer thread for a large import. SQLite writes in the thread that asks,
 * and an import's rows are read (the CSV split, mapped, checked) in the same
 * thread as they are written: on two cores, that thread reads and hands over
 * batches of values while this one, with its own connection to the journal
 * file, writes them in one transaction. The caller blocks until the thread
 * has committed or rolled back (the store is synchronous); an error while
 * reading the rows rolls the thread's transaction back, as does one of
 * SQLite's, which the caller then throws with its code.
 */

/**
 * Rows a message carries, as JSON text: copying a string to the thread and
 * JSON.parse there measured about 1.5 s less CPU over a million rows than
 * posting the values themselves (structured clone), which made the thread
 * slower than none.
 */
export const ROWS_PER_BATCH = 1024;
/** Batches handed over and not yet written before the reader waits: bounds the memory when the writer is the slower. */
const MAX_IN_FLIGHT = 16;
/** How long the caller waits for the thread's answer before it gives up (the transaction is then the thread's to roll back). */
const WAIT_BOUND_MS = 600_000;

/** Slots of the shared state: batches written; the thread's stage. */
const WRITTEN = 0;
const STAGE = 1;
/** The thread's stages: writing, finished (its answer posted). */
const FINISHED = 1;

/** What the thread needs to write: the statements are the store's, the same text as on the caller's connection. */
export interface WriterPlan {
  location: string;
  /** The caller's PRAGMA synchronous, kept for the thread's commit (FULL for a durable journal). */
  synchronous: number;
  busyTimeoutMs: number;
  statements: ImportStatements;
}

// The thread's code travels as text (a Blob URL): a compiled opskit carries it without a second entry point.
// It writes with the same importWriter as the caller's connection (which refers to nothing outside itself).
const threadSource = () => `
import { Database } from "bun:sqlite";
const importWriter = ${importWriter.toString()};
self.onmessage = (event) => {
  const { plan, state, port } = event.data;
  const shared = new Int32Array(state);
  const finish = (answer) => {
    port.postMessage(answer);
    Atomics.store(shared, ${STAGE}, ${FINISHED});
    Atomics.notify(shared, ${STAGE});
    port.close();
  };
  let db;
  let writer;
  const fail = (error) => {
    try { if (db?.inTransaction) db.exec("ROLLBACK"); } catch {}
    try { db?.close(); } catch {}
    finish({ error: { message: String(error?.message ?? error), code: error?.code } });
  };
  try {
    db = new Database(plan.location);
    db.exec("PRAGMA busy_timeout = " + Number(plan.busyTimeoutMs) + "; PRAGMA synchronous = " + Number(plan.synchronous));
    db.exec("BEGIN IMMEDIATE");
    writer = importWriter(db, plan.statements);
  } catch (error) {
    return fail(error);
  }
  const { valuesPerRow, rowsPerStatement } = plan.statements;
  const perStatement = valuesPerRow * rowsPerStatement;
  port.onmessage = ({ data }) => {
    if (db === undefined) return;
    try {
      if (data.abort) {
        db.exec("ROLLBACK");
        db.close();
        db = undefined;
        return finish({ aborted: true });
      }
      if (data.json) {
        const values = JSON.parse(data.json);
        let at = 0;
        for (; at + perStatement <= values.length; at += perStatement) writer.many(values.slice(at, at + perStatement));
        for (; at < values.length; at += valuesPerRow) writer.one(values.slice(at, at + valuesPerRow));
        Atomics.add(shared, ${WRITTEN}, 1);
        Atomics.notify(shared, ${WRITTEN});
        return;
      }
      const answer = writer.finish();
      db.exec("COMMIT");
      db.close();
      db = undefined;
      finish(answer);
    } catch (error) {
      fail(error);
      db = undefined;
    }
  };
};
`;

let threadUrl: string | undefined;

/**
 * Writes `first` and then every row `rest` gives, through the thread, in one
 * transaction on its own connection; `put` turns a row into its values.
 */
export function writeInThread<Row>(plan: WriterPlan, first: readonly Row[], rest: Iterator<Row>, put: (values: unknown[], at: number, row: Row) => void): { inserted: number; updated: number } {
  threadUrl ??= URL.createObjectURL(new Blob([threadSource()], { type: "application/javascript" }));
  const state = new SharedArrayBuffer(8);
  const shared = new Int32Array(state);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(threadUrl);
  worker.postMessage({ plan, state, port: port2 }, [port2]);
  const finished = () => Atomics.load(shared, STAGE) === FINISHED;
  let posted = 0;
  // Sent as text at once, so one array serves every batch.
  const { valuesPerRow } = plan.statements;
  const values: unknown[] = new Array(ROWS_PER_BATCH * valuesPerRow);
  let count = 0;
  const post = (length: number) => {
    port1.postMessage({ json: JSON.stringify(length === values.length ? values : values.slice(0, length)) });
    posted++;
    count = 0;
    // Wait while the writer is far behind (or until it has finished, having failed).
    while (posted - Atomics.load(shared, WRITTEN) > MAX_IN_FLIGHT && !finished()) Atomics.wait(shared, WRITTEN, Atomics.load(shared, WRITTEN), 100);
  };
  let readError: { error: unknown } | undefined;
  try {
    try {
      for (const row of first) {
        put(values, count++ * valuesPerRow, row);
        if (count === ROWS_PER_BATCH) post(values.length);
      }
      for (let next = rest.next(); !next.done && !finished(); next = rest.next()) {
        put(values, count++ * valuesPerRow, next.value);
        if (count === ROWS_PER_BATCH) post(values.length);
      }
      if (count > 0 && !finished()) post(count * valuesPerRow);
      port1.postMessage({ end: true });
    } catch (error) {
      readError = { error };
      port1.postMessage({ abort: true });
    }
    if (Atomics.wait(shared, STAGE, 0, WAIT_BOUND_MS) === "timed-out") throw new Error(`the import's writer thread did not answer in ${WAIT_BOUND_MS / 1000} s`);
    const answer = receiveMessageOnPort(port1)?.message as { inserted: number; updated: number } | { error: { message: string; code?: string } } | { aborted: true } | undefined;
    if (readError) throw readError.error;
    if (answer === undefined || "aborted" in answer) throw new Error("the import's writer thread stopped without an answer");
    if ("error" in answer) throw Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {});
    return answer;
  } finally {
    port1.close();
    worker.terminate();
  }
}
