import { describe, expect, test } from "bun:test";
import { formatMs } from "../ui/index.ts";
import { renderHtml } from "./html.ts";
import { type Cohort, type MttrReport, type Phase, type PhaseStats, phases } from "./types.ts";

const minute = 60_000;
const hour = 60 * minute;

function stats(count: number, median: number): PhaseStats {
  if (count === 0) return { count };
  return { count, median, p90: median * 3, p99: median * 5, mean: median * 1.4 + 1234.5, min: median / 10, max: median * 8 };
}

function cohort(label: string, resolved: number, open: number, medians: Record<Phase, number>): Cohort {
  return {
    label,
    incidents: resolved + open,
    resolved,
    open,
    automated: label === "automated" ? resolved : 0,
    manual: label === "automated" ? 0 : resolved,
    escalated: Math.min(2, resolved),
    attempts: resolved ? resolved + 5 : 0,
    phases: {
      detect: stats(resolved, medians.detect),
      isolate: stats(resolved ? resolved - 1 : 0, medians.isolate),
      recover: stats(resolved, medians.recover),
      resolve: stats(resolved, medians.resolve),
    },
  };
}

const distribution = [
  { le: 5 * minute, count: 10 },
  { le: 15 * minute, count: 25 },
  { le: hour, count: 40 },
  { le: 4 * hour, count: 30 },
  { le: 24 * hour, count: 12 },
  { le: null, count: 3 },
];

const single: MttrReport = {
  generatedAt: "2026-11-25T10:00:00Z",
  range: { since: "2026-09-28T00:00:00Z", until: "2026-11-25T00:00:00Z" },
  overall: [cohort("all", 120, 3, { detect: 90_000, isolate: 4 * minute, recover: 30 * minute, resolve: 42 * minute })],
  groups: [],
  weekly: Array.from({ length: 8 }, (_, i) => ({
    week: new Date(Date.UTC(2026, 8, 28 + 7 * i)).toISOString().slice(0, 10),
    count: 10 + i,
    median: (30 + 3 * i) * minute,
    p90: (90 + 10 * i) * minute,
  })),
  distribution,
};

const scriptName = "<script>alert(1)</script>";

const compared: MttrReport = {
  generatedAt: "2026-11-25T10:00:00Z",
  range: { since: "2026-10-26T00:00:00Z", until: "2026-11-25T00:00:00Z" },
  by: "service",
  compare: { mode: "automated", baseline: "manual", current: "automated" },
  overall: [
    cohort("manual", 88, 2, { detect: 3 * minute, isolate: 12 * minute, recover: 50 * minute, resolve: 72 * minute }),
    cohort("automated", 212, 1, { detect: 2 * minute, isolate: 45_000, recover: 20 * minute, resolve: 30 * minute }),
  ],
  changes: {
    detect: { median: -1 / 3, p90: -1 / 3, mean: -0.3 },
    isolate: { median: -0.9375, p90: -0.9375 },
    recover: { median: -0.6, p90: 0.12 },
    resolve: { median: -0.5833, p90: -0.5833, mean: -0.5 },
  },
  groups: [
    {
      group: "checkout",
      cohorts: [
        cohort("manual", 40, 1, { detect: 4 * minute, isolate: 10 * minute, recover: 45 * minute, resolve: hour }),
        cohort("automated", 100, 0, { detect: 2 * minute, isolate: 30_000, recover: 15 * minute, resolve: 20 * minute }),
      ],
      changes: { detect: {}, isolate: {}, recover: {}, resolve: { median: -2 / 3 } },
    },
    {
      group: scriptName,
      cohorts: [
        cohort("manual", 3, 0, { detect: minute, isolate: 2 * minute, recover: 3 * hour, resolve: 3 * hour }),
        cohort("automated", 0, 0, { detect: 0, isolate: 0, recover: 0, resolve: 0 }),
      ],
    },
  ],
  weekly: [
    { week: "2026-10-26", count: 60, median: 50 * minute, p90: 3 * hour },
    { week: "2026-11-02", count: 0 },
    { week: "2026-11-09", count: 80, median: 40 * minute, p90: 2 * hour },
    { week: "2026-11-16", count: 90, median: 35 * minute, p90: 100 * minute },
    { week: "2026-11-23", count: 70, median: 30 * minute },
  ],
  distribution,
};

const empty: MttrReport = {
  generatedAt: "2026-11-25T10:00:00Z",
  range: { until: "2026-11-25T12:30:00Z" },
  overall: [cohort("all", 0, 0, { detect: 0, isolate: 0, recover: 0, resolve: 0 })],
  groups: [],
  weekly: ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"].map((week) => ({ week, count: 0 })),
  distribution: distribution.map((b) => ({ ...b, count: 0 })),
};

interface Found {
  tag: string;
  attrs: Record<string, string>;
  text: string;
}

// HTMLRewriter hands text and attribute values over as written, entities included.
function decode(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&(lt|gt|quot|amp);/g, (_, name: string) => ({ lt: "<", gt: ">", quot: '"', amp: "&" })[name]!);
}

/** Elements matching a CSS selector in the page, parsed by Bun's HTMLRewriter (lol-html). */
async function select(html: string, selector: string): Promise<Found[]> {
  const found: Found[] = [];
  await new HTMLRewriter()
    .on(selector, {
      element(element) {
        const attrs = Object.fromEntries([...element.attributes].map(([name, value]) => [name, decode(value)]));
        found.push({ tag: element.tagName, attrs, text: "" });
      },
      text(chunk) {
        const last = found[found.length - 1];
        if (last) last.text += chunk.text;
      },
    })
    .transform(new Response(html))
    .text();
  return found.map((f) => ({ ...f, text: decode(f.text).trim() }));
}

const statKeys = ["median", "p90", "mean", "min", "max"] as const;

describe("renderHtml", () => {
  test("is one complete HTML5 document", () => {
    const html = renderHtml(single);
    expect(html.startsWith("<!doctype html>\n<html lang=\"en\">")).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
  });

  test.each([
    ["single", single],
    ["compared", compared],
    ["empty", empty],
  ])("summary cells of the %s report hold each statistic in data-ms and show it formatted", async (_, report) => {
    const html = renderHtml(report);
    const cells = await select(html, "table.summary td[data-cohort]");
    expect(cells).toHaveLength(report.overall.length * phases.length * (statKeys.length + 1));
    report.overall.forEach((c, i) => {
      for (const phase of phases) {
        const at = (stat: string) =>
          cells.find((cell) => cell.attrs["data-cohort"] === String(i) && cell.attrs["data-phase"] === phase && cell.attrs["data-stat"] === stat);
        expect(at("count")?.attrs["data-value"]).toBe(String(c.phases[phase].count));
        for (const stat of statKeys) {
          const value = c.phases[phase][stat];
          const cell = at(stat)!;
          expect(cell.attrs["data-ms"]).toBe(value === undefined ? undefined : String(value));
          expect(cell.text).toBe(value === undefined ? "—" : formatMs(value));
        }
      }
    });
  });

  test("headline without comparison gives the median with its resolved and open counts", async () => {
    const [headline] = await select(renderHtml(single), ".headline");
    expect(headline?.text).toBe("Median time to resolve 42m over 120 resolved incidents (3 still open).");
  });

  test("headline when comparing states the change, both medians and both counts", async () => {
    const [headline] = await select(renderHtml(compared), ".headline");
    expect(headline?.text).toBe(
      "Median time to resolve down 58% (1h12m → 30m), automated vs manual, over 212 and 88 resolved incidents (3 still open).",
    );
  });

  test("change column says down or up in words beside the arrow", async () => {
    const changes = await select(renderHtml(compared), "td.change [data-change]");
    const resolve = changes.find((c) => c.attrs["data-phase"] === "resolve" && c.attrs["data-stat"] === "median");
    expect(resolve?.text).toBe("↓ down 58%");
    const recoverP90 = changes.find((c) => c.attrs["data-phase"] === "recover" && c.attrs["data-stat"] === "p90");
    expect(recoverP90?.text).toBe("p90 ↑ up 12%");
    expect(recoverP90?.attrs.class).toBe("p90 up");
    expect(changes).toHaveLength(8);
    expect(await select(renderHtml(single), "[data-change]")).toHaveLength(0);
  });

  test("incident counts per cohort are shown, open ones apart", async () => {
    const cells = await select(renderHtml(compared), "table.counts td");
    const open = cells.filter((c) => c.attrs["data-stat"] === "open").map((c) => c.text);
    expect(open).toEqual(["2", "1"]);
    const resolved = cells.filter((c) => c.attrs["data-stat"] === "resolved").map((c) => c.text);
    expect(resolved).toEqual(["88", "212"]);
  });

  test.each([
    ["single", single],
    ["compared", compared],
    ["empty", empty],
  ])("the %s page references nothing outside itself", async (_, report) => {
    const html = renderHtml(report);
    expect(html).not.toMatch(/\ssrc\s*=/i);
    expect(html).not.toMatch(/href\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/url\(\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/https?:/i);
    expect(await select(html, "script, link, img, iframe, object, embed, [src], [href]")).toHaveLength(0);
  });

  test("weekly chart has one point per week with resolved incidents and a gap for the others", async () => {
    const html = renderHtml(compared);
    expect(await select(html, "svg#weekly-chart")).toHaveLength(1);
    const points = await select(html, "svg#weekly-chart g.week-point");
    const nonEmpty = compared.weekly.filter((w) => w.count > 0);
    expect(points.map((p) => p.attrs["data-week"])).toEqual(nonEmpty.map((w) => w.week));
    expect(points.map((p) => Number(p.attrs["data-median-ms"]))).toEqual(nonEmpty.map((w) => w.median!));
    expect(points[0]?.text).toBe("Week of 2026-10-26: 60 resolved, median 50m, p90 3h");
    expect(points[3]?.attrs["data-p90-ms"]).toBeUndefined();
    const gaps = await select(html, "svg#weekly-chart rect.empty-week[data-week]");
    expect(gaps.map((g) => g.attrs["data-week"])).toEqual(["2026-11-02"]);
    const [median] = await select(html, "svg#weekly-chart path.median");
    expect(median?.attrs.d?.match(/M/g)).toHaveLength(2);
    const ticks = (await select(html, "svg#weekly-chart text.tick")).map((t) => t.text);
    expect(ticks).toEqual(expect.arrayContaining(["0", "1h", "2h", "3h", "Oct 26", "Nov 23"]));
  });

  test("distribution histogram labels each bucket and its count", async () => {
    const buckets = await select(renderHtml(single), "svg#distribution-chart g.bucket");
    expect(buckets.map((b) => Number(b.attrs["data-count"]))).toEqual(distribution.map((b) => b.count));
    const labels = (await select(renderHtml(single), "svg#distribution-chart g.bucket text.tick")).map((t) => t.text);
    expect(labels).toEqual(["≤5m", "≤15m", "≤1h", "≤4h", "≤24h", ">24h"]);
    expect(buckets[1]?.text).toStartWith("≤15m: 25 resolved incidents (21%)");
  });

  test("phase breakdown draws a baseline and a current bar per group, with their counts", async () => {
    const html = renderHtml(compared);
    const bars = await select(html, "svg.phase-bar");
    expect(bars.map((b) => [b.attrs["data-group"], b.attrs["data-cohort"]])).toEqual([
      ["checkout", "0"],
      ["checkout", "1"],
      [scriptName, "0"],
      [scriptName, "1"],
    ]);
    const segments = await select(html, "svg.phase-bar[data-group='checkout'][data-cohort='1'] g.segment");
    expect(segments.map((s) => [s.attrs["data-phase"], Number(s.attrs["data-ms"])])).toEqual([
      ["detect", 2 * minute],
      ["isolate", 30_000],
      ["recover", 15 * minute],
    ]);
    const rows = (await select(html, "#phases .bar-row")).map((r) => r.text);
    expect(rows[1]).toContain("detect 2m · isolate 30s · recover 15m · resolve 20m");
    expect(rows[1]).toContain("100 resolved of 100 incidents");
    expect(rows[0]).toContain("40 resolved of 41 incidents, 1 still open");
    const [heading] = await select(html, "#phases .group[data-group='checkout'] h3");
    expect(heading?.text).toContain("median time to resolve down 67%");
  });

  test("without groups, the breakdown shows all incidents as one bar", async () => {
    const bars = await select(renderHtml(single), "svg.phase-bar");
    expect(bars.map((b) => b.attrs["data-group"])).toEqual(["All incidents"]);
  });

  test("escapes group names and labels that come from alerts", async () => {
    const hostile = structuredClone(compared);
    hostile.overall[1]!.label = `auto"mated <b>&`;
    hostile.by = "label:<img onerror=x>";
    const html = renderHtml(hostile);
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const [heading] = await select(html, `.group[data-group='${"&lt;script&gt;alert(1)&lt;/script&gt;"}'] h3`);
    expect(heading?.text).toBe(scriptName);
    const groups = await select(html, "#phases .group");
    expect(groups.map((g) => g.attrs["data-group"])).toEqual(["checkout", scriptName]);
    const [headline] = await select(html, ".headline");
    expect(headline?.text).toContain(`auto"mated <b>& vs manual`);
  });

  test("a report with no incidents and empty weeks renders gaps and dashes, never NaN", async () => {
    const html = renderHtml(empty);
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
    const [headline] = await select(html, ".headline");
    expect(headline?.text).toBe("No incidents in this range.");
    expect(await select(html, "g.week-point")).toHaveLength(0);
    expect(await select(html, "rect.empty-week[data-week]")).toHaveLength(4);
    const [note] = await select(html, "svg#weekly-chart text.note");
    expect(note?.text).toBe("No resolved incidents in any week");
    const [meta] = await select(html, ".meta");
    expect(meta?.text).toBe("Incidents started up to 2026-11-25 12:30 UTC");
  });

  test("states how each phase is measured", async () => {
    const terms = (await select(renderHtml(single), "#method dt")).map((t) => t.text);
    expect(terms).toEqual(["Time to detect", "Time to isolate", "Time to recover", "Time to resolve (MTTR)"]);
    const [method] = await select(renderHtml(single), "#method");
    expect(method?.text).toContain("never averaged in");
    expect(method?.text).toContain("interpolate linearly");
    expect(method?.text).toContain("when a rule's run remediated it");
  });
});
