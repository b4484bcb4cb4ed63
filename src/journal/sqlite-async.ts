import type { Database, Statement } from "bun:sqlite";
import { transactionMisuse as misuse } from "./errors.ts";
import { journalFailure } from "./sqlite-errors.ts";
import type { Journal, JournalTx } from "./types.ts";

/** A store as the SQLite code implements it: the same methods, returning their values instead of promises. */
export type Synchronous<S> = { [K in keyof S]: S[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : S[K] };

/** Everything the journal does but transactions, written synchronously on bun:sqlite. */
export type SyncJournal = Synchronous<Omit<Journal, "transaction" | "location">>;

type Method = (...args: unknown[]) => unknown;

/**
 * The journal's asynchronous face on the synchronous SQLite stores. One
 * connection serves the process, so a transaction, which may wait between
 * its statements, holds the connection's turn: work asked of the journal
 * meanwhile waits for it, in the order asked (FIFO), and a second
 * transaction waits too. Work asked while nobody holds the turn runs at once,
 * inside the call, as it did when the journal was synchronous: a run's
 * journal sink still writes a step's start before the step's action runs.
 * Failures SQLite reports about the file (read-only, damaged, full) become
 * OpsErrors naming it (journalFailure), wherever they are met.
 *
 * Work on the journal itself from inside a transaction's callback waits for
 * that transaction, which waits for the callback: it never finishes. Telling
 * such a call apart (AsyncLocalStorage) measured about 5 µs on every await
 * inside a transaction, doubling the cost of the healer's batches, so the
 * contract says "use tx" instead.
 */
export function asyncSqliteJournal(db: Database, sync: SyncJournal, options: { location: string; rolledBack: () => void }): Journal {
  const { location, rolledBack } = options;
  const queue: (() => void)[] = [];
  let busy = false;
  let closed = false;

  const waitTurn = () => new Promise<void>((resolve) => queue.push(resolve));
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else busy = false;
  };
  const call = (method: Method, args: unknown[]): unknown => {
    try {
      return method(...args);
    } catch (error) {
      throw journalFailure(error, location) ?? error;
    }
  };
  /** Work asked of the journal itself; once it is closed, everything but another close is refused. */
  const perform = (name: string, method: Method, args: unknown[]): unknown => {
    if (closed) {
      if (name === "close") return undefined;
      throw new Error(`journal.${name} called after the journal at ${location} was closed`);
    }
    const value = call(method, args);
    if (name === "close") closed = true;
    return value;
  };
  const outer = (name: string, method: Method) => (...args: unknown[]): Promise<unknown> => {
    if (!busy) {
      try {
        return Promise.resolve(perform(name, method, args));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return waitTurn().then(() => {
      try {
        return perform(name, method, args);
      } finally {
        release();
      }
    });
  };

  /** SAVEPOINT, RELEASE and ROLLBACK TO at each depth, prepared once: a batch takes hundreds of savepoints. */
  const savepoints: { open: Statement; release: Statement; undo: Statement }[] = [];
  const savepointAt = (depth: number) =>
    (savepoints[depth] ??= { open: db.prepare(`SAVEPOINT s${depth}`), release: db.prepare(`RELEASE s${depth}`), undo: db.prepare(`ROLLBACK TO s${depth}`) });

  /** Runs fn at one depth: 0 is the transaction (BEGIN IMMEDIATE, taken before), above 0 a savepoint. */
  async function scope<T>(fn: (tx: JournalTx) => Promise<T>, depth: number): Promise<T> {
    const view = Object.create(transactionFace) as TransactionView;
    view.open = true;
    view.nested = false;
    view.depth = depth;
    try {
      const value = await fn(view as unknown as JournalTx);
      call(() => (depth === 0 ? db.exec("COMMIT") : savepointAt(depth).release.run()), []);
      return value;
    } catch (error) {
      try {
        if (depth > 0) {
          savepointAt(depth).undo.run();
          savepointAt(depth).release.run();
        } else if (db.inTransaction) db.exec("ROLLBACK");
      } catch {
        // A failing file may refuse the rollback too; SQLite rolls back on its own then, and the first error is the one to report.
      }
      rolledBack();
      throw error;
    } finally {
      view.open = false;
    }
  }

  /**
   * The stores bound to one transaction (or savepoint), usable while it is
   * open and no savepoint of it is under way. Every scope is an object of
   * three fields over one prototype that holds the methods, built once: a
   * view of its own per savepoint (some 70 closures) measured at about a
   * third of the healer's cost per notification.
   */
  interface TransactionView {
    open: boolean;
    nested: boolean;
    depth: number;
  }
  const transactionFace: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(sync)) {
    if (typeof method !== "function" || name === "close" || name === "health") continue;
    transactionFace[name] = function (this: TransactionView, ...args: unknown[]): Promise<unknown> {
      const refused = misuse(this, name);
      if (refused) return Promise.reject(refused);
      try {
        return Promise.resolve(call(method as Method, args));
      } catch (error) {
        return Promise.reject(error);
      }
    };
  }
  transactionFace.transaction = async function <T>(this: TransactionView, fn: (tx: JournalTx) => Promise<T>): Promise<T> {
    const refused = misuse(this, "transaction");
    if (refused) throw refused;
    this.nested = true;
    try {
      call(() => savepointAt(this.depth + 1).open.run(), []);
      return await scope(fn, this.depth + 1);
    } finally {
      this.nested = false;
    }
  };

  const journal: Record<string, unknown> = { location };
  for (const [name, method] of Object.entries(sync)) {
    if (typeof method === "function") journal[name] = outer(name, method as Method);
  }
  journal.transaction = async <T>(fn: (tx: JournalTx) => Promise<T>): Promise<T> => {
    if (busy) await waitTurn();
    else busy = true;
    try {
      if (closed) throw new Error(`journal.transaction called after the journal at ${location} was closed`);
      // The write lock up front: a read-then-write never fails on lock upgrade when another process shares the file.
      call(() => db.exec("BEGIN IMMEDIATE"), []);
      return await scope(fn, 0);
    } finally {
      release();
    }
  };
  return journal as unknown as Journal;
}
