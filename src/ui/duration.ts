/**
 * The one way opskit writes a duration for people, in the CLI, the reports
 * and the dashboard: 0.40ms, 4.2ms, 12ms, 1.25s, 45s, 3m05s, 20m, 2h10m, 1h,
 * 3d4h. Two units at most, the smaller rounded and left out when it is zero,
 * as `kubectl get` ages read. The unit is picked after rounding, so 999.7ms
 * reads 1s and 59m59.6s reads 1h.
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms < 0) return `-${formatMs(-ms)}`;
  if (ms < 0.995) return `${ms.toFixed(2)}ms`;
  if (ms < 9.95) return `${ms.toFixed(1)}ms`;
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  if (ms < 59_995) {
    const text = (ms / 1000).toFixed(2);
    return `${text.endsWith(".00") ? text.slice(0, -3) : text}s`;
  }
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return pair(Math.floor(seconds / 60), "m", seconds % 60, "s");
  const minutes = Math.round(seconds / 60);
  if (minutes < 48 * 60) return pair(Math.floor(minutes / 60), "h", minutes % 60, "m");
  const hours = Math.round(minutes / 60);
  return `${Math.floor(hours / 24)}d${hours % 24 === 0 ? "" : `${hours % 24}h`}`;
}

const pair = (big: number, bigUnit: string, small: number, smallUnit: string) => `${big}${bigUnit}${small === 0 ? "" : `${String(small).padStart(2, "0")}${smallUnit}`}`;
