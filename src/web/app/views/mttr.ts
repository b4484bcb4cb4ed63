// MTTR: the weekly trend of time to resolve and the breakdown by phase, the
// numbers `opskit mttr` prints for the same range (its own formatter).
import { formatMs } from "../../../ui/duration.ts";
import { api } from "../api.ts";
import { barChart, phaseBar, phaseNames } from "../charts.ts";
import { h, replaceContent } from "../dom.ts";
import { formatCount } from "../format.ts";
import { refresher, type View, type ViewContext } from "../view.ts";
import { emptyState, errorBox, section } from "../widgets.ts";
import { filterForm } from "./filters.ts";

type PhaseKey = (typeof phaseNames)[number];

interface PhaseStats {
  count: number;
  median?: number;
  p90?: number;
  p99?: number;
  mean?: number;
  min?: number;
  max?: number;
}

interface MttrModel {
  headline?: string;
  counts: { label: string; value: number }[];
  weekly: { week: string; count: number; median?: number; p90?: number }[];
  phases: Partial<Record<PhaseKey, PhaseStats>>;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" ? (v as Record<string, unknown>) : {});

function stats(value: unknown): PhaseStats {
  const o = obj(value);
  const s: PhaseStats = { count: num(o.count) ?? 0 };
  for (const key of ["median", "p90", "p99", "mean", "min", "max"] as const) {
    const v = num(o[key]);
    if (v !== undefined) s[key] = v;
  }
  return s;
}

/**
 * Reads the MTTR answer: the report `opskit mttr --json` prints (overall
 * cohorts, weekly points) or its summary form (summary, weekly, phases).
 */
function model(answer: unknown): MttrModel {
  const root = obj(answer);
  const report = obj(root.report ?? root);
  const cohort = obj(Array.isArray(report.overall) ? report.overall[0] : undefined);
  const summary = obj(root.summary);
  const source = Object.keys(cohort).length ? cohort : summary;
  const phaseSource = obj(cohort.phases ?? root.phases ?? summary.phases);
  const phases: MttrModel["phases"] = {};
  for (const p of phaseNames) if (phaseSource[p] !== undefined) phases[p] = stats(phaseSource[p]);
  const counts = (["incidents", "resolved", "open", "automated", "manual", "escalated", "attempts"] as const)
    .map((key) => ({ label: key, value: num(source[key]) }))
    .filter((c): c is { label: (typeof c)["label"]; value: number } => c.value !== undefined);
  const weekly = (Array.isArray(report.weekly) ? report.weekly : Array.isArray(root.weekly) ? root.weekly : []).map((w: unknown) => {
    const o = obj(w);
    const resolve = obj(obj(o.phases).resolve);
    const start = num(o.weekStart);
    const week = start !== undefined ? new Date(start).toISOString().slice(0, 10) : String(o.week ?? "");
    const point: MttrModel["weekly"][number] = { week, count: num(o.resolved) ?? num(o.count) ?? 0 };
    const median = num(o.median) ?? num(o.mttrMs) ?? num(resolve.median);
    const p90 = num(o.p90) ?? num(o.p90Ms) ?? num(resolve.p90);
    if (median !== undefined) point.median = median;
    if (p90 !== undefined) point.p90 = p90;
    return point;
  });
  const headline = typeof root.headline === "string" ? root.headline : typeof summary.headline === "string" ? summary.headline : undefined;
  return { ...(headline ? { headline } : {}), counts, weekly, phases };
}

const show = (ms: number | undefined) => (ms === undefined ? "–" : formatMs(ms));
const phaseLabel: Record<PhaseKey, string> = { detect: "time to detect", isolate: "time to isolate", recover: "time to recover", resolve: "time to resolve" };

export function mttrView(context: ViewContext): View {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const root = h(
    "div",
    { class: "view view-mttr" },
    h("h1", {}, "MTTR"),
    filterForm(
      "#/mttr",
      [
        { name: "since", label: "From", type: "datetime" },
        { name: "until", label: "To", type: "datetime" },
        { name: "rule", label: "Rule", type: "text" },
      ],
      context.query,
      {},
      "MTTR range",
    ),
    body,
  );

  const render = (m: MttrModel) => {
    const resolve = m.phases.resolve;
    const medians = Object.fromEntries(phaseNames.map((p) => [p, m.phases[p]?.median])) as Record<PhaseKey, number | undefined>;
    replaceContent(
      body,
      h("p", { class: "headline" }, m.headline ?? (resolve?.median !== undefined ? `Median time to resolve ${formatMs(resolve.median)} over ${formatCount(resolve.count)} resolved incidents.` : "No resolved incidents in this range.")),
      m.counts.length ? h("ul", { class: "stats", "aria-label": "Counts" }, m.counts.map((c) => h("li", {}, h("span", { class: "stat-value" }, formatCount(c.value)), ` ${c.label}`))) : null,
      section(
        "Weekly trend",
        "weekly-heading",
        m.weekly.some((w) => w.median !== undefined)
          ? [
              barChart(
                m.weekly.map((w) => ({ label: w.week.slice(5, 10), value: w.median, title: `week of ${w.week}: median ${show(w.median)} over ${w.count} resolved` })),
                `Median time to resolve per week, ${m.weekly.length} weeks`,
              ),
              h(
                "details",
                { "data-key": "weekly-table" },
                h("summary", {}, "The weekly numbers as a table"),
                h(
                  "div",
                  { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Weekly time to resolve" },
                  h(
                    "table",
                    { class: "data-table" },
                    h("caption", { class: "sr-only" }, "Weekly time to resolve"),
                    h("thead", {}, h("tr", {}, ["Week of", "Resolved", "Median", "p90"].map((t) => h("th", { scope: "col" }, t)))),
                    h("tbody", {}, m.weekly.map((w) => h("tr", {}, h("th", { scope: "row" }, w.week), h("td", { class: "num" }, formatCount(w.count)), h("td", { class: "num" }, show(w.median)), h("td", { class: "num" }, show(w.p90))))),
                  ),
                ),
              ),
            ]
          : emptyState("No week has a resolved incident."),
      ),
      section(
        "Phases",
        "phases-heading",
        phaseBar({ ...(medians.detect !== undefined ? { detect: medians.detect } : {}), ...(medians.isolate !== undefined ? { isolate: medians.isolate } : {}), ...(medians.recover !== undefined ? { recover: medians.recover } : {}) }, "Median of each phase"),
        h(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Phases" },
          h(
            "table",
            { class: "data-table" },
            h("caption", {}, "Each phase over the incidents that reached it"),
            h("thead", {}, h("tr", {}, ["Phase", "n", "Median", "p90", "p99", "Mean", "Min", "Max"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              phaseNames.map((p) => {
                const s = m.phases[p] ?? { count: 0 };
                return h("tr", {}, h("th", { scope: "row" }, phaseLabel[p]), h("td", { class: "num" }, formatCount(s.count)), [s.median, s.p90, s.p99, s.mean, s.min, s.max].map((v) => h("td", { class: "num" }, show(v))));
              }),
            ),
          ),
        ),
      ),
    );
  };

  async function load(): Promise<void> {
    const params: Record<string, string> = {};
    for (const key of ["since", "until", "rule"]) {
      const value = context.query.get(key);
      if (value) params[key] = value;
    }
    try {
      render(model(await api.mttr(params, context.signal)));
    } catch (error) {
      if (context.signal.aborted) return;
      replaceContent(body, errorBox(error));
      context.reportError(error);
    }
  }
  const schedule = refresher(load, context.signal, { quietMs: 1_000, minIntervalMs: 10_000 });

  return {
    title: "MTTR",
    root,
    refresh: load,
    onEvent(message) {
      if (message.event === "heal" && message.data.includes('"type":"incident.resolved"')) schedule();
    },
  };
}
