// Incident page: what happened and what opskit did about it. Key events
// (milestones, gate decisions, attempts) in order with the whole timeline
// expandable, the runs it caused with their per-target results, the MTTR
// phases as a bar, and the actions a person can take.
import { api, type Attempt, type IncidentView, type Run, type RunTarget, type TimelineEvent } from "../api.ts";
import { phaseBar } from "../charts.ts";
import { h, replaceContent, routeLink, type Child } from "../dom.ts";
import { compareNames, formatMs, formatTime, toEpoch } from "../format.ts";
import { runRoute } from "../router.ts";
import { eventData, every, refresher, type View, type ViewContext } from "../view.ts";
import { annotationList, badge, emptyState, errorBox, gateLine, labelList, section, tickCountdowns, timeEl } from "../widgets.ts";
import { incidentAction } from "./actions.ts";

const keyKinds = new Set(["milestone", "gate", "run", "escalation"]);
/** Runs whose targets the page lists (the latest); each run's page has the rest. */
const RUNS_WITH_TARGETS = 3;
const TARGETS_SHOWN = 50;

function timelineItem(event: TimelineEvent): HTMLElement {
  return h(
    "li",
    { class: `timeline-item kind-${keyKinds.has(event.kind) || event.kind === "alert" || event.kind === "note" ? event.kind : "other"}` },
    timeEl(event.at),
    " ",
    h("span", { class: "kind" }, event.kind),
    " ",
    h("span", { class: "message" }, event.message),
    event.count && event.count > 1 ? h("span", { class: "muted" }, ` ×${event.count}`) : null,
  );
}

function durationOf(run: { startedAt?: string; finishedAt?: string }): string {
  const start = toEpoch(run.startedAt);
  const end = toEpoch(run.finishedAt);
  return start !== undefined && end !== undefined ? formatMs(end - start) : "–";
}

function targetTable(run: Run, list: readonly RunTarget[]): HTMLElement {
  const rank = (s: string) => (s === "failed" || s === "unreachable" ? 0 : s === "running" ? 1 : 2);
  const targets = [...list].sort((a, b) => rank(a.status) - rank(b.status) || compareNames(a.target, b.target));
  const shown = targets.slice(0, TARGETS_SHOWN);
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `Targets of run ${run.name} ${run.id}` },
    h(
      "table",
      { class: "data-table" },
      h("caption", {}, `Targets of run ${run.name}`, targets.length > shown.length ? ` (${shown.length} of ${targets.length}, failures first)` : ""),
      h("thead", {}, h("tr", {}, ["Target", "Batch", "Status", "Duration", "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        shown.map((t) => h("tr", {}, h("th", { scope: "row" }, t.target), h("td", { class: "num" }, String(t.batch)), h("td", {}, badge(t.status)), h("td", { class: "num" }, formatMs(t.durationMs)), h("td", { class: "wrap" }, t.error ?? ""))),
      ),
    ),
    targets.length > shown.length ? h("p", {}, routeLink(runRoute(run.id), `All ${targets.length} targets on the run's page`)) : null,
  );
}

export function incidentView(context: ViewContext): View {
  const id = Number(context.params[0]);
  const root = h("div", { class: "view view-incident" }, h("h1", {}, `Incident #${id}`), h("p", { class: "muted" }, "Loading…"));
  let data: IncidentView | undefined;

  const attemptsTable = (attempts: Attempt[]): Child =>
    attempts.length === 0
      ? emptyState("No remediation attempt yet.")
      : h(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Remediation attempts" },
          h(
            "table",
            { class: "data-table" },
            h("caption", { class: "sr-only" }, "Remediation attempts"),
            h("thead", {}, h("tr", {}, ["Attempt", "Status", "Rule", "Created", "Finished", "Run", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              attempts.map((a) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row", class: "num" }, String(a.attempt)),
                  h("td", {}, badge(a.status)),
                  h("td", {}, a.rule),
                  h("td", {}, timeEl(a.createdAt)),
                  h("td", {}, a.finishedAt ? timeEl(a.finishedAt) : "–"),
                  h("td", {}, a.runId ? routeLink(runRoute(a.runId), "open run", { "aria-label": `Open run of attempt ${a.attempt}` }) : "–"),
                  h("td", { class: "wrap" }, a.detail ?? ""),
                ),
              ),
            ),
          ),
        );

  const runsList = (runs: Run[]): Child =>
    runs.length === 0
      ? emptyState("No run yet.")
      : [
          h(
            "ul",
            { class: "plain-list" },
            runs.map((run) =>
              h(
                "li",
                { class: "run-row" },
                routeLink(runRoute(run.id), run.name, { "aria-label": `Run ${run.name} ${run.id}` }),
                " ",
                badge(run.status),
                h("span", { class: "muted" }, ` started ${formatTime(run.startedAt)} · ${durationOf(run)}`),
                run.params?.trigger ? h("span", { class: "muted" }, ` · attempt ${run.params.trigger.attempt}`) : null,
              ),
            ),
          ),
          runs.slice(0, RUNS_WITH_TARGETS).map((run) => {
            const list = data?.targets?.[run.id] ?? [];
            return list.length > 0 ? targetTable(run, list) : null;
          }),
        ];

  const render = () => {
    if (!data) return;
    const { incident, attempts, events } = data;
    const gate = data.gate ?? incident.gate;
    document.title = `#${incident.id} ${incident.title} · opskit`;
    const keyEvents = events.filter((e) => keyKinds.has(e.kind));
    const runs = data.runs ?? [];
    const open = incident.status === "open";
    const milestones = Object.entries(incident.milestones ?? {}).filter(([, at]) => typeof at === "number").sort((a, b) => (a[1] as number) - (b[1] as number));
    replaceContent(
      root,
      h(
        "div",
        { class: "page-head" },
        h("h1", {}, h("span", { class: "muted" }, `#${incident.id} `), incident.title),
        h("div", { class: "head-state" }, badge(incident.status), gateLine(gate)),
      ),
      h(
        "div",
        { class: "actions", role: "group", "aria-label": "Incident actions" },
        gate?.state === "awaiting_approval" ? [incidentAction(context, "approve", id, incident.title, schedule), incidentAction(context, "deny", id, incident.title, schedule)] : null,
        open && incident.milestones?.acknowledged === undefined ? incidentAction(context, "ack", id, incident.title, schedule) : null,
        open ? incidentAction(context, "resolve", id, incident.title, schedule) : null,
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Rule"),
        h("dd", {}, incident.rule ?? "none matched"),
        h("dt", {}, "Source"),
        h("dd", {}, incident.source ?? "–"),
        h("dt", {}, "Fingerprint"),
        h("dd", { class: "mono" }, incident.fingerprint),
        h("dt", {}, "Attempts"),
        h("dd", {}, String(incident.attempts ?? attempts.length)),
        h("dt", {}, "Notifications"),
        h("dd", {}, String(incident.notifications ?? "–")),
        incident.resolution ? [h("dt", {}, "Resolution"), h("dd", {}, incident.resolution)] : null,
        incident.traceId ? [h("dt", {}, "Trace id"), h("dd", { class: "mono trace-id" }, incident.traceId)] : null,
      ),
      section("Labels", "labels-heading", labelList(incident.labels) ?? emptyState("No labels.")),
      section("Annotations", "annotations-heading", annotationList(incident.annotations) ?? emptyState("No annotations.")),
      section(
        "MTTR phases",
        "phases-heading",
        phaseBar(data.phases, `MTTR phases of incident ${incident.id}`),
        milestones.length ? h("ul", { class: "milestones" }, milestones.map(([name, at]) => h("li", {}, h("strong", {}, name.replaceAll("_", " ")), " ", timeEl(at)))) : null,
      ),
      section(
        "Timeline",
        "timeline-heading",
        keyEvents.length ? h("ol", { class: "timeline" }, keyEvents.map(timelineItem)) : emptyState("No key event yet."),
        events.length > keyEvents.length
          ? h("details", { class: "more", "data-key": "all-events" }, h("summary", {}, `All ${events.length} events`), h("ol", { class: "timeline" }, events.map(timelineItem)))
          : null,
      ),
      section("Attempts", "attempts-heading", attemptsTable(attempts)),
      section("Runs", "runs-heading", runsList(runs)),
    );
  };

  async function load(): Promise<void> {
    try {
      data = await api.incident(id, context.signal);
      render();
    } catch (error) {
      if (context.signal.aborted) return;
      if (!data) replaceContent(root, h("h1", {}, `Incident #${id}`), errorBox(error));
      context.reportError(error);
    }
  }
  const schedule = refresher(load, context.signal, { quietMs: 200, minIntervalMs: 750 });
  every(1_000, () => {
    if (tickCountdowns(root)) schedule();
  }, context.signal);

  return {
    title: `Incident #${id}`,
    root,
    refresh: load,
    onEvent(message) {
      const event = eventData(message);
      if (!event) return;
      if (message.event === "heal" && event.incidentId === id) schedule();
      else if (message.event === "run" && typeof event.runId === "string" && (data?.runs ?? []).some((r) => r.id === event.runId) && /^(run|target)\.(started|finished)$/.test(String(event.type))) schedule();
    },
  };
}
