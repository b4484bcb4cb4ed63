import { MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { definePhaseCollector, type PhaseData, type PhaseOptions, type WideResults, type WideWork } from "./mttr-phases.ts";
import { handOver } from "./mttr-stats.ts";
import { defineQuantiles } from "./quantiles.ts";

/**
 * A second reader for MTTR over a large journal. Reading a million
 * incidents out of SQLite is most of `opskit mttr`'s time, and SQLite reads
 * in the thread that asks: so a thread of its own, with its own read-only
 * connection, takes services from the same shared counter as the caller,
 * each reading whole services into a PhaseCollector (mttr-phases.ts), until
 * none is left; by service, it then computes its services' statistics. The
 * caller blocks until the thread has read (the store is synchronous). Then
 * each thread takes a share of what needs every incident (overall
 * statistics, the weekly trend), fixed beforehand: each hands the other the
 * durations the other's share needs, transferred, not copied.
 */

/** How long either thread waits for the other before doing the work itself (the caller) or giving up (the thread). */
const WAIT_BOUND_MS = 300_000;

/** Slots of the shared state: the next service to read; the thread's stage; whether the caller has handed over its share. */
const NEXT = 0;
const STAGE = 1;
const SHARED = 2;
/** The thread's stages: reading, its data posted, its share of the wide work posted (or it failed). */
const READ = 1;
const DONE = 2;

// The thread's code travels as text (a Blob URL): a compiled opskit carries it without a second entry point.
// The collector and the statistics are the same functions as this thread's (their factories refer to nothing outside themselves).
const threadSource = () => `
import { Database } from "bun:sqlite";
import { receiveMessageOnPort } from "node:worker_threads";
const Collector = (${definePhaseCollector.toString()})((${defineQuantiles.toString()})());
self.onmessage = (event) => {
  const { location, services, named, none, collect, params, phases, grouped, work, state, waitMs, port } = event.data;
  const shared = new Int32Array(state);
  const stage = (value) => {
    Atomics.store(shared, ${STAGE}, value);
    Atomics.notify(shared, ${STAGE});
  };
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
    for (let index = Atomics.add(shared, ${NEXT}, 1); index < services.length; index = Atomics.add(shared, ${NEXT}, 1)) {
      group = grouped ? index : 0;
      into.begin(group);
      if (services[index] === null) withoutName.get(params);
      else byName.get({ ...params, service: services[index] });
    }
    db.close();
    db = undefined;
    const data = into.finish({ statistics: grouped });
    const { message, transfer } = Collector.handOver(data, work.caller);
    port.postMessage(message, transfer);
    stage(${READ});
    if (Atomics.wait(shared, ${SHARED}, 0, waitMs) === "timed-out") return stage(${DONE});
    const theirs = receiveMessageOnPort(port)?.message;
    if (theirs) port.postMessage(Collector.computeWide([theirs, data], work.thread));
  } catch (error) {
    port.postMessage({ error: String(error && error.message || error) });
  } finally {
    try { db?.close(); } catch {}
    stage(${DONE});
  }
};
`;

export interface SecondReader {
  /** The next service index to read, shared with the thread; past the list's end when none is left. */
  take(): number;
  /** Waits for the thread to have read: what it collected, or undefined when it failed (then the caller reads everything itself). */
  collected(): PhaseData | undefined;
  /** Hands the thread what of the caller's data its share of the wide work needs (moved: gone from `own`). */
  share(own: PhaseData): void;
  /** Waits for the thread's share: its results, or undefined when it failed. */
  finish(): WideResults | undefined;
  /** Stops the thread, whatever it is doing (a no-op once finished). */
  close(): void;
}

/**
 * Starts the thread on `location` for `services`, reading each with `named`
 * (bound $service and `params`) or, for null, `none`; both call the
 * function named `collect` with each incident's columns, which the thread
 * defines on its connection. Grouped, service i is group i; else all are
 * group 0. `work`: the shares of what needs both threads' incidents.
 */
export function startSecondReader(
  location: string,
  services: readonly (string | null)[],
  sql: { named: string; none: string; collect: string },
  params: Record<string, string | number | null>,
  collect: { phases: PhaseOptions; grouped: boolean; work: { caller: WideWork; thread: WideWork } },
): SecondReader {
  const state = new Int32Array(new SharedArrayBuffer(12));
  const url = URL.createObjectURL(new Blob([threadSource()], { type: "application/javascript" }));
  const thread = new Worker(url);
  const { port1, port2 } = new MessageChannel();
  thread.postMessage({ location, services, ...sql, params, ...collect, state: state.buffer, waitMs: WAIT_BOUND_MS, port: port2 }, [port2] as unknown as Bun.Transferable[]);
  let stopped = false;
  const stop = (port: MessagePort) => {
    if (stopped) return;
    stopped = true;
    port.close();
    thread.terminate();
    URL.revokeObjectURL(url);
  };
  /** The thread's next message once it has reached `stage`, or undefined (an error, a timeout: the thread is stopped). */
  const receive = <T>(stage: number): T | undefined => {
    const reached = !stopped && Atomics.wait(state, STAGE, 0, WAIT_BOUND_MS) !== "timed-out" && (stage === READ || Atomics.wait(state, STAGE, READ, WAIT_BOUND_MS) !== "timed-out");
    const reply = reached ? (receiveMessageOnPort(port1)?.message as (T & { error?: string }) | undefined) : undefined;
    if (!reply || reply.error) {
      stop(port1);
      return undefined;
    }
    return reply;
  };
  return {
    take: () => Atomics.add(state, NEXT, 1),
    collected: () => receive<PhaseData>(READ),
    share(own) {
      if (stopped) return;
      const { message, transfer } = handOver(own, collect.work.thread);
      port1.postMessage(message, transfer);
      Atomics.store(state, SHARED, 1);
      Atomics.notify(state, SHARED);
    },
    finish() {
      const results = receive<WideResults>(DONE);
      stop(port1);
      return results;
    },
    close: () => stop(port1),
  };
}
