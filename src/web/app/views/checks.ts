// Health grid: every check with an uptime bar of its recent results and a
// response-time sparkline, filtered and sorted on the page, grouped in
// collapsible sections. Built for thousands of checks: rows are made in
// batches per animation frame, kept by name and updated in place on refresh
// (text, two paths and a polyline), never rebuilt.
import { api, type Check } from "../api.ts";
import { uptimeBar, sparkline, type Sparkline, type UptimeBar } from "../charts.ts";
import { h, replaceContent, setAttr, setText } from "../dom.ts";
import { compareNames, formatAgo, formatCount, formatMs, formatPercent } from "../format.ts";
import { eventData, every, refresher, type View, type ViewContext } from "../view.ts";
import { toneOf } from "../widgets.ts";

type SortKey = "name" | "status" | "uptime" | "latency";

interface Row {
  check: Check;
  tr: HTMLElement;
  status: HTMLElement;
  uptime: HTMLElement;
  bar: UptimeBar;
  spark: Sparkline;
  latency: HTMLElement;
  lastRun: HTMLElement;
  error: HTMLElement;
  group: string;
  /** Lower-cased name, target, kind and labels, for the filter. */
  haystack: string;
}

interface Group {
  name: string;
  details: HTMLDetailsElement;
  count: HTMLElement;
  tbody: HTMLElement;
  order: string[];
}

const ROWS_PER_FRAME = 250;
const statusRank: Record<string, number> = { firing: 0, failing: 1, unknown: 2, passing: 3 };

function groupOf(check: Check): string {
  return check.group || check.labels?.group || "Checks";
}

export function checksView(context: ViewContext): View {
  const filterInput = h("input", { id: "check-filter", type: "search", autocomplete: "off", placeholder: "name, target, label" });
  const sortSelect = h(
    "select",
    { id: "check-sort" },
    h("option", { value: "status" }, "Status (failing first)"),
    h("option", { value: "name" }, "Name"),
    h("option", { value: "uptime" }, "Uptime (lowest first)"),
    h("option", { value: "latency" }, "Response time (slowest first)"),
  );
  const onlyFailing = h("input", { id: "check-failing", type: "checkbox" });
  const counts = h("p", { class: "muted", role: "status" });
  const groupsArea = h("div", { class: "check-groups" });
  const errorArea = h("div", {});
  const root = h(
    "div",
    { class: "view view-checks" },
    h("h1", {}, "Health"),
    errorArea,
    h(
      "form",
      { class: "toolbar", role: "search", "aria-label": "Filter and sort checks" },
      h("div", { class: "field" }, h("label", { for: "check-filter" }, "Filter"), filterInput),
      h("div", { class: "field" }, h("label", { for: "check-sort" }, "Sort by"), sortSelect),
      h("div", { class: "field field-inline" }, onlyFailing, h("label", { for: "check-failing" }, "Only failing")),
    ),
    counts,
    groupsArea,
  );
  root.querySelector("form")!.addEventListener("submit", (e) => e.preventDefault());

  const rows = new Map<string, Row>();
  const groups = new Map<string, Group>();
  let loaded = false;
  let pendingBuild: Check[] = [];
  let frame = 0;
  context.signal.addEventListener("abort", () => cancelAnimationFrame(frame), { once: true });

  // Rows are ARIA table rows built of divs, not <tr>: a block row can skip
  // layout and paint while off screen (content-visibility), which table rows
  // cannot, so 2,000 checks cost about a screenful of work.
  const makeGroup = (name: string): Group => {
    const count = h("span", { class: "group-count" });
    const tbody = h("div", { role: "rowgroup", class: "check-rows" });
    const details = h(
      "details",
      { class: "check-group", open: true, "data-key": `group-${name}` },
      h("summary", {}, h("span", { class: "group-name" }, name), " ", count),
      h(
        "div",
        { class: "checks-table", role: "table", "aria-label": `Checks in ${name}` },
        h(
          "div",
          { role: "rowgroup", class: "check-head" },
          h("div", { role: "row", class: "check-grid" }, ["Check", "Status", "Uptime", "Recent results", "Response time", "Last run"].map((title) => h("div", { role: "columnheader" }, title))),
        ),
        tbody,
      ),
    );
    const group: Group = { name, details, count, tbody, order: [] };
    groups.set(name, group);
    return group;
  };

  const makeRow = (check: Check): Row => {
    const status = h("span", { class: "badge" });
    const uptime = h("span", {});
    const latency = h("span", { class: "num" });
    const lastRun = h("span", { class: "muted" });
    const error = h("span", { class: "check-error" });
    const bar = uptimeBar();
    const spark = sparkline();
    const tr = h(
      "div",
      { role: "row", class: "check-row check-grid" },
      h("div", { role: "rowheader", class: "cell-name" }, h("span", { class: "check-name" }, check.name), check.target ? h("span", { class: "muted check-target" }, check.target) : null, error),
      h("div", { role: "cell" }, status),
      h("div", { role: "cell", class: "num" }, uptime),
      h("div", { role: "cell" }, bar.element),
      h("div", { role: "cell", class: "latency-cell" }, spark.element, latency),
      h("div", { role: "cell" }, lastRun),
    );
    const row: Row = { check, tr, status, uptime, bar, spark, latency, lastRun, error, group: groupOf(check), haystack: "" };
    updateRow(row, check);
    return row;
  };

  const updateRow = (row: Row, check: Check) => {
    row.check = check;
    setText(row.status, check.status);
    setAttr(row.status, "class", `badge tone-${toneOf(check.status)}`);
    setText(row.uptime, formatPercent(check.uptime));
    const history = Array.isArray(check.history) ? check.history : [];
    row.bar.update(history);
    row.spark.update(history);
    setText(row.latency, formatMs(check.lastDurationMs));
    setText(row.lastRun, check.lastRunAt ? formatAgo(check.lastRunAt) : "never");
    setText(row.error, check.lastError ? check.lastError : "");
    row.error.hidden = !check.lastError;
    row.haystack = [check.name, check.target ?? "", check.kind ?? "", ...Object.entries(check.labels ?? {}).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
  };

  const compare = (key: SortKey) => (a: Row, b: Row): number => {
    const byName = compareNames(a.check.name, b.check.name);
    switch (key) {
      case "status":
        return (statusRank[a.check.status] ?? 2) - (statusRank[b.check.status] ?? 2) || byName;
      case "uptime":
        return (a.check.uptime ?? 2) - (b.check.uptime ?? 2) || byName;
      case "latency":
        return (b.check.lastDurationMs ?? -1) - (a.check.lastDurationMs ?? -1) || byName;
      default:
        return byName;
    }
  };

  /** Puts rows in order, shows only those the filter keeps, and counts; moves a row only when its place changed. */
  const arrange = () => {
    const needle = filterInput.value.trim().toLowerCase();
    const failingOnly = onlyFailing.checked;
    const byGroup = new Map<string, Row[]>();
    for (const row of rows.values()) {
      const list = byGroup.get(row.group) ?? [];
      list.push(row);
      byGroup.set(row.group, list);
    }
    let shown = 0;
    let failing = 0;
    const sorter = compare(sortSelect.value as SortKey);
    const names = [...byGroup.keys()].sort(compareNames);
    for (const name of names) {
      const group = groups.get(name) ?? makeGroup(name);
      const list = byGroup.get(name)!.sort(sorter);
      const order = list.map((r) => r.check.name);
      if (order.join("\0") !== group.order.join("\0")) {
        const fragment = document.createDocumentFragment();
        for (const row of list) fragment.appendChild(row.tr);
        group.tbody.appendChild(fragment);
        group.order = order;
      }
      let groupShown = 0;
      let groupFailing = 0;
      for (const row of list) {
        const bad = row.check.status === "failing" || row.check.status === "firing";
        if (bad) groupFailing++;
        const visible = (!needle || row.haystack.includes(needle)) && (!failingOnly || bad);
        if (row.tr.hidden === visible) row.tr.hidden = !visible;
        if (visible) groupShown++;
      }
      shown += groupShown;
      failing += groupFailing;
      setText(group.count, `${groupShown === list.length ? formatCount(list.length) : `${formatCount(groupShown)} of ${formatCount(list.length)}`} · ${groupFailing} failing`);
      group.details.hidden = groupShown === 0;
    }
    for (const [name, group] of groups) {
      if (!byGroup.has(name)) {
        group.details.remove();
        groups.delete(name);
      }
    }
    const wanted = names.map((n) => groups.get(n)!.details);
    if (wanted.some((d, i) => groupsArea.children[i] !== d) || groupsArea.children.length !== wanted.length) groupsArea.replaceChildren(...wanted);
    setText(counts, rows.size === 0 ? (loaded ? "No checks are configured." : "") : `${formatCount(shown)} of ${formatCount(rows.size)} checks shown · ${formatCount(failing)} failing`);
  };

  /**
   * Builds rows for new checks a batch per frame, so thousands never block
   * the page: the first batch shows at once, the rest are made off the page
   * and placed together at the end (one layout, not one per batch).
   */
  let firstBatch = true;
  const buildPending = () => {
    frame = 0;
    const batch = pendingBuild.splice(0, ROWS_PER_FRAME);
    for (const check of batch) if (!rows.has(check.name)) rows.set(check.name, makeRow(check));
    if (firstBatch || pendingBuild.length === 0) arrange();
    firstBatch = false;
    if (pendingBuild.length > 0) frame = requestAnimationFrame(buildPending);
  };

  const apply = (checks: Check[]) => {
    const seen = new Set<string>();
    const fresh: Check[] = [];
    for (const check of checks) {
      if (typeof check?.name !== "string") continue;
      seen.add(check.name);
      const row = rows.get(check.name);
      if (row) {
        updateRow(row, check);
        const group = groupOf(check);
        if (group !== row.group) row.group = group;
      } else fresh.push(check);
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    pendingBuild = fresh;
    firstBatch = rows.size === 0;
    if (frame) cancelAnimationFrame(frame);
    if (fresh.length > 0) buildPending();
    else arrange();
  };

  async function load(): Promise<void> {
    try {
      const answer = await api.checks(context.signal);
      loaded = true;
      replaceContent(errorArea);
      apply(Array.isArray(answer.checks) ? answer.checks : []);
    } catch (error) {
      context.reportError(error);
    }
  }

  // Probe results arrive as events many times a second with thousands of checks: read the grid at most every 5 s.
  const schedule = refresher(load, context.signal, { quietMs: 500, minIntervalMs: 5_000 });
  let filterTimer: ReturnType<typeof setTimeout> | undefined;
  filterInput.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(arrange, 120);
  });
  context.signal.addEventListener("abort", () => clearTimeout(filterTimer), { once: true });
  sortSelect.addEventListener("change", arrange);
  onlyFailing.addEventListener("change", arrange);
  // Without events (the stream down) the grid still moves.
  every(30_000, schedule, context.signal);

  return {
    title: "Health",
    root,
    refresh: load,
    onEvent(message) {
      if (message.event !== "check") return;
      // A status change shows at once; the history behind the bars comes with the next read.
      const state = eventData(message) as Partial<Check> | undefined;
      const row = typeof state?.name === "string" ? rows.get(state.name) : undefined;
      if (row && state) {
        updateRow(row, { ...row.check, ...state, lastError: state.lastError, history: row.check.history ?? [] } as Check);
      }
      schedule();
    },
  };
}
