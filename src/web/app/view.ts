// What every page of the dashboard is: a root element, a refresh that reads
// the API, and a reaction to server events. A view lives until the route
// changes; its signal then aborts its requests, timers and listeners.
import type { Overview } from "./api.ts";
import type { StreamMessage } from "./stream.ts";

export interface ViewContext {
  /** Aborted when the view is left: pass it to fetches, listeners and timers. */
  signal: AbortSignal;
  /** Route parameters (#/incidents/:id → ["12"]) and the query after "?". */
  params: string[];
  query: URLSearchParams;
  /** A polite screen-reader announcement (and the visible status line). */
  announce(text: string): void;
  /** Reports a failed request; a 401 also brings up the token field. */
  reportError(error: unknown): void;
  /** The latest overview the shell holds (pause state, version); undefined before the first answer. */
  overview(): Overview | undefined;
  /** Asks the shell to read the overview again (after an action that changes it). */
  refreshOverview(): void;
  /** Follows the overview the shell reads; the view's signal ends the subscription. */
  onOverview(listener: (overview: Overview) => void): void;
  /** The step each target of a run is in, as the shared stream last said (runs under way while the page is open). */
  stepsUnderWay(runId: string): StepPlace[];
}

export interface StepPlace {
  target: string;
  phase: string;
  index: number;
}

export interface View {
  /** The document title's first part. */
  title: string;
  root: HTMLElement;
  /** Reads the API and updates the page in place. */
  refresh(): Promise<void>;
  /** A server event arrived on the shared stream. */
  onEvent?(message: StreamMessage): void;
}

export type ViewFactory = (context: ViewContext) => View;

/**
 * Coalesces refresh requests: a burst of events makes one refresh after a
 * short quiet time, never more than one in flight and never two closer than
 * `minIntervalMs`, so a storm of events cannot become a storm of requests.
 */
export function refresher(run: () => Promise<void>, signal: AbortSignal, options: { quietMs?: number; minIntervalMs?: number } = {}): () => void {
  const quietMs = options.quietMs ?? 250;
  const minIntervalMs = options.minIntervalMs ?? 1_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;
  let lastStart = 0;
  signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  const start = async () => {
    timer = undefined;
    if (signal.aborted) return;
    running = true;
    lastStart = Date.now();
    try {
      await run();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    if (timer !== undefined) return;
    const wait = Math.max(quietMs, lastStart + minIntervalMs - Date.now());
    timer = setTimeout(() => void start(), wait);
  };
  return schedule;
}

/** A setInterval that the view's signal clears. */
export function every(ms: number, fn: () => void, signal: AbortSignal): void {
  const id = setInterval(fn, ms);
  signal.addEventListener("abort", () => clearInterval(id), { once: true });
}

/** Parses an event's JSON data; undefined when it is not an object. */
export function eventData(message: StreamMessage): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(message.data) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
