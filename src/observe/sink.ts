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
