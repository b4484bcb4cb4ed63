// Numbers and times for people, in the CLI's own style (3m05s, 1.25s).
import { formatMs as formatDuration } from "../../ui/duration.ts";

/** A duration as the CLI prints it (12ms, 1.25s, 3m05s, 2h10m, 3d4h); a dash when there is none. */
export function formatMs(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return "–";
  return formatDuration(Math.max(0, ms));
}

/** A countdown that ticks by the second: 4m12s, 59s. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  if (total < 60) return `${total}s`;
  if (total < 3600) return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, "0")}s`;
  return `${Math.floor(total / 3600)}h${String(Math.floor((total % 3600) / 60)).padStart(2, "0")}m`;
}

/** Epoch ms or an ISO string as epoch ms; undefined when it is neither. */
export function toEpoch(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value) {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local date and time, to the second: 2026-11-25 10:00:03. */
export function formatTime(value: unknown): string {
  const at = toEpoch(value);
  if (at === undefined) return "–";
  const d = new Date(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3m ago", "just now", "in 2m". */
export function formatAgo(value: unknown, now = Date.now()): string {
  const at = toEpoch(value);
  if (at === undefined) return "–";
  const delta = now - at;
  if (Math.abs(delta) < 5_000) return "just now";
  return delta > 0 ? `${formatMs(delta).replace(/\.\d+s$/, "s")} ago` : `in ${formatMs(-delta).replace(/\.\d+s$/, "s")}`;
}

export function formatPercent(ratio: number | undefined | null): string {
  if (ratio === undefined || ratio === null || !Number.isFinite(ratio)) return "–";
  const pct = ratio * 100;
  return `${pct >= 99.95 || pct === 0 ? pct.toFixed(0) : pct.toFixed(pct >= 99 ? 2 : 1)}%`;
}

// One formatter for every count: toLocaleString builds a new one per call, which a log drawn 60 times a second notices.
const counts = new Intl.NumberFormat("en-US");

export function formatCount(n: number): string {
  return counts.format(n);
}

/** Names in the order people expect: web-2 before web-10. One collator for every sort (creating one per comparison is slow). */
export const compareNames = new Intl.Collator(undefined, { numeric: true }).compare;
