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
