import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { configError } from "../errors.ts";

/**
 * Alerts waiting for the server, on disk: rows of an SQLite table in WAL
 * mode with synchronous=FULL, so an append that returned survives a kill -9
 * (and a power loss) and a torn write is rolled back by SQLite itself, with
 * no framing or recovery code of our own. Rows leave in id order, so alerts
 * reach the server in the order they were raised; they are deleted only once
 * the server answered 2xx. `maxBytes` bounds the records held (their UTF-8
 * length plus a fixed overhead): past it the oldest go first, each one
 * counted through onDrop.
 */
export class Spool {
  readonly #db: Database;
  readonly #insert;
  readonly #peek;
  readonly #ack;
  readonly #oldest;
  #bytes = 0;
  #count = 0;

  /** Rough cost of a row beside its text (id, length, b-tree cell), so many tiny records still count. */
  static readonly RECORD_OVERHEAD = 16;

  constructor(
    readonly path: string,
    readonly maxBytes: number,
    readonly onDrop: (records: number) => void = () => undefined,
  ) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path, { create: true, strict: true });
      this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -512;");
      this.#db.exec("CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, bytes INTEGER NOT NULL, body TEXT NOT NULL)");
    } catch (error) {
      throw configError("E_AGENT_SPOOL", `cannot open the agent's spool ${path}: ${(error as Error).message}`, "check agent.stateDir exists and is writable by this user, and that no other opskit agent uses it");
    }
    this.#insert = this.#db.prepare<unknown, [number, string]>("INSERT INTO spool (bytes, body) VALUES (?, ?)");
    this.#peek = this.#db.prepare<{ id: number; body: string }, [number]>("SELECT id, body FROM spool ORDER BY id LIMIT ?");
    this.#ack = this.#db.prepare<unknown, [number]>("DELETE FROM spool WHERE id <= ?");
    this.#oldest = this.#db.prepare<{ id: number; bytes: number }, [number]>("SELECT id, bytes FROM spool ORDER BY id LIMIT ?");
    this.#recount();
  }

  #recount(): void {
    const totals = this.#db.query<{ n: number; b: number | null }, []>("SELECT count(*) AS n, sum(bytes) AS b FROM spool").get()!;
    this.#count = totals.n;
    this.#bytes = (totals.b ?? 0) + totals.n * Spool.RECORD_OVERHEAD;
  }

  /** Records held. */
  get count(): number {
    return this.#count;
  }

  /** Bytes held, as maxBytes counts them. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends records in one transaction, durable when this returns. Makes
   * room first by dropping the oldest; a record larger than the whole spool
   * is itself dropped (and counted).
   */
  append(records: readonly string[]): void {
    if (records.length === 0) return;
    const sized = records.map((body) => ({ body, bytes: Buffer.byteLength(body) }));
    const write = this.#db.transaction(() => {
      let dropped = 0;
      for (const { body, bytes } of sized) {
        const cost = bytes + Spool.RECORD_OVERHEAD;
        if (cost > this.maxBytes) {
          dropped++;
          continue;
        }
        dropped += this.#makeRoom(cost);
        this.#insert.run(bytes, body);
        this.#bytes += cost;
        this.#count++;
      }
      return dropped;
    });
    let dropped: number;
    try {
      dropped = write();
    } catch (error) {
      // Rolled back (a full disk): the totals are the table's again.
      this.#recount();
      throw error;
    }
    if (dropped > 0) this.onDrop(dropped);
  }

  /** The oldest records, up to `max`, in order; they stay until ack(). */
  peek(max: number): { id: number; body: string }[] {
    return this.#peek.all(max);
  }

  /** Forgets every record up to and including `id` (the server took them). */
  ack(id: number): void {
    this.#db.transaction(() => {
      const gone = this.#db.query<{ n: number; b: number | null }, [number]>("SELECT count(*) AS n, sum(bytes) AS b FROM spool WHERE id <= ?").get(id)!;
      this.#ack.run(id);
      this.#count -= gone.n;
      this.#bytes -= (gone.b ?? 0) + gone.n * Spool.RECORD_OVERHEAD;
    })();
  }

  close(): void {
    this.#db.close();
  }

  /** Deletes the oldest rows until `cost` more bytes fit; the number deleted. */
  #makeRoom(cost: number): number {
    let dropped = 0;
    while (this.#bytes + cost > this.maxBytes && this.#count > 0) {
      // In steps: a large record may need many small ones gone.
      for (const row of this.#oldest.all(64)) {
        if (this.#bytes + cost <= this.maxBytes) break;
        this.#ack.run(row.id);
        this.#bytes -= row.bytes + Spool.RECORD_OVERHEAD;
        this.#count--;
        dropped++;
      }
    }
    return dropped;
  }
}
