import { MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { definePhaseCollector, type PhaseData, type PhaseOptions } from "./mttr-phases.ts";
import { defineQuantiles } from "./quantiles.ts";

/**
 * A second reader for MTTR over a large journal. Reading a million
 * incidents out of SQLite is most of `opskit mttr`'s time, and SQLite reads
 * in the thread that asks: so a thread of its own, with its own read-only
 * connection, takes services from the same shared counter as the caller,
 * each reading whole services into a PhaseCollector (mttr-phases.ts), until
 * none is left; by service, it then computes its services' statistics. The
 * caller then blocks until the thread is done (the store is synchronous) and
 * takes what it collected, transferred, not copied.
 */

/** How long the caller waits for the thread before reading everything itself. */
const WAIT_BOUND_MS = 300_000;

// The thread's code travels as text (a Blob URL): a compiled opskit carries it without a second entry point.
// The collector and the statistics are the same functions as this thread's (their factories refer to nothing outside themselves).
const threadSource = () => `
import { Database } from "bun:sqlite";
const Collector = (${definePhaseCollector.toString()})((${defineQuantiles.toString()})());
self.onmessage = (event) => {
  const { location, services, named, none, collect, params, phases, grouped, counter, done, port } = event.data;
  const next = new Int32Array(counter);
  let db;
  try {
    db = new Database(location, { readonly: true });
    db.exec("PRAGMA busy_timeout = 30000");
    const into = new Collector(phases);
    let group = 0;
    db.function(collect, (started, detected, acknowledged, remediationStarted, flags, resolved, escalated, attempts) => {
      into.add(group, started, detected, acknowledged, remediationStarted, flags, resolved, escalated, attempts);
    });
    const [byName, withoutName] = [db.prepare(named), db.prepare(none)];
    for (let index = Atomics.add(next, 0, 1); index < services.length; index = Atomics.add(next, 0, 1)) {
      group = grouped ? index : 0;
      into.begin(group);
      if (services[index] === null) withoutName.get(params);
      else byName.get({ ...params, service: services[index] });
    }
    const data = into.finish({ statistics: grouped });
    const buffers = [...data.values, data.lengths, data.ranges, data.counts, data.resolves, data.weeks, data.histogram, ...(data.statistics ? [data.statistics] : [])].map((array) => array.buffer);
    port.postMessage(data, buffers);
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
  /** Waits for the thread: what it collected, or undefined when it failed (then the caller reads everything itself). */
  finish(): PhaseData | undefined;
}

/**
 * Starts the thread on `location` for `services`, reading each with `named`
 * (bound $service and `params`) or, for null, `none`; both call the
 * function named `collect` with each incident's columns, which the thread
 * defines on its connection. Grouped, service i is group i; else all are group 0.
 */
export function startSecondReader(
  location: string,
  services: readonly (string | null)[],
  sql: { named: string; none: string; collect: string },
  params: Record<string, string | number | null>,
  collect: { phases: PhaseOptions; grouped: boolean },
): SecondReader {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const done = new Int32Array(new SharedArrayBuffer(4));
  const url = URL.createObjectURL(new Blob([threadSource()], { type: "application/javascript" }));
  const thread = new Worker(url);
  const { port1, port2 } = new MessageChannel();
  thread.postMessage({ location, services, ...sql, params, ...collect, counter: counter.buffer, done: done.buffer, port: port2 }, [port2] as unknown as Bun.Transferable[]);
  const stop = (port: MessagePort) => {
    port.close();
    thread.terminate();
    URL.revokeObjectURL(url);
  };
  return {
    take: () => Atomics.add(counter, 0, 1),
    finish() {
      const finished = Atomics.wait(done, 0, 0, WAIT_BOUND_MS) !== "timed-out";
      const reply = finished ? (receiveMessageOnPort(port1)?.message as (PhaseData & { error?: string }) | undefined) : undefined;
      stop(port1);
      return reply && !reply.error ? reply : undefined;
    },
  };
}
