import type { Database } from "bun:sqlite";

/**
 * SQLite copies the WAL back into the database file (a checkpoint) inside the
 * commit that takes the WAL past 1,000 pages, and the copy ends in two
 * fsyncs. On the journal's thread that stalls the event loop: measured at
 * 23-27 ms on an ext4 disk, once every ~2,400 notifications of an alert
 * storm, during which no request is answered. A server's journal therefore
 * checkpoints on a thread of its own, with its own connection, in PASSIVE
 * mode, which never waits for the writer nor makes it wait. Its commits keep
 * their guarantees: a checkpoint only moves pages that are already committed
 * to the WAL, and syncs them as the writer's own would have.
 *
 * While writes never pause, a checkpoint running beside them never finds the
 * WAL wholly copied at a commit, so the WAL cannot start over and grows; the
 * writer's own automatic checkpoint stays as the backstop, at
 * BACKSTOP_PAGES: then (a sustained storm of some 25,000 notifications) it
 * copies what the thread has not yet copied, and the WAL starts over.
 */
export const BACKSTOP_PAGES = 25_000;
/** How often the thread looks for committed pages to copy. */
const INTERVAL_MS = 100;
/** A thread that does not answer the close within this long is ended anyway (a checkpoint is safe to cut short). */
const CLOSE_BOUND_MS = 5_000;

// The thread's code travels as text (a Blob URL): a compiled opskit carries it without a second entry point.
const threadSource = `
import { Database } from "bun:sqlite";
let db;
let timer;
const copy = () => {
  try {
    db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
  } catch {
    // Busy (another checkpoint under way) or a failing file: the writer meets and reports the latter.
  }
};
self.onmessage = (event) => {
  const message = event.data;
  if (message.type === "open") {
    db = new Database(message.location);
    db.exec("PRAGMA busy_timeout = 1000; PRAGMA synchronous = " + message.synchronous + ";");
    timer = setInterval(copy, message.intervalMs);
  } else if (message.type === "close") {
    clearInterval(timer);
    try {
      db?.close();
    } finally {
      postMessage({ type: "closed" });
    }
  }
};
`;

export interface Checkpointer {
  /** Stops the thread after its last copy and closes its connection; resolves once it has. */
  close(): Promise<void>;
}

/**
 * Moves `db`'s checkpoints to a thread of their own (see above). `db` must
 * be the journal's connection in WAL mode; its automatic checkpoint is raised
 * to the backstop. The thread never keeps the process alive.
 */
export function checkpointInBackground(db: Database, location: string, options: { durable: boolean }): Checkpointer {
  db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES};`);
  const url = URL.createObjectURL(new Blob([threadSource], { type: "application/javascript" }));
  const thread = new Worker(url);
  thread.unref();
  thread.postMessage({ type: "open", location, synchronous: options.durable ? "FULL" : "NORMAL", intervalMs: INTERVAL_MS });
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= new Promise<void>((resolve) => {
        const bound = setTimeout(() => done(), CLOSE_BOUND_MS);
        const done = () => {
          clearTimeout(bound);
          thread.terminate();
          URL.revokeObjectURL(url);
          resolve();
        };
        thread.onmessage = done;
        thread.onerror = done;
        thread.postMessage({ type: "close" });
      });
      return closing;
    },
  };
}
