/**
 * Formats milliseconds compactly for people: 0.4ms, 12ms, 1.25s, 3m05s.
 * The unit is picked after rounding, so 999.7 reads 1.00s, not 1000ms.
 */
export function formatMs(ms: number): string {
  if (ms < 0.995) return `${ms.toFixed(2)}ms`;
  if (ms < 9.95) return `${ms.toFixed(1)}ms`;
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  if (ms < 59_995) return `${(ms / 1000).toFixed(2)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  return `${minutes}m${String(totalSeconds % 60).padStart(2, "0")}s`;
}
