import { jsonLine } from "../ui/json.ts";
import { secrets } from "./redact.ts";

/**
 * Where a typed stream of events goes. Runs, probes, the self-healing core
 * and (later) the agent emit events of their own type; the terminal, JSON
 * lines, the journal, metrics and traces are sinks of them.
 */
export type Sink<E> = (event: E) => void;

/**
 * Fans each event out to every sink, in order, with the registered secrets
 * masked once for all of them: the terminal, --json, the journal (and so the
 * API) see the same redacted event.
 */
export function fanOut<E>(sinks: readonly Sink<E>[]): Sink<E> {
  return (event) => {
    const redacted = secrets.redactValue(event);
    for (const sink of sinks) sink(redacted);
  };
}

/**
 * Events as JSON lines, the machine-readable output of every command
 * (`--json`). Each line opens with `at`, ISO 8601: the time of the fact when
 * the event carries one (epoch ms or an ISO string under `at`), else now.
 * Field names are a contract (docs/events.md).
 */
export function jsonLinesSink<E extends object>(write: (line: string) => void, options: { accept?: (event: E) => boolean; now?: () => number } = {}): Sink<E> {
  const now = options.now ?? Date.now;
  return (event) => {
    if (options.accept && !options.accept(event)) return;
    write(eventJsonLine(event, now()));
  };
}

/** One event as a JSON line with its `at` stamp first (see jsonLinesSink). */
export function eventJsonLine(event: object, nowMs = Date.now()): string {
  const { at, ...rest } = event as { at?: unknown };
  return jsonLine({ at: stampOf(at, nowMs), ...rest });
}

function stampOf(at: unknown, nowMs: number): string {
  if (typeof at === "number" && Number.isFinite(at)) return new Date(at).toISOString();
  if (typeof at === "string" && at !== "") return at;
  return new Date(nowMs).toISOString();
}
