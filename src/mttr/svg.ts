/**
 * The MTTR page's charts as inline SVG strings, drawn here so the page needs
 * nothing from the network. Every number drawn is also in a data attribute.
 */
import { formatCount } from "./format.ts";
import { formatMs } from "../ui/index.ts";
import type { DistributionBucket, WeekPoint } from "./types.ts";

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML and SVG content and for quoted attribute values alike. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char]!);
}

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;
// Steps a person counts in, so the ticks read 15m, 30m, 1h rather than 17m, 34m.
const durationSteps = [
  second, 5 * second, 15 * second, 30 * second, minute, 2 * minute, 5 * minute, 10 * minute, 15 * minute,
  30 * minute, hour, 2 * hour, 3 * hour, 4 * hour, 6 * hour, 12 * hour, day, 2 * day, 7 * day, 14 * day, 28 * day,
];

/** Ticks from 0 to at least `maxMs`, at most `maxTicks` steps of a round duration. */
export function durationTicks(maxMs: number, maxTicks = 5): number[] {
  const step = durationSteps.find((s) => maxMs / s <= maxTicks) ?? Math.ceil(maxMs / maxTicks / day) * day;
  return ticksUpTo(maxMs, step);
}

function countTicks(max: number, maxTicks = 5): number[] {
  for (let magnitude = 1; ; magnitude *= 10) {
    const step = [1, 2, 5].map((f) => f * magnitude).find((s) => max / s <= maxTicks);
    if (step !== undefined) return ticksUpTo(max, step);
  }
}

function ticksUpTo(max: number, step: number): number[] {
  const count = Math.max(1, Math.ceil(max / step));
  return Array.from({ length: count + 1 }, (_, i) => i * step);
}

/** "≤15m" for a bucket with an upper bound, ">1d" for the open-ended last one. */
export function bucketLabel(buckets: readonly DistributionBucket[], index: number): string {
  const le = buckets[index]?.le;
  if (le !== null && le !== undefined) return `≤${formatMs(le)}`;
  const previous = buckets[index - 1]?.le;
  return previous === null || previous === undefined ? "any" : `>${formatMs(previous)}`;
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Oct 5" for "2026-10-05"; anything else is shown as it came. */
export function weekLabel(isoDate: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(isoDate);
  const month = match ? months[Number(match[2]) - 1] : undefined;
  return match && month ? `${month} ${Number(match[3])}` : isoDate;
}

const round = (n: number) => Math.round(n * 10) / 10;

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const plotWidth = (f: Frame) => f.width - f.left - f.right;
const plotHeight = (f: Frame) => f.height - f.top - f.bottom;

function openSvg(frame: Frame, id: string, title: string, desc: string): string {
  return (
    `<svg class="chart" id="${id}" viewBox="0 0 ${frame.width} ${frame.height}" ` +
    `role="img" aria-labelledby="${id}-title ${id}-desc">` +
    `<title id="${id}-title">${escapeMarkup(title)}</title><desc id="${id}-desc">${escapeMarkup(desc)}</desc>`
  );
}

/** Horizontal grid lines with their labels on the left axis. */
function yAxis(frame: Frame, ticks: number[], label: (tick: number) => string): string {
  const top = ticks[ticks.length - 1] || 1;
  return ticks
    .map((tick) => {
      const y = round(frame.top + plotHeight(frame) * (1 - tick / top));
      return (
        `<line class="grid" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y}" y2="${y}"/>` +
        `<text class="tick" x="${frame.left - 8}" y="${y + 4}" text-anchor="end">${escapeMarkup(label(tick))}</text>`
      );
    })
    .join("");
}

function emptyNote(frame: Frame, text: string): string {
  const x = frame.left + plotWidth(frame) / 2;
  const y = frame.top + plotHeight(frame) / 2;
  return `<text class="note" x="${x}" y="${y}" text-anchor="middle">${escapeMarkup(text)}</text>`;
}

const weeklyFrame: Frame = { width: 880, height: 300, left: 64, right: 16, top: 36, bottom: 40 };

/** Weekly median (solid) and p90 (dashed) time to resolve; weeks without resolved incidents are gaps. */
export function renderWeeklyChart(weeks: readonly WeekPoint[]): string {
  const frame = weeklyFrame;
  const svg = openSvg(
    frame,
    "weekly-chart",
    "Weekly time to resolve",
    "Median and 90th percentile time to resolve of the incidents started each week; weeks without resolved incidents are left as gaps.",
  );
  const values = weeks.flatMap((w) => (w.count > 0 ? [w.median, w.p90] : [])).filter((v) => v !== undefined);
  const maxMs = Math.max(0, ...values);
  const ticks = durationTicks(maxMs || hour);
  const topTick = ticks[ticks.length - 1]!;
  const band = plotWidth(frame) / Math.max(1, weeks.length);
  const x = (i: number) => round(frame.left + band * (i + 0.5));
  const y = (ms: number) => round(frame.top + plotHeight(frame) * (1 - ms / topTick));
  const shown = (w: WeekPoint) => w.count > 0 && w.median !== undefined;

  const gaps = weeks
    .map((w, i) =>
      shown(w)
        ? ""
        : `<rect class="empty-week" data-week="${escapeMarkup(w.week)}" x="${round(frame.left + band * i)}" y="${frame.top}" ` +
          `width="${round(band)}" height="${plotHeight(frame)}"><title>Week of ${escapeMarkup(w.week)}: no resolved incidents</title></rect>`,
    )
    .join("");

  const line = (key: "median" | "p90") => {
    let path = "";
    let drawing = false;
    weeks.forEach((w, i) => {
      const value = shown(w) ? w[key] : undefined;
      if (value === undefined) {
        drawing = false;
        return;
      }
      path += `${drawing ? "L" : "M"}${x(i)} ${y(value)} `;
      drawing = true;
    });
    return path ? `<path class="line ${key}" d="${path.trim()}"/>` : "";
  };

  const points = weeks
    .map((w, i) => {
      if (!shown(w)) return "";
      const p90 = w.p90 === undefined ? "" : ` data-p90-ms="${w.p90}"`;
      const tip =
        `Week of ${w.week}: ${formatCount(w.count)} resolved, median ${formatMs(w.median!)}` +
        (w.p90 === undefined ? "" : `, p90 ${formatMs(w.p90)}`);
      return (
        `<g class="week-point" data-week="${escapeMarkup(w.week)}" data-count="${w.count}" data-median-ms="${w.median}"${p90}>` +
        `<title>${escapeMarkup(tip)}</title>` +
        `<rect class="hit" x="${round(frame.left + band * i)}" y="${frame.top}" width="${round(band)}" height="${plotHeight(frame)}"/>` +
        (w.p90 === undefined ? "" : `<circle class="dot p90" cx="${x(i)}" cy="${y(w.p90)}" r="3.5"/>`) +
        `<circle class="dot median" cx="${x(i)}" cy="${y(w.median!)}" r="4"/></g>`
      );
    })
    .join("");

  const every = Math.ceil(weeks.length / 10);
  const labels = weeks
    .map((w, i) =>
      i % every === 0
        ? `<text class="tick" x="${x(i)}" y="${frame.height - frame.bottom + 18}" text-anchor="middle">${escapeMarkup(weekLabel(w.week))}</text>`
        : "",
    )
    .join("");

  const legend =
    `<g class="legend" transform="translate(${frame.left},14)">` +
    `<line class="line median" x1="0" x2="24" y1="0" y2="0"/><text x="30" y="4">median</text>` +
    `<line class="line p90" x1="100" x2="124" y1="0" y2="0"/><text x="130" y="4">90th percentile (p90)</text>` +
    `<rect class="empty-week" x="300" y="-7" width="14" height="14"/><text x="320" y="4">no resolved incidents that week</text></g>`;

  const body = weeks.some(shown)
    ? gaps + line("p90") + line("median") + points
    : gaps + emptyNote(frame, weeks.length ? "No resolved incidents in any week" : "No weeks in this range");
  return `${svg}${hatch}${legend}${yAxis(frame, ticks, (ms) => (ms === 0 ? "0" : formatMs(ms)))}${body}${labels}</svg>`;
}

// A pattern rather than a colour marks empty weeks, so they survive greyscale printing.
const hatch =
  `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
  `<line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern></defs>`;

const histogramFrame: Frame = { width: 880, height: 260, left: 64, right: 16, top: 24, bottom: 40 };

/** Resolved incidents per time-to-resolve bucket, with the count above each bar. */
export function renderDistributionChart(buckets: readonly DistributionBucket[]): string {
  const frame = histogramFrame;
  const svg = openSvg(
    frame,
    "distribution-chart",
    "Distribution of time to resolve",
    "Number of resolved incidents whose time to resolve falls in each bucket.",
  );
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  const ticks = countTicks(Math.max(1, ...buckets.map((b) => b.count)));
  const topTick = ticks[ticks.length - 1]!;
  const band = plotWidth(frame) / Math.max(1, buckets.length);
  const bars = buckets
    .map((bucket, i) => {
      const label = bucketLabel(buckets, i);
      const height = round((plotHeight(frame) * bucket.count) / topTick);
      const x = round(frame.left + band * i + band * 0.15);
      const share = total ? ` (${Math.round((100 * bucket.count) / total)}%)` : "";
      const tip = `${label}: ${formatCount(bucket.count)} resolved incident${bucket.count === 1 ? "" : "s"}${share}`;
      const baseline = frame.top + plotHeight(frame);
      return (
        `<g class="bucket" data-le="${bucket.le ?? ""}" data-count="${bucket.count}"><title>${escapeMarkup(tip)}</title>` +
        `<rect class="bar" x="${x}" y="${round(baseline - height)}" width="${round(band * 0.7)}" height="${height}"/>` +
        `<text class="value" x="${round(frame.left + band * (i + 0.5))}" y="${round(baseline - height - 5)}" text-anchor="middle">${formatCount(bucket.count)}</text>` +
        `<text class="tick" x="${round(frame.left + band * (i + 0.5))}" y="${frame.height - frame.bottom + 18}" text-anchor="middle">${escapeMarkup(label)}</text></g>`
      );
    })
    .join("");
  const note = total === 0 ? emptyNote(frame, "No resolved incidents in this range") : "";
  return `${svg}${yAxis(frame, ticks, formatCount)}${bars}${note}</svg>`;
}

export interface PhaseBar {
  /** Median of each phase in ms; absent when no incident measured it. */
  detect?: number;
  isolate?: number;
  recover?: number;
  /** Median time to resolve, marked on the bar: the sum of phase medians is not the median of sums. */
  resolve?: number;
}

const stackedPhases = ["detect", "isolate", "recover"] as const;
const barWidth = 560;
const barHeight = 26;

/** One horizontal bar of median detect + isolate + recover on a scale shared by all bars (`scaleMs`). */
export function renderPhaseBar(bar: PhaseBar, scaleMs: number, attributes: string): string {
  const px = (ms: number) => (barWidth * ms) / (scaleMs || 1);
  let offset = 0;
  const segments = stackedPhases
    .map((phase) => {
      const ms = bar[phase];
      if (ms === undefined || ms <= 0) return "";
      const x = offset;
      const width = px(ms);
      offset += width;
      const text = formatMs(ms);
      // About 7px a character at this size: a label that does not fit is left to the text beside the bar.
      const label =
        width > text.length * 7 + 6
          ? `<text class="segment-label" x="${round(x + width / 2)}" y="${barHeight / 2 + 4}" text-anchor="middle">${text}</text>`
          : "";
      return (
        `<g class="segment" data-phase="${phase}" data-ms="${ms}"><title>median time to ${phase}: ${text}</title>` +
        `<rect class="phase-${phase}" x="${round(x)}" y="2" width="${round(width)}" height="${barHeight - 4}"/>${label}</g>`
      );
    })
    .join("");
  const marker =
    bar.resolve === undefined
      ? ""
      : `<g class="resolve-marker" data-phase="resolve" data-ms="${bar.resolve}"><title>median time to resolve: ${formatMs(bar.resolve)}</title>` +
        `<line x1="${round(px(bar.resolve))}" x2="${round(px(bar.resolve))}" y1="0" y2="${barHeight}"/></g>`;
  return (
    `<svg class="phase-bar" ${attributes} viewBox="-2 0 ${barWidth + 4} ${barHeight}" ` +
    `width="${barWidth + 4}" height="${barHeight}" aria-hidden="true">` +
    `<rect class="track" x="0" y="2" width="${barWidth}" height="${barHeight - 4}"/>${segments}${marker}</svg>`
  );
}
