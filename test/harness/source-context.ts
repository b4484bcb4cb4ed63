// A SourceContext for driving one agent source in a test: its queue takes
// `room` events and then says no (emit returns false) until the test makes
// room, so backpressure can be held and released; everything it took is
// kept in order.
import type { AgentEvent, SourceContext } from "../../src/agent/types.ts";

export interface CollectingContext {
  context: SourceContext;
  events: AgentEvent[];
  counts: Record<string, number>;
  warnings: string[];
  /** How many times emit said no, and how many times the source asked to wait. */
  stats: { refused: number; drainedCalls: number };
  /** Aborts context.signal: the source's loop ends as on a crash, without its stop(). */
  controller: AbortController;
  messages(): string[];
  /** The queue takes events until `events.length` reaches n; sources waiting in drained() go on. */
  setRoom(n: number): void;
}

export function collectingContext(stateDir: string, name = "app"): CollectingContext {
  const events: AgentEvent[] = [];
  const counts: Record<string, number> = {};
  const warnings: string[] = [];
  let room = Number.POSITIVE_INFINITY;
  let waiters: Array<() => void> = [];
  const stats = { refused: 0, drainedCalls: 0 };
  const controller = new AbortController();
  const context: SourceContext = {
    name,
    stateDir,
    emit(event) {
      if (events.length >= room) {
        stats.refused++;
        return false;
      }
      events.push(event);
      return true;
    },
    drained() {
      stats.drainedCalls++;
      return events.length < room ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
    },
    signal: controller.signal,
    warn: (message) => warnings.push(message),
    counters: { inc: (counter, n = 1) => void (counts[counter] = (counts[counter] ?? 0) + n) },
  };
  return {
    context,
    events,
    counts,
    warnings,
    stats,
    controller,
    messages: () => events.map((event) => event.message ?? ""),
    setRoom(n) {
      room = n;
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    },
  };
}

/** Polls `condition` every 10 ms; throws naming `what` after timeoutMs. */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}
