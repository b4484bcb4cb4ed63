// Live run view: batches and targets as they run, a waterfall of step
// durations, and the output following live. Events are queued and applied
// once per animation frame; only a page of targets is in the DOM, so a
// 500-target run with 20,000 lines of output stays smooth.
import { api, type RunStep, type RunTarget, type RunView } from "../api.ts";
import { waterfall, type WaterfallRow } from "../charts.ts";
import { button, h, replaceContent, routeLink, s, setAttr, setText } from "../dom.ts";
import { compareNames, formatCount, formatMs, formatTime, toEpoch } from "../format.ts";
import { incidentRoute } from "../router.ts";
import { openEventStream, type StreamMessage } from "../stream.ts";
import { eventData, refresher, type StepPlace, type View, type ViewContext } from "../view.ts";
import { badge, errorBox, section, toneOf } from "../widgets.ts";
import { outputPane } from "./output.ts";

const PAGE_SIZE = 50;
/** Running targets whose output so far is read when the page opens. */
const FOLLOW_TARGETS = 20;
const finishedTarget = new Set(["ok", "changed", "failed", "unreachable", "skipped", "rolled_back"]);

interface TargetRow {
  tr: HTMLTableRowElement;
  status: HTMLElement;
  duration: HTMLElement;
  error: HTMLElement;
}

export function runView(context: ViewContext): View {
  const id = context.params[0]!;
  const heading = h("h1", {}, "Run ", h("span", { class: "mono" }, id));
  const headState = h("div", { class: "head-state" });
  const facts = h("dl", { class: "facts" });
  const batchesArea = h("div", { class: "batches" });
  const waterfallArea = h("div", {});
  const errorArea = h("div", {});
  const statusFilter = h("select", { id: "target-status" }, h("option", { value: "" }, "Any status"), ["failed", "unreachable", "running", "pending", "ok", "changed", "skipped", "rolled_back"].map((st) => h("option", { value: st }, st.replace("_", " "))));
  const textFilter = h("input", { id: "target-filter", type: "search", autocomplete: "off" });
  const tbody = h("tbody", {});
  const pageInfo = h("span", { class: "muted", role: "status" });
  const prev = button("Previous targets", () => turn(-1), { class: "secondary", "data-key": "targets-prev" });
  const next = button("Next targets", () => turn(1), { class: "secondary", "data-key": "targets-next" });
  const output = outputPane({ runId: id, outputPath: (params) => api.runOutputPath(id, params), signal: context.signal, announce: context.announce, reportError: context.reportError });
  const root = h(
    "div",
    { class: "view view-run" },
    h("div", { class: "page-head" }, heading, headState),
    errorArea,
    facts,
    section("Batches", "batches-heading", batchesArea),
    section("Output", "output-heading", output.element),
    section("Step durations", "waterfall-heading", waterfallArea),
    section(
      "Targets",
      "targets-heading",
      h(
        "form",
        { class: "toolbar", role: "search", "aria-label": "Filter targets" },
        h("div", { class: "field" }, h("label", { for: "target-status" }, "Status"), statusFilter),
        h("div", { class: "field" }, h("label", { for: "target-filter" }, "Target name"), textFilter),
      ),
      h(
        "div",
        { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Targets of this run" },
        h(
          "table",
          { class: "data-table" },
          h("caption", { class: "sr-only" }, "Targets of this run"),
          h("thead", {}, h("tr", {}, ["Target", "Batch", "Status", "Duration", "Error"].map((t) => h("th", { scope: "col" }, t)))),
          tbody,
        ),
      ),
      h("div", { class: "pager" }, prev, pageInfo, next),
    ),
  );
  root.querySelector("form")!.addEventListener("submit", (e) => e.preventDefault());

  let view: RunView | undefined;
  const targets = new Map<string, RunTarget>();
  let steps: RunStep[] = [];
  let batches: string[][] = [];
  let page = 0;
  const rows = new Map<string, TargetRow>();
  let pageTargets: string[] = [];
  let queue: StreamMessage[] = [];
  let frame = 0;
  let dirtyTargets = new Set<string>();
  let relayout = true;
  let waterfallDue = 0;
  let batchesDue = 0;
  context.signal.addEventListener("abort", () => cancelAnimationFrame(frame), { once: true });

  const turn = (delta: number) => {
    page = Math.max(0, page + delta);
    relayout = true;
    requestFrame();
  };

  const filtered = (): RunTarget[] => {
    const wantStatus = statusFilter.value;
    const needle = textFilter.value.trim().toLowerCase();
    const list = [...targets.values()].filter((t) => (!wantStatus || t.status === wantStatus) && (!needle || t.target.toLowerCase().includes(needle)));
    return list.sort((a, b) => a.batch - b.batch || compareNames(a.target, b.target));
  };

  const updateRow = (row: TargetRow, t: RunTarget) => {
    setText(row.status, t.status.replace("_", " "));
    setAttr(row.status, "class", `badge tone-${toneOf(t.status)}`);
    setText(row.duration, t.durationMs !== undefined ? formatMs(t.durationMs) : t.status === "running" ? "running" : "–");
    setText(row.error, t.error ?? "");
  };

  const layoutTargets = () => {
    const list = filtered();
    const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const slice = list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    pageTargets = slice.map((t) => t.target);
    rows.clear();
    const fragment = document.createDocumentFragment();
    for (const t of slice) {
      const row: TargetRow = { tr: h("tr", {}), status: h("span", {}), duration: h("span", {}), error: h("span", {}) };
      row.tr.append(h("th", { scope: "row" }, t.target), h("td", { class: "num" }, String(t.batch)), h("td", {}, row.status), h("td", { class: "num" }, row.duration), h("td", { class: "wrap" }, row.error));
      updateRow(row, t);
      rows.set(t.target, row);
      fragment.appendChild(row.tr);
    }
    tbody.replaceChildren(fragment);
    setText(pageInfo, list.length === 0 ? "No target matches." : `Targets ${formatCount(page * PAGE_SIZE + 1)}–${formatCount(page * PAGE_SIZE + slice.length)} of ${formatCount(list.length)}`);
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  };

  const renderBatches = () => {
    // Batches count from 1, as the engine numbers them.
    const byBatch = new Map<number, RunTarget[]>();
    for (const t of targets.values()) byBatch.set(t.batch, [...(byBatch.get(t.batch) ?? []), t]);
    const count = Math.max(batches.length, ...byBatch.keys(), 0);
    const items: HTMLElement[] = [];
    for (let b = 1; b <= count; b++) {
      const list = byBatch.get(b) ?? (batches[b - 1] ?? []).map((name) => ({ target: name, batch: b, status: "pending" }) as RunTarget);
      const tally = new Map<string, number>();
      for (const t of list) tally.set(t.status, (tally.get(t.status) ?? 0) + 1);
      const done = list.filter((t) => finishedTarget.has(t.status)).length;
      const state = done === list.length && list.length > 0 ? (list.some((t) => t.status === "failed" || t.status === "unreachable") ? "failed" : "ok") : list.some((t) => t.status !== "pending") ? "running" : "pending";
      const width = 300;
      let x = 0;
      const order = ["failed", "unreachable", "ok", "changed", "skipped", "rolled_back", "running", "pending"];
      const rects = order.flatMap((st) => {
        const n = tally.get(st) ?? 0;
        if (!n) return [];
        const w = (n / Math.max(list.length, 1)) * width;
        const rect = s("rect", { class: `tone-${toneOf(st)}`, x: x.toFixed(1), y: 0, width: w.toFixed(1), height: 8 });
        x += w;
        return [rect];
      });
      items.push(
        h(
          "li",
          { class: "batch" },
          h("span", { class: "batch-name" }, `Batch ${b} of ${count}`),
          " ",
          badge(state),
          s("svg", { class: "batch-bar", viewBox: `0 0 ${width} 8`, preserveAspectRatio: "none", "aria-hidden": "true" }, rects),
          h("span", { class: "muted" }, `${done} of ${list.length} done`, [...tally].filter(([st]) => st !== "pending").map(([st, n]) => ` · ${n} ${st.replace("_", " ")}`).join("")),
        ),
      );
    }
    replaceContent(batchesArea, items.length ? h("ol", { class: "batch-list" }, items) : h("p", { class: "empty" }, "No batch has started."));
  };

  const renderWaterfall = () => {
    const grouped = new Map<string, { label: string; detail: string; start: number; end: number; statuses: Set<string>; count: number }>();
    for (const step of steps) {
      const start = toEpoch(step.startedAt);
      if (start === undefined) continue;
      const key = `${step.phase}\0${step.index}\0${step.name}`;
      const g = grouped.get(key) ?? { label: step.name, detail: step.phase === "main" ? "" : step.phase, start, end: start, statuses: new Set<string>(), count: 0 };
      g.start = Math.min(g.start, start);
      g.end = Math.max(g.end, start + (step.durationMs ?? 0));
      g.statuses.add(step.status);
      g.count++;
      grouped.set(key, g);
    }
    const rows: WaterfallRow[] = [...grouped.values()]
      .sort((a, b) => a.start - b.start)
      .map((g) => ({
        label: g.label,
        detail: [g.detail, g.count > 1 ? `${g.count} targets` : ""].filter(Boolean).join(", "),
        startMs: g.start,
        durationMs: g.end - g.start,
        status: g.statuses.has("failed") || g.statuses.has("unreachable") ? "failed" : g.statuses.has("changed") ? "changed" : "ok",
      }));
    replaceContent(waterfallArea, waterfall(rows, targets.size > 1 ? "From the first target's start to the last target's end, per step" : "Per step"));
  };

  const renderHead = () => {
    if (!view) return;
    const run = view.run;
    document.title = `Run ${run.name} · opskit`;
    replaceContent(heading, "Run ", run.name, " ", h("span", { class: "muted mono" }, run.id));
    replaceContent(headState, badge(run.status), view.live ? h("span", { class: "live-dot" }, "live") : null);
    const started = toEpoch(run.startedAt);
    const finished = toEpoch(run.finishedAt);
    replaceContent(
      facts,
      h("dt", {}, "Kind"),
      h("dd", {}, run.kind),
      run.params?.trigger ? [h("dt", {}, "Triggered by"), h("dd", {}, routeLink(incidentRoute(run.params.trigger.incident), `incident #${run.params.trigger.incident}`), ` · rule ${run.params.trigger.rule} · attempt ${run.params.trigger.attempt}`)] : null,
      h("dt", {}, "Started"),
      h("dd", {}, formatTime(run.startedAt)),
      h("dt", {}, "Finished"),
      h("dd", {}, run.finishedAt ? formatTime(run.finishedAt) : "not yet"),
      h("dt", {}, "Duration"),
      h("dd", {}, started !== undefined ? formatMs((finished ?? Date.now()) - started) : "–"),
      h("dt", {}, "Targets"),
      h("dd", {}, formatCount(targets.size)),
      run.params?.dryRun ? [h("dt", {}, "Dry run"), h("dd", {}, "yes")] : null,
      run.traceId ? [h("dt", {}, "Trace id"), h("dd", { class: "mono trace-id" }, run.traceId)] : null,
    );
  };

  const applyEvent = (message: StreamMessage) => {
    const event = eventData(message);
    if (!event) return;
    if (message.event === "output") {
      if (event.runId !== undefined && event.runId !== id) return;
      if (typeof event.text === "string" && typeof event.target === "string") {
        output.live({ target: event.target, phase: String(event.phase ?? "main"), index: Number(event.index) || 0, stream: event.stream === "stderr" ? "stderr" : "stdout", text: event.text, offset: Number(event.offset) || 0 });
      }
      return;
    }
    if (message.event !== "run" || event.runId !== id) return;
    const type = String(event.type);
    const target = typeof event.target === "string" ? event.target : undefined;
    if (type === "run.started" && Array.isArray(event.batches)) {
      batches = event.batches as string[][];
      batches.forEach((names, b) => names.forEach((name) => targets.has(name) || targets.set(name, { target: name, batch: b + 1, status: "pending" })));
      relayout = true;
    } else if (type === "target.started" && target) {
      targets.set(target, { ...(targets.get(target) ?? { target, batch: Number(event.batch) || 1 }), status: "running" });
      dirtyTargets.add(target);
    } else if (type === "target.finished" && target) {
      const known = targets.get(target);
      // A rollback's target.finished says batch 0: the target keeps the batch it ran in.
      targets.set(target, { ...(known ?? { target, batch: Number(event.batch) || 1 }), status: String(event.status), durationMs: Number(event.durationMs), ...(typeof event.error === "string" ? { error: event.error } : {}) });
      dirtyTargets.add(target);
      output.flush(target);
    } else if (type === "step.started" && target) {
      current.set(target, { target, phase: String(event.phase), index: Number(event.index) || 0 });
    } else if (type === "step.finished" && target) {
      const result = (event.result ?? {}) as { durationMs?: number };
      steps.push({ target, phase: String(event.phase), index: Number(event.index), name: String(event.name), action: String(event.action), status: String(event.status), durationMs: Number(result.durationMs ?? 0), startedAt: String(event.startedAt) });
      output.flush(target);
      waterfallDue = waterfallDue || performance.now();
    } else if (type === "run.finished") {
      output.flush();
      schedule();
    }
  };

  const drawFrame = () => {
    frame = 0;
    const batch = queue;
    queue = [];
    for (const message of batch) applyEvent(message);
    if (relayout || (statusFilter.value && dirtyTargets.size > 0)) {
      relayout = false;
      layoutTargets();
      renderBatches();
      renderHead();
    } else if (dirtyTargets.size > 0) {
      for (const name of dirtyTargets) {
        const row = rows.get(name);
        const t = targets.get(name);
        if (row && t) updateRow(row, t);
        else if (t && !pageTargets.includes(name) && pageTargets.length < PAGE_SIZE) relayout = true;
      }
      batchesDue = batchesDue || performance.now();
      if (relayout) requestFrame();
    }
    // The batch bars are redrawn at most four times a second while targets finish.
    if (batchesDue && performance.now() - batchesDue >= 250) {
      batchesDue = 0;
      renderBatches();
    } else if (batchesDue) requestFrame();
    dirtyTargets = new Set();
    // The waterfall is redrawn at most once a second while steps finish.
    if (waterfallDue && performance.now() - waterfallDue >= 1_000) {
      waterfallDue = 0;
      renderWaterfall();
    } else if (waterfallDue) requestFrame();
  };
  const requestFrame = () => {
    if (!frame) frame = requestAnimationFrame(drawFrame);
  };

  async function load(): Promise<void> {
    if (streamStopped) startStream();
    try {
      view = await api.run(id, context.signal);
      targets.clear();
      for (const t of view.targets ?? []) targets.set(t.target, t);
      steps = [...(view.steps ?? [])];
      output.setTargets([...targets.keys()]);
      replaceContent(errorArea);
      relayout = true;
      renderWaterfall();
      requestFrame();
      output.follow(stepsUnderWay());
      await output.setSteps(steps).catch((error: unknown) => {
        if (!context.signal.aborted) context.reportError(error);
      });
    } catch (error) {
      if (context.signal.aborted) return;
      if (!view) replaceContent(errorArea, errorBox(error));
      context.reportError(error);
    }
  }
  const schedule = refresher(load, context.signal, { quietMs: 300, minIntervalMs: 2_000 });

  /**
   * The step each running target is in: as this page's stream or the shared
   * one saw it start, else (it started before the page opened) the step
   * after the target's last finished one. Only the first few targets: the
   * output shows the tail anyway, and the rest arrives live.
   */
  const current = new Map<string, StepPlace>();
  function stepsUnderWay(): StepPlace[] {
    const known = new Map(context.stepsUnderWay(id).map((p) => [p.target, p]));
    for (const [target, place] of current) known.set(target, place);
    const places: StepPlace[] = [];
    for (const t of targets.values()) {
      if (t.status !== "running" || places.length >= FOLLOW_TARGETS) continue;
      const place = known.get(t.target);
      if (place) places.push(place);
      else {
        const done = steps.filter((st) => st.target === t.target && st.phase === "main").map((st) => st.index);
        places.push({ target: t.target, phase: "main", index: done.length ? Math.max(...done) + 1 : 0 });
      }
    }
    return places;
  }

  // This run's own stream: its events and its output, followed live. Refused
  // without the token, it is opened again by the next refresh (a token given).
  let streamStopped = true;
  const startStream = () => {
    streamStopped = false;
    openEventStream(
      `/api/v1/events?run=${encodeURIComponent(id)}`,
      {
        onMessage(message) {
          queue.push(message);
          requestFrame();
        },
        onState(state) {
          if (state === "unauthorized") streamStopped = true;
        },
      },
      context.signal,
    );
  };
  startStream();
  statusFilter.addEventListener("change", () => {
    page = 0;
    relayout = true;
    requestFrame();
  });
  let filterTimer: ReturnType<typeof setTimeout> | undefined;
  textFilter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      page = 0;
      relayout = true;
      requestFrame();
    }, 150);
  });
  context.signal.addEventListener("abort", () => clearTimeout(filterTimer), { once: true });

  return {
    title: `Run ${id}`,
    root,
    refresh: load,
  };
}
