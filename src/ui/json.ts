import type { Sink } from "../observe/index.ts";

/**
 * One line of machine-readable output. Durations are measured with
 * performance.now() and summed, so they carry float noise
 * (12.340000000000002): every duration is written in milliseconds rounded
 * to three decimals (whole microseconds). A duration is a number under a
 * key ending in `Ms` (durationMs, lagMs) or any number in a `timings`
 * object; other numbers (a response body's own values) are left as they are.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (key, inner: unknown) => {
    if (typeof inner === "number") return key.endsWith("Ms") ? roundMs(inner) : inner;
    if (key === "timings" && inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner).map(([name, ms]) => [name, typeof ms === "number" ? roundMs(ms) : ms]));
    }
    return inner;
  });
}

/** Milliseconds to whole microseconds. */
export function roundMs(ms: number): number {
  return Number.isFinite(ms) ? Math.round(ms * 1000) / 1000 : ms;
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
