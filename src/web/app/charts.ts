// The dashboard's charts as inline SVG built with createElementNS: nothing
// from the network, nothing parsed from strings. Each chart has a text
// equivalent (aria-label or a table) so the numbers are readable without it.
import type { CheckResult, Phases } from "./api.ts";
import { h, s, setAttr } from "./dom.ts";
import { formatMs } from "./format.ts";
import { toneOf } from "./widgets.ts";

/** How many recent results an uptime bar shows. */
export const UPTIME_SLOTS = 30;

export interface UptimeBar {
  element: SVGSVGElement;
  update(history: readonly CheckResult[]): void;
}

/**
 * Recent results as cells, oldest left, failed ones red. Two paths for all
 * the cells, not an element per cell: 2,000 checks stay cheap to draw and to
 * update in place.
 */
export function uptimeBar(): UptimeBar {
  const ok = s("path", { class: "cell-ok" });
  const bad = s("path", { class: "cell-bad" });
  const none = s("path", { class: "cell-none" });
  const element = s("svg", { class: "uptime-bar", viewBox: `0 0 ${UPTIME_SLOTS * 4} 12`, preserveAspectRatio: "none", role: "img", focusable: "false" }, none, ok, bad);
  let last = "";
  return {
    element,
    update(history) {
      const recent = history.slice(-UPTIME_SLOTS);
      const key = recent.map((r) => (r.ok ? "1" : "0")).join("");
      if (key === last) return;
      last = key;
      const offset = UPTIME_SLOTS - recent.length;
      const cell = (i: number) => `M${i * 4} 0h3v12h-3z`;
      let okPath = "";
      let badPath = "";
      let nonePath = "";
      for (let i = 0; i < offset; i++) nonePath += cell(i);
      recent.forEach((r, i) => {
        if (r.ok) okPath += cell(offset + i);
        else badPath += cell(offset + i);
      });
      setAttr(ok, "d", okPath || undefined);
      setAttr(bad, "d", badPath || undefined);
      setAttr(none, "d", nonePath || undefined);
      const failed = recent.filter((r) => !r.ok).length;
      setAttr(element, "aria-label", recent.length ? `last ${recent.length} results: ${recent.length - failed} passed, ${failed} failed` : "no results yet");
    },
  };
}

export interface Sparkline {
  element: SVGSVGElement;
  update(history: readonly CheckResult[]): void;
}

/** Response times of recent results as a line; the scale is the visible maximum. */
export function sparkline(): Sparkline {
  const width = 120;
  const height = 24;
  const line = s("polyline", { class: "spark-line", fill: "none" });
  const element = s("svg", { class: "sparkline", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", focusable: "false" }, line);
  let last = "";
  return {
    element,
    update(history) {
      const values = history
        .slice(-UPTIME_SLOTS)
        .map((r) => r.durationMs)
        .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
      const key = values.join(",");
      if (key === last) return;
      last = key;
      if (values.length < 2) {
        setAttr(line, "points", undefined);
        setAttr(element, "aria-label", values.length ? `response time ${formatMs(values[0])}` : "no response times yet");
        return;
      }
      const max = Math.max(...values, 1);
      const step = width / (values.length - 1);
      const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
      setAttr(line, "points", points);
      setAttr(element, "aria-label", `response time: last ${formatMs(values.at(-1))}, highest ${formatMs(max)}`);
    },
  };
}

export const phaseNames = ["detect", "isolate", "recover", "resolve"] as const;
const phaseHelp: Record<(typeof phaseNames)[number], string> = {
  detect: "started to detected",
  isolate: "detected to remediation started",
  recover: "remediation started to remediated",
  resolve: "remediated to resolved",
};

/** MTTR phases as one stacked bar with a legend that carries the numbers. */
export function phaseBar(phases: Phases | undefined, label = "MTTR phases"): HTMLElement {
  const present = phaseNames.filter((p) => typeof phases?.[p] === "number" && Number.isFinite(phases[p]!));
  const total = present.reduce((sum, p) => sum + Math.max(0, phases![p]!), 0);
  if (present.length === 0) return h("p", { class: "empty" }, "No phase has ended yet.");
  let x = 0;
  const rects = present.map((p) => {
    const width = total > 0 ? (Math.max(0, phases![p]!) / total) * 1000 : 1000 / present.length;
    const rect = s("rect", { class: `phase-${p}`, x: x.toFixed(1), y: 0, width: Math.max(width, 2).toFixed(1), height: 16 });
    x += width;
    return rect;
  });
  const summary = present.map((p) => `${p} ${formatMs(phases![p])}`).join(", ");
  return h(
    "figure",
    { class: "phase-figure" },
    s("svg", { class: "phase-bar", viewBox: "0 0 1000 16", preserveAspectRatio: "none", role: "img", "aria-label": `${label}: ${summary}` }, rects),
    h(
      "ul",
      { class: "legend" },
      present.map((p) => h("li", {}, h("span", { class: `swatch phase-${p}`, "aria-hidden": "true" }), h("strong", {}, p), ` ${formatMs(phases![p])}`, h("span", { class: "muted" }, ` (${phaseHelp[p]})`))),
    ),
  );
}

export interface WaterfallRow {
  label: string;
  detail?: string;
  startMs: number;
  durationMs: number;
  status: string;
}

/** Step durations on one time axis: where each step started and how long it took. */
export function waterfall(rows: readonly WaterfallRow[], caption: string): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, "No step has finished yet.");
  const start = Math.min(...rows.map((r) => r.startMs));
  const end = Math.max(...rows.map((r) => r.startMs + Math.max(r.durationMs, 0)));
  const span = Math.max(end - start, 1);
  return h(
    "table",
    { class: "waterfall" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"), h("th", { scope: "col" }, "Duration"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Timeline")))),
    h(
      "tbody",
      {},
      rows.map((r) => {
        const x = ((r.startMs - start) / span) * 1000;
        const width = Math.max((Math.max(r.durationMs, 0) / span) * 1000, 3);
        return h(
          "tr",
          {},
          h("th", { scope: "row" }, r.label, r.detail ? h("span", { class: "muted" }, ` ${r.detail}`) : null),
          h("td", { class: "num" }, formatMs(r.durationMs)),
          h("td", { class: "bar-cell" }, s("svg", { class: "waterfall-bar", viewBox: "0 0 1000 10", preserveAspectRatio: "none", "aria-hidden": "true" }, s("rect", { class: `bar tone-${toneOf(r.status)}`, x: x.toFixed(1), y: 0, width: Math.min(width, 1000 - x).toFixed(1), height: 10 }))),
        );
      }),
    ),
  );
}

export interface BarPoint {
  label: string;
  value: number | undefined;
  title: string;
}

/** Vertical bars with a baseline and the highest value as the scale; every bar has a <title>. */
export function barChart(points: readonly BarPoint[], label: string): SVGSVGElement {
  const width = Math.max(points.length * 24, 240);
  const height = 120;
  const max = Math.max(1, ...points.map((p) => p.value ?? 0));
  const barWidth = width / Math.max(points.length, 1);
  return s(
    "svg",
    { class: "bar-chart", viewBox: `0 0 ${width} ${height + 16}`, role: "img", "aria-label": label },
    s("line", { class: "axis", x1: 0, y1: height, x2: width, y2: height }),
    points.map((p, i) => {
      const value = p.value ?? 0;
      const barHeight = (value / max) * (height - 4);
      return s(
        "g",
        {},
        s("rect", { class: "bar", x: (i * barWidth + 2).toFixed(1), y: (height - barHeight).toFixed(1), width: Math.max(barWidth - 4, 1).toFixed(1), height: barHeight.toFixed(1) }, s("title", {}, p.title)),
        points.length <= 16 || i % Math.ceil(points.length / 12) === 0 ? s("text", { class: "tick", x: (i * barWidth + barWidth / 2).toFixed(1), y: height + 12, "text-anchor": "middle" }, p.label) : null,
      );
    }),
  );
}
