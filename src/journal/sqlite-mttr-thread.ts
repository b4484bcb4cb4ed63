import { MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { IncidentColumns } from "./mttr-stats.ts";

/**
 * A second reader for MTTR over a large journal. Reading a million
 * incidents out of SQLite is most of `opskit mttr`'s time (about 0.6 s of
 * 1.1 s on a 2-core machine), and SQLite reads in the thread that asks: so a
 * thread of its own, with its own read-only connection, takes services from
 * the same shared counter as the caller, each reading whole services, until
 * none is left. The caller then blocks until the thread is done (the store
 * is synchronous) and takes its columns, transferred, not copied.
 */

export interface ThreadRead {
  columns: IncidentColumns;
  /** Each service the thread read: its index in the list, and its incidents' range in the columns. */
  services: { index: number; from: number; to: number }[];
}

/** How long the caller waits for the thread before reading everything itself. */
const WAIT_BOUND_MS = 300_000;

// The thread's code travels as text (a Blob URL): a compiled opskit carries it without a second entry point.
const threadSource = `
import { Database } from "bun:sqlite";
const NAMES = ["started", "detected", "acknowledged", "remediationStarted", "resolved", "escalated", "attempts"];
self.onmessage = (event) => {
  const { location, services, named, none, collect, params, counter, done, port } = event.data;
  const next = new Int32Array(counter);
  let db;
  try {
    db = new Database(location, { readonly: true });
    db.exec("PRAGMA busy_timeout = 30000");
    const columns = { length: 0, flags: new Int32Array(1 << 14) };
    for (const name of NAMES) columns[name] = new Float64Array(1 << 14);
    const grow = () => {
      for (const name of [...NAMES, "flags"]) {
        const wider = new columns[name].constructor(columns[name].length * 2);
        wider.set(columns[name]);
        columns[name] = wider;
      }
    };
    db.function(collect, (started, detected, acknowledged, remediationStarted, remediated, resolved, status, escalated, attempts) => {
      if (columns.length === columns.flags.length) grow();
      const i = columns.length++;
      columns.started[i] = started;
      columns.detected[i] = detected ?? NaN;
      columns.acknowledged[i] = acknowledged ?? NaN;
      columns.remediationStarted[i] = remediationStarted ?? NaN;
      columns.resolved[i] = resolved ?? NaN;
      columns.escalated[i] = escalated;
      columns.attempts[i] = attempts;
      columns.flags[i] = remediated === null ? status : status | 4;
    });
    const [byName, withoutName] = [db.prepare(named), db.prepare(none)];
    const read = [];
    for (let index = Atomics.add(next, 0, 1); index < services.length; index = Atomics.add(next, 0, 1)) {
      const from = columns.length;
      if (services[index] === null) withoutName.get(params);
      else byName.get({ ...params, service: services[index] });
      read.push({ index, from, to: columns.length });
    }
    port.postMessage({ columns, services: read }, [...NAMES, "flags"].map((name) => columns[name].buffer));
  } catch (error) {
    port.postMessage({ error: String(error && error.message || error) });
  } finally {
    try { db?.close(); } catch {}
    const flag = new Int32Array(done);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  }
};
`;

export interface SecondReader {
  /** The next service index to read, shared with the thread; past the list's end when none is left. */
  take(): number;
  /** Waits for the thread: its columns, or undefined when it failed (then the caller reads everything itself). */
  finish(): ThreadRead | undefined;
}

/**
 * Starts the thread on `location` for `services`, reading each with `named`
 * (bound $service and `params`) or, for null, `none`; both call the
 * function named `collect` with each incident's columns, which the thread
 * defines on its connection.
 */
export function startSecondReader(location: string, services: readonly (string | null)[], sql: { named: string; none: string; collect: string }, params: Record<string, string | number | null>): SecondReader {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const done = new Int32Array(new SharedArrayBuffer(4));
  const url = URL.createObjectURL(new Blob([threadSource], { type: "application/javascript" }));
  const thread = new Worker(url);
  const { port1, port2 } = new MessageChannel();
  thread.postMessage({ location, services, ...sql, params, counter: counter.buffer, done: done.buffer, port: port2 }, [port2] as unknown as Bun.Transferable[]);
  const stop = (port: MessagePort) => {
    port.close();
    thread.terminate();
    URL.revokeObjectURL(url);
  };
  return {
    take: () => Atomics.add(counter, 0, 1),
    finish() {
      const finished = Atomics.wait(done, 0, 0, WAIT_BOUND_MS) !== "timed-out";
      const reply = finished ? (receiveMessageOnPort(port1)?.message as (ThreadRead & { error?: string }) | undefined) : undefined;
      stop(port1);
      return reply && !reply.error ? reply : undefined;
    },
  };
}
