import pg from "pg";
import type { PoolClient, QueryResult } from "pg";
import { ExitCode, OpsError } from "../errors.ts";
import { transactionMisuse as misuse } from "./errors.ts";
import { connectionBroken, journalUnavailable, postgresFailure } from "./postgres-errors.ts";
import { postgresBrowseStore } from "./postgres-browse.ts";
import { postgresClusterStore } from "./postgres-cluster.ts";
import { postgresHistoryStore } from "./postgres-history.ts";
import { postgresIncidentStore } from "./postgres-incidents.ts";
import { postgresAnalyticsStore } from "./postgres-mttr.ts";
import { postgresRunStore } from "./postgres-runs.ts";
import { LOCK_JOURNAL, LOCK_NAMESPACE, migrate, SCHEMA_VERSION } from "./postgres-schema.ts";
import { postgresScheduleStore } from "./postgres-schedules.ts";
import { postgresShadowStore } from "./postgres-shadow.ts";
import { postgresSilenceStore } from "./postgres-silences.ts";
import { bindable, type JournalMemory, type Sql } from "./postgres-sql.ts";
import { maskPostgresUrl, registerPostgresSecrets } from "./postgres-url.ts";
import type { BatchHint, Journal, JournalTx } from "./types.ts";

export interface PostgresJournalOptions {
  /** Connections the journal keeps at most (default 10): a journal transaction holds one, every other call one while it runs. */
  poolSize?: number;
  /**
   * Migrate the database up to this version at most, and refuse one that is
   * past it: the journal as an older build of opskit sees it (rolling
   * restart tests). Default: every migration this build has.
   */
  schemaVersion?: number;
  /** How long to wait for a connection (default 5 s). */
  connectTimeoutMs?: number;
  /** The server cancels a statement running longer (default 120 s). */
  statementTimeoutMs?: number;
  /** A statement waiting longer for a lock (the journal's, another transaction's row) fails (default 30 s). */
  lockTimeoutMs?: number;
}

/** How long health() waits for SELECT 1. */
const HEALTH_TIMEOUT_MS = 2_000;

/**
 * Batches on PostgreSQL (heal/processing.ts): a transaction waits on the
 * network, so requests are answered meanwhile and what a long one holds is
 * the journal's lock, which other replicas' transactions wait for. Each
 * statement is a round trip (50-150 µs): a 3 ms slice, as on SQLite, applied
 * 1-16 notifications of a storm per lock, and 2,000-3,500 a second.
 */
const BATCHING: BatchHint = { sliceMs: 50, optimistic: true };

/** int8 and numeric as numbers (epoch ms, ids and counts are far below 2^53), everything else as pg parses it. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser,
};

/** Each statement's text is prepared once per connection under a name of its own. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) statementNames.set(text, (name = `opskit_${statementNames.size + 1}`));
  return name;
}

function query(client: PoolClient, text: string, values?: readonly unknown[]): Promise<QueryResult> {
  return client.query({ name: statementName(text), text, values: values?.map(bindable) });
}

const LOCK = "SELECT pg_advisory_xact_lock($1::int4, $2::int4)";

function rolledBackAtCommit(): OpsError {
  return new OpsError({
    code: "E_JOURNAL_ROLLED_BACK",
    message: "the journal transaction was rolled back at its commit: a statement in it failed and its error was caught, so nothing it wrote was kept",
    hint: "wrap work that may fail and go on inside tx.transaction (a savepoint), so its failure undoes only its own work",
    exitCode: ExitCode.internal,
  });
}

/** A FIFO turn: this process's journal transactions wait here, not on a connection each. */
class Turn {
  #queue: (() => void)[] = [];
  #busy = false;
  async take(): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return;
    }
    await new Promise<void>((resolve) => this.#queue.push(resolve));
  }
  release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#busy = false;
  }
}

/**
 * The connections: each call takes one from the pool and gives it back, or
 * drops it when its connection broke (the pool opens a new one when one is
 * needed again, so the journal recovers by itself once PostgreSQL answers).
 */
function connections(pool: pg.Pool, memory: JournalMemory) {
  const broken = new WeakSet<PoolClient>();
  // While a client is out of the pool, its idle error handler is off: an error then (the server
  // went away between two statements of a transaction) must not go unhandled and end the process.
  const markBroken = function (this: PoolClient) {
    broken.add(this);
  };

  async function onClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    client.on("error", markBroken);
    let failure: unknown;
    try {
      return await fn(client);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      client.removeListener("error", markBroken);
      const drop = broken.has(client) || (failure !== undefined && connectionBroken(failure));
      client.release(drop ? ((failure as Error | undefined) ?? new Error("connection broken")) : undefined);
    }
  }

  /** One transaction on a connection of its own: BEGIN, the journal lock when asked, fn, COMMIT (ROLLBACK when anything fails). */
  function transaction<T>(fn: (sql: Sql) => Promise<T>, options: { lock: boolean; isolation?: "repeatable read" }): Promise<T> {
    return onClient(async (client) => {
      await query(client, options.isolation === "repeatable read" ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN");
      let sql: TransactionSql | undefined;
      try {
        if (options.lock) await query(client, LOCK, [LOCK_NAMESPACE, LOCK_JOURNAL]);
        sql = new TransactionSql(client, memory, options.lock);
        const value = await fn(sql);
        await sql.idle();
        // A statement that failed inside (its error caught by the caller) aborted the
        // transaction, and PostgreSQL answers COMMIT with ROLLBACK: nothing was kept,
        // which must not pass for a commit.
        const committed = await query(client, "COMMIT");
        if (committed.command === "ROLLBACK") throw rolledBackAtCommit();
        return value;
      } catch (error) {
        try {
          await sql?.idle();
          await client.query("ROLLBACK");
        } catch {
          // A connection that cannot roll back is gone, and its transaction with it: dropped, not reused.
          broken.add(client);
        }
        throw error;
      }
    });
  }

  return { onClient, transaction };
}

/**
 * Statements inside one transaction, on its connection. Nested atomic work
 * is a savepoint, numbered by depth: nested work is awaited before the next
 * (the journal's contract), so the savepoints form a stack.
 */
class TransactionSql implements Sql {
  #depth = 0;
  /** The statement asked for last: the next one is sent when it has been answered. */
  #last: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly client: PoolClient,
    readonly memory: JournalMemory,
    private locked: boolean,
  ) {}

  /**
   * Statements asked for at once (calls through `tx` not awaited one by
   * one) run one after the other in the order asked, as SQLite runs them:
   * pg refuses to queue a second query on a busy connection in its next
   * major version and warns about it now.
   */
  #inTurn(text: string, values?: readonly unknown[]): Promise<QueryResult> {
    const next = this.#last.then(() => query(this.client, text, values));
    this.#last = next.catch(() => undefined);
    return next;
  }

  async rows<R>(text: string, values?: readonly unknown[]): Promise<R[]> {
    return (await this.#inTurn(text, values)).rows as R[];
  }

  async changed(text: string, values?: readonly unknown[]): Promise<number> {
    return (await this.#inTurn(text, values)).rowCount ?? 0;
  }

  async atomic<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const name = `s${++this.#depth}`;
    try {
      await this.#inTurn(`SAVEPOINT ${name}`);
      try {
        const value = await fn(this);
        await this.#inTurn(`RELEASE SAVEPOINT ${name}`);
        return value;
      } catch (error) {
        await this.#inTurn(`ROLLBACK TO SAVEPOINT ${name}`).then(() => this.#inTurn(`RELEASE SAVEPOINT ${name}`)).catch(() => undefined);
        throw error;
      }
    } finally {
      this.#depth--;
    }
  }

  async serialized<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    if (!this.locked) {
      this.locked = true;
      await this.#inTurn(LOCK, [LOCK_NAMESPACE, LOCK_JOURNAL]);
    }
    return fn(this);
  }

  /** Resolves once every statement asked for has been answered (before COMMIT). */
  async idle(): Promise<void> {
    await this.#last;
  }
}

type Method = (sql: Sql, ...args: unknown[]) => Promise<unknown>;

/**
 * The journal on PostgreSQL, for several `opskit serve` replicas sharing
 * one database. `location` is the URL with its password masked.
 *
 * Transactions: each runs on a connection of its own, BEGIN, then the
 * journal's advisory lock (pg_advisory_xact_lock), held until its COMMIT or
 * ROLLBACK: the journal transactions of every process are serialized, as
 * SQLite's write lock serializes them, so one that reads and then writes
 * sees nobody's writes in between. A process's own transactions first wait
 * their turn here (FIFO), so that waiting holds no connection. Work outside
 * a transaction runs at once on the pool, each method atomic on its own:
 * one statement, or a transaction of its own (with the lock when it reads
 * and then writes).
 *
 * PostgreSQL unreachable, a connection lost, a statement or lock wait that
 * timed out: an OpsError naming the masked URL and the fix
 * (E_JOURNAL_UNAVAILABLE, E_JOURNAL_BUSY …); the broken connection is
 * dropped and the pool opens new ones once the server answers.
 */
export async function openPostgresJournal(url: string, options: PostgresJournalOptions = {}): Promise<Journal> {
  registerPostgresSecrets(url);
  const location = maskPostgresUrl(url);
  const statementTimeoutMs = options.statementTimeoutMs ?? 120_000;
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      statement_timeout: statementTimeoutMs,
      lock_timeout: options.lockTimeoutMs ?? 30_000,
      // A transaction whose process stopped answering (paused, cut off) gives the journal's lock back.
      idle_in_transaction_session_timeout: 60_000,
      // The server's statement timeout answers first; this is for a server that answers nothing at all.
      query_timeout: statementTimeoutMs + 5_000,
      application_name: "opskit",
      types,
    });
  } catch (error) {
    throw new OpsError({ code: "E_JOURNAL_OPEN", message: `cannot use the journal at ${location}: ${(error as Error).message}`, hint: "pass --journal postgres://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or ~/.pgpass)", exitCode: ExitCode.usage, cause: error });
  }
  // An idle connection whose server went away reports it here; the pool has dropped it already.
  pool.on("error", () => undefined);
  const memory: JournalMemory = { eventSequence: new Map() };
  const { onClient, transaction } = connections(pool, memory);
  try {
    await onClient((client) => migrate(client, location, options.schemaVersion ?? SCHEMA_VERSION));
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw postgresFailure(error, location) ?? error;
  }
  return postgresJournal(pool, location, memory, onClient, transaction);
}

function postgresJournal(
  pool: pg.Pool,
  location: string,
  memory: JournalMemory,
  onClient: ReturnType<typeof connections>["onClient"],
  transaction: ReturnType<typeof connections>["transaction"],
): Journal {
  const turn = new Turn();
  const mapped = (error: unknown) => postgresFailure(error, location) ?? error;
  const serializedHere = async <T>(fn: (sql: Sql) => Promise<T>): Promise<T> => {
    await turn.take();
    try {
      return await transaction(fn, { lock: true });
    } finally {
      turn.release();
    }
  };
  const pooled: Sql = {
    rows: (text, values) => onClient(async (client) => (await query(client, text, values)).rows),
    changed: (text, values) => onClient(async (client) => (await query(client, text, values)).rowCount ?? 0),
    atomic: (fn, options) => transaction(fn, { lock: false, ...options }),
    serialized: serializedHere,
    memory,
  };

  const stores = {
    ...postgresRunStore,
    ...postgresIncidentStore,
    ...postgresHistoryStore,
    ...postgresAnalyticsStore,
    ...postgresShadowStore,
    ...postgresClusterStore,
    ...postgresScheduleStore,
    ...postgresBrowseStore,
    ...postgresSilenceStore,
  } as unknown as Record<string, Method>;

  let closed = false;
  let closing: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  /** Work asked of the journal itself: refused once it is closing, counted until it settles so close can wait for it. */
  const perform = <T>(name: string, work: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error(`journal.${name} called after the journal at ${location} was closed`));
    const running = work().catch((error: unknown) => {
      throw mapped(error);
    });
    const settle = () => inFlight.delete(running);
    inFlight.add(running);
    running.then(settle, settle);
    return running;
  };

  /** The stores bound to one transaction or savepoint: usable while it is open and no savepoint of it is under way. */
  interface TransactionView {
    open: boolean;
    nested: boolean;
    sql: Sql;
  }
  const scope = async <T>(fn: (tx: JournalTx) => Promise<T>, sql: Sql): Promise<T> => {
    const view = Object.create(transactionFace) as TransactionView;
    view.open = true;
    view.nested = false;
    view.sql = sql;
    try {
      return await fn(view as unknown as JournalTx);
    } finally {
      view.open = false;
    }
  };
  const transactionFace: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(stores)) {
    transactionFace[name] = function (this: TransactionView, ...args: unknown[]): Promise<unknown> {
      const refused = misuse(this, name);
      if (refused) return Promise.reject(refused);
      return method(this.sql, ...args).catch((error: unknown) => {
        throw mapped(error);
      });
    };
  }
  transactionFace.transaction = async function <T>(this: TransactionView, fn: (tx: JournalTx) => Promise<T>): Promise<T> {
    const refused = misuse(this, "transaction");
    if (refused) throw refused;
    this.nested = true;
    try {
      return await this.sql.atomic((inner) => scope(fn, inner));
    } catch (error) {
      throw mapped(error);
    } finally {
      this.nested = false;
    }
  };

  const journal: Record<string, unknown> = { location, batching: BATCHING };
  for (const [name, method] of Object.entries(stores)) {
    journal[name] = (...args: unknown[]) => perform(name, () => method(pooled, ...args));
  }
  journal.transaction = <T>(fn: (tx: JournalTx) => Promise<T>): Promise<T> => perform("transaction", () => serializedHere((sql) => scope(fn, sql)));
  journal.health = async (): Promise<OpsError | undefined> => {
    if (closed) return journalUnavailable(location, "this process closed it");
    const probe = onClient((client) => client.query("SELECT 1"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), HEALTH_TIMEOUT_MS)));
    try {
      if ((await Promise.race([probe, late])) === "late") {
        probe.catch(() => undefined);
        return journalUnavailable(location, `no answer to SELECT 1 within ${HEALTH_TIMEOUT_MS / 1000} s`);
      }
      return undefined;
    } catch (error) {
      const failure = postgresFailure(error, location);
      return failure ?? journalUnavailable(location, (error as Error).message, error);
    } finally {
      clearTimeout(timer);
    }
  };
  journal.close = (): Promise<void> => {
    closed = true;
    closing ??= (async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await pool.end();
    })();
    return closing;
  };
  return journal as unknown as Journal;
}
