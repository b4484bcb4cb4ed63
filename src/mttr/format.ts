/** How MTTR numbers read for people, shared by the html, table and markdown renderers. */

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;

const units: readonly { ms: number; suffix: string }[] = [
  { ms: day, suffix: "d" },
  { ms: hour, suffix: "h" },
  { ms: minute, suffix: "m" },
  { ms: second, suffix: "s" },
];

/**
 * Formats a duration with its two largest units, rounded to the smaller one:
 * 850ms, 45s, 1m 30s, 12m, 1h 12m, 3d 4h. Precision beyond two units is noise
 * for incident phases that are compared at a glance.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (Math.round(ms) < second) return `${Math.round(ms)}ms`;
  // Round to the unit below the largest one first: 59.6s is "1m", not "60s".
  const largest = units.findIndex((unit) => Math.round(ms) >= unit.ms);
  const step = units[Math.min(largest + 1, units.length - 1)]!.ms;
  const rounded = Math.round(ms / step) * step;
  const big = units.find((unit) => rounded >= unit.ms)!;
  const small = units[Math.min(units.indexOf(big) + 1, units.length - 1)]!;
  const whole = Math.floor(rounded / big.ms);
  const rest = Math.round((rounded - whole * big.ms) / small.ms);
  if (big === small || rest === 0) return `${whole}${big.suffix}`;
  return `${whole}${big.suffix} ${rest}${small.suffix}`;
}

/** A relative change in words: -0.58 is "down 58%", 0.12 "up 12%", under half a percent "no change". */
export function formatChange(ratio: number): string {
  if (!Number.isFinite(ratio)) return "n/a";
  const percent = Math.round(Math.abs(ratio) * 100);
  if (percent === 0) return "no change";
  return `${ratio < 0 ? "down" : "up"} ${formatCount(percent)}%`;
}

/** Whole counts with thousands separators, independent of the machine's locale: 9,937. */
export function formatCount(count: number): string {
  return String(Math.round(count)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
