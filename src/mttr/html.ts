/**
 * `opskit mttr --html`: the report as one self-contained page (inline CSS and
 * SVG, nothing fetched) that someone who was not there can read and print.
 */
import { formatChange, formatCount } from "./format.ts";
import { formatMs } from "../ui/index.ts";
import { headline, plural } from "./headline.ts";
import { escapeMarkup as esc, renderDistributionChart, renderPhaseBar, renderWeeklyChart } from "./svg.ts";
import { type Cohort, type MttrReport, type Phase, type PhaseChange, type PhaseStats, phases } from "./types.ts";

const phaseNames: Record<Phase, string> = {
  detect: "Time to detect",
  isolate: "Time to isolate",
  recover: "Time to recover",
  resolve: "Time to resolve (MTTR)",
};

// Medians and p90 lead: they are what a reader compares; the mean is skewed by one long incident.
const durationStats = ["median", "p90", "mean", "min", "max"] as const;
const statNames: Record<(typeof durationStats)[number], string> = {
  median: "Median",
  p90: "p90",
  mean: "Mean",
  min: "Min",
  max: "Max",
};

export function renderHtml(report: MttrReport): string {
  const comparing = report.overall.length > 1;
  const title = comparing ? `MTTR: ${cohortPair(report)}` : "MTTR report";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${esc(title)}</title>
<style>${css}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="meta">${renderMeta(report)}</p>
<p class="headline">${esc(headline(report.overall, report.changes))}</p>
</header>
<section id="summary">
<h2>Summary</h2>
${renderSummaryTable(report)}
${renderIncidentCounts(report)}
</section>
<section id="trend">
<h2>Weekly time to resolve</h2>
<p class="lead">Median and p90 time to resolve of the incidents that started each week${comparing ? ", all cohorts together" : ""}. Hover a point for its numbers.</p>
${renderWeeklyChart(report.weekly)}
${renderWeeklyTable(report)}
</section>
<section id="phases">
<h2>Phase breakdown${report.by ? ` by ${esc(report.by)}` : ""}</h2>
${renderPhaseBreakdown(report)}
</section>
<section id="distribution">
<h2>How long incidents took to resolve</h2>
<p class="lead">Resolved incidents by time to resolve${comparing ? ", all cohorts together" : ""}; each bucket includes its upper bound (≤15m is up to and including 15 minutes; the last, >, is everything longer).</p>
${renderDistributionChart(report.distribution)}
</section>
<section id="method">
<h2>How these are measured</h2>
${method}
</section>
<footer>Generated ${esc(formatInstant(report.generatedAt))} by <code>opskit mttr</code>.</footer>
</body>
</html>
`;
}

function cohortPair(report: MttrReport): string {
  const [baseline, current] = report.overall;
  return `${current?.label ?? "current"} vs ${baseline?.label ?? "baseline"}`;
}

function renderMeta(report: MttrReport): string {
  const until = formatInstant(report.range.until);
  const range = report.range.since ? `${formatInstant(report.range.since)} to ${until}` : `up to ${until}`;
  const parts = [`Incidents started ${esc(range)}`];
  if (report.compare) {
    parts.push(`comparing ${esc(report.compare.current)} with ${esc(report.compare.baseline)} (baseline)`);
  }
  if (report.by) parts.push(`grouped by ${esc(report.by)}`);
  return parts.join(" · ");
}

/** "2026-10-26" at midnight UTC, "2026-10-26 14:05 UTC" otherwise; text that is not a time is shown as it is. */
function formatInstant(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  const text = new Date(time).toISOString();
  const clock = text.slice(11, 16);
  return clock === "00:00" ? text.slice(0, 10) : `${text.slice(0, 10)} ${clock} UTC`;
}


function durationCell(cohort: number, phase: Phase, stat: string, ms: number | undefined): string {
  const where = `data-cohort="${cohort}" data-phase="${phase}" data-stat="${stat}"`;
  if (ms === undefined) return `<td class="none" ${where} title="no incidents measured">—</td>`;
  return `<td ${where} data-ms="${ms}">${formatMs(ms)}</td>`;
}

/** Median change, with the p90 change beneath it: one column keeps the two-cohort table within a page's width. */
function changeCell(phase: Phase, change: PhaseChange | undefined): string {
  const line = (stat: keyof PhaseChange, prefix: string) => {
    const ratio = change?.[stat];
    if (ratio === undefined || !Number.isFinite(ratio)) return `<span class="${stat} none">${prefix}—</span>`;
    const text = formatChange(ratio);
    const direction = text.startsWith("down") ? "down" : text.startsWith("up") ? "up" : "same";
    const arrow = { down: "↓", up: "↑", same: "=" }[direction];
    return (
      `<span class="${stat} ${direction}" data-phase="${phase}" data-stat="${stat}" data-change="${ratio}">` +
      `${prefix}<span aria-hidden="true">${arrow}</span> ${text}</span>`
    );
  };
  return `<td class="change">${line("median", "")}${line("p90", "p90 ")}</td>`;
}

function cohortHeading(cohort: Cohort, index: number, comparing: boolean): string {
  const role = comparing ? ` <span class="role">${index === 0 ? "baseline" : "current"}</span>` : "";
  return `${esc(cohort.label)}${role}`;
}

function renderSummaryTable(report: MttrReport): string {
  const comparing = report.overall.length > 1;
  const top = report.overall
    .map((c, i) => `<th scope="colgroup" colspan="${durationStats.length + 1}" class="cohort">${cohortHeading(c, i, comparing)}</th>`)
    .join("");
  const statHeads = report.overall
    .map(() => `<th scope="col">Count</th>${durationStats.map((s) => `<th scope="col">${statNames[s]}</th>`).join("")}`)
    .join("");
  const rows = phases
    .map((phase) => {
      const cells = report.overall
        .map((cohort, i) => {
          const stats: PhaseStats = cohort.phases[phase];
          const count = `<td class="count" data-cohort="${i}" data-phase="${phase}" data-stat="count" data-value="${stats.count}">${formatCount(stats.count)}</td>`;
          return count + durationStats.map((stat) => durationCell(i, phase, stat, stats[stat])).join("");
        })
        .join("");
      const change = report.changes?.[phase];
      const changes = comparing ? changeCell(phase, change) : "";
      return `<tr class="phase-row${phase === "resolve" ? " mttr" : ""}"><th scope="row">${phaseNames[phase]}</th>${cells}${changes}</tr>`;
    })
    .join("\n");
  return `<div class="scroll"><table class="summary">
<caption>Durations per phase over resolved incidents; open incidents are counted apart and never averaged in.${comparing ? " Change is from the baseline to the current cohort; lower is faster." : ""}</caption>
<thead><tr><th scope="col" rowspan="2" class="phase">Phase</th>${top}${comparing ? `<th scope="col" rowspan="2" class="change">Change<br><span class="role">median, p90</span></th>` : ""}</tr>
<tr>${statHeads}</tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
}

const cohortFacts = [
  ["incidents", "Incidents started"],
  ["resolved", "Resolved"],
  ["open", "Still open (not in the durations)"],
  ["automated", "Remediated automatically"],
  ["manual", "Handled by people"],
  ["escalated", "Escalated"],
  ["attempts", "Remediation attempts"],
] as const;

function renderIncidentCounts(report: MttrReport): string {
  const comparing = report.overall.length > 1;
  const heads = report.overall.map((c, i) => `<th scope="col">${cohortHeading(c, i, comparing)}</th>`).join("");
  const rows = cohortFacts
    .map(([key, name]) => {
      const cells = report.overall
        .map((c, i) => `<td data-cohort="${i}" data-stat="${key}" data-value="${c[key]}">${formatCount(c[key])}</td>`)
        .join("");
      return `<tr><th scope="row">${name}</th>${cells}</tr>`;
    })
    .join("\n");
  return `<table class="counts"><caption>Incidents behind the numbers</caption>
<thead><tr><th scope="col"></th>${heads}</tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function renderWeeklyTable(report: MttrReport): string {
  if (report.weekly.length === 0) return "";
  const rows = report.weekly
    .map((w) => {
      const cell = (ms: number | undefined) => (ms === undefined ? "<td>—</td>" : `<td data-ms="${ms}">${formatMs(ms)}</td>`);
      return `<tr data-week="${esc(w.week)}"><th scope="row">${esc(w.week)}</th><td>${formatCount(w.count)}</td>${cell(w.median)}${cell(w.p90)}</tr>`;
    })
    .join("\n");
  return `<details><summary>Weekly numbers</summary>
<table class="weekly"><thead><tr><th scope="col">Week of</th><th scope="col">Resolved</th><th scope="col">Median</th><th scope="col">p90</th></tr></thead>
<tbody>
${rows}
</tbody></table></details>`;
}

function renderPhaseBreakdown(report: MttrReport): string {
  const comparing = report.overall.length > 1;
  const groups = report.groups.length
    ? report.groups
    : [{ group: "All incidents", cohorts: report.overall, changes: report.changes }];
  const bars = groups.flatMap((g) => g.cohorts.map((c) => c.phases));
  const median = (p: PhaseStats) => p.median ?? 0;
  const scaleMs = Math.max(
    1,
    ...bars.map((p) => Math.max(median(p.detect) + median(p.isolate) + median(p.recover), median(p.resolve))),
  );
  const legend =
    `<p class="legend">` +
    (["detect", "isolate", "recover"] as const)
      .map((p) => `<span class="key"><span class="swatch phase-${p}"></span>time to ${p}</span>`)
      .join("") +
    `<span class="key"><span class="swatch marker"></span>median time to resolve</span></p>`;
  const items = groups
    .map((g) => {
      const rows = g.cohorts.map((c, i) => renderBarRow(g.group, c, i, comparing, scaleMs)).join("\n");
      const change = g.changes?.resolve.median;
      const changeText = comparing && change !== undefined ? ` <span class="group-change">median time to resolve ${formatChange(change)}</span>` : "";
      return `<div class="group" data-group="${esc(g.group)}"><h3>${esc(g.group)}${changeText}</h3>\n${rows}</div>`;
    })
    .join("\n");
  return (
    `<p class="lead">Each bar adds up the median time to detect, isolate and recover; the line marks the median time to resolve, ` +
    `which need not equal the sum because each median comes from its own incidents. All bars share one scale.</p>${legend}\n${items}`
  );
}

/** One cohort's stacked bar in a group, with its phase medians and counts as text beside it. */
function renderBarRow(group: string, cohort: Cohort, index: number, comparing: boolean, scaleMs: number): string {
  const p = cohort.phases;
  const values = phases
    .map((phase) => `${phase} ${p[phase].median === undefined ? "—" : formatMs(p[phase].median!)}`)
    .join(" · ");
  const open = cohort.open > 0 ? `, ${formatCount(cohort.open)} still open` : "";
  const counts = `${formatCount(cohort.resolved)} resolved of ${plural(cohort.incidents, "incident")}${open}`;
  const bar = { detect: p.detect.median, isolate: p.isolate.median, recover: p.recover.median, resolve: p.resolve.median };
  const label = comparing ? `<span class="bar-label">${cohortHeading(cohort, index, true)}</span>` : "";
  return (
    `<div class="bar-row${comparing ? " labelled" : ""}">${label}` +
    renderPhaseBar(bar, scaleMs, `data-group="${esc(group)}" data-cohort="${index}"`) +
    `<span class="bar-text"><span class="bar-values">${values}</span><span class="bar-counts">${counts}</span></span></div>`
  );
}

const method = `<dl class="method">
<dt>Time to detect</dt><dd>detected − started: from when the problem began (the alert's start) to when opskit or the alert source noticed it.</dd>
<dt>Time to isolate</dt><dd>the first of remediation started or acknowledged − detected: how long until someone or something began acting.</dd>
<dt>Time to recover</dt><dd>resolved − remediation started, or − acknowledged for an incident handled by a person.</dd>
<dt>Time to resolve (MTTR)</dt><dd>resolved − started: the whole incident.</dd>
</dl>
<ul class="method">
<li>Open incidents are counted apart and never averaged in: a duration exists only once an incident has resolved.</li>
<li>Percentiles (median, p90) interpolate linearly between ranks.</li>
<li>An incident is <em>automated</em> when a rule's run remediated it; otherwise it was handled by people.</li>
<li>A phase whose milestones an incident lacks is left out for that incident, so phase counts can differ.</li>
</ul>`;

const css = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --rule: #d0d7de; --paper: #fff; --band: #f6f8fa;
  --detect: #9ecae1; --isolate: #fdae6b; --recover: #a1d99b; --median: #1f5fa8; --p90: #b8561b; --good: #1a7f37; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 24px 32px 48px; background: var(--paper); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 18px 0 6px; overflow-wrap: anywhere; }
.meta, .lead, caption, footer, .bar-counts, .role { color: var(--muted); }
.headline { font-size: 20px; font-weight: 600; margin: 14px 0 0; padding: 12px 16px; background: var(--band); border-left: 4px solid var(--median); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 8px 0 16px; }
caption { caption-side: top; text-align: left; font-size: 13px; padding-bottom: 6px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; }
th[scope="row"], .weekly th, th.phase { text-align: left; }
table.summary th, table.summary td { padding: 5px 8px; }
table.summary th[scope="row"] { white-space: normal; min-width: 130px; }
thead th { font-size: 13px; border-bottom: 2px solid var(--rule); }
th.cohort { text-align: center; border-left: 2px solid var(--rule); }
.role { font-weight: normal; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
td.count { border-left: 2px solid var(--rule); color: var(--muted); }
td[data-stat="median"], td[data-stat="p90"] { font-weight: 600; }
tr.mttr { background: var(--band); }
tr.mttr th { font-weight: 700; }
td.none { color: var(--muted); }
td.change { text-align: left; border-left: 2px solid var(--rule); }
td.change > span { display: block; }
td.change .p90 { font-size: 12px; }
td.change .down { color: var(--good); }
td.change .up { color: var(--bad); }
th.change { text-align: left; border-left: 2px solid var(--rule); }
.chart { width: 100%; height: auto; display: block; margin: 8px 0; }
.chart text { font-size: 12px; fill: var(--ink); }
.chart .tick { fill: var(--muted); }
.chart .note { font-size: 15px; fill: var(--muted); }
.chart .grid { stroke: var(--rule); stroke-width: 1; }
.line { fill: none; stroke-width: 2.5; }
.line.median { stroke: var(--median); }
.line.p90 { stroke: var(--p90); stroke-dasharray: 6 4; }
.dot.median { fill: var(--median); }
.dot.p90 { fill: var(--paper); stroke: var(--p90); stroke-width: 2; }
.hit { fill: transparent; }
.week-point:hover .hit { fill: rgba(31, 95, 168, .08); }
.empty-week { fill: url(#hatch); }
.hatch-line { stroke: #d8dde3; stroke-width: 3; }
.bucket .bar { fill: var(--median); }
.bucket .value { font-weight: 600; }
.phase-detect { fill: var(--detect); background: var(--detect); }
.phase-isolate { fill: var(--isolate); background: var(--isolate); }
.phase-recover { fill: var(--recover); background: var(--recover); }
.phase-bar { width: 100%; height: auto; display: block; }
.phase-bar .track { fill: var(--band); }
.phase-bar .segment rect { stroke: var(--paper); stroke-width: 1; }
.phase-bar .segment-label { font-size: 12px; fill: var(--ink); }
.resolve-marker line { stroke: var(--ink); stroke-width: 2.5; }
.group { break-inside: avoid; }
.bar-row { display: grid; grid-template-columns: minmax(0, 564px) minmax(220px, 1fr); align-items: center; gap: 4px 16px; margin: 6px 0; }
.bar-row.labelled { grid-template-columns: 150px minmax(0, 564px) minmax(220px, 1fr); }
.bar-label { overflow-wrap: anywhere; }
.bar-text { display: flex; flex-direction: column; font-size: 13px; line-height: 1.35; }
.bar-values { font-variant-numeric: tabular-nums; }
.group-change { font-weight: normal; color: var(--muted); margin-left: 8px; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; font-size: 13px; }
.key { display: inline-flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid var(--rule); }
.swatch.marker { width: 3px; background: var(--ink); border: 0; }
.method dt { font-weight: 600; margin-top: 8px; }
.method dd { margin: 0 0 0 20px; }
details { margin: 4px 0 12px; }
summary { cursor: pointer; color: var(--median); }
footer { margin-top: 40px; font-size: 13px; }
@media print {
  body { max-width: none; padding: 0; font-size: 12px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section, table, .chart { break-inside: avoid; }
  h2 { break-after: avoid; }
  .headline { border: 1px solid var(--rule); }
  .scroll { overflow: visible; }
}`;
