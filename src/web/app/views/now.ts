// Now: what needs a person this minute. Open incidents first (those waiting
// for approval at the top, with Approve and Deny), each with its gate state
// and a live countdown for a suppression; then the runs under way.
import { api, type Incident, type Overview, type Run } from "../api.ts";
import { h, replaceContent, routeLink } from "../dom.ts";
import { formatAgo, toEpoch } from "../format.ts";
import { incidentRoute, runRoute } from "../router.ts";
import { every, refresher, type View, type ViewContext } from "../view.ts";
import { badge, emptyState, errorBox, gateLine, labelList, section, tickCountdowns } from "../widgets.ts";
import { incidentAction } from "./actions.ts";

const OPEN_LIMIT = 100;

function priority(incident: Incident): number {
  const state = incident.gate?.state;
  if (state === "awaiting_approval") return 0;
  if (state === "escalated" || incident.escalated) return 1;
  if (state === "running" || state === "queued") return 2;
  return 3;
}

export function nowView(context: ViewContext): View {
  const summary = h("div", { class: "summary" });
  const openList = h("div", { class: "incident-list" });
  const runningList = h("div", {});
  const errorArea = h("div", {});
  const root = h(
    "div",
    { class: "view view-now" },
    h("h1", {}, "Now"),
    errorArea,
    summary,
    section("Open incidents", "open-heading", openList),
    section("Running", "running-heading", runningList),
  );
  let incidents: Incident[] | undefined;
  let total = 0;

  const incidentCard = (incident: Incident): HTMLElement => {
    const waiting = incident.gate?.state === "awaiting_approval";
    const started = incident.milestones?.started ?? incident.milestones?.detected;
    return h(
      "article",
      { class: `incident-card ${waiting ? "is-waiting" : ""}`, "aria-labelledby": `incident-${incident.id}-title` },
      h(
        "div",
        { class: "card-head" },
        h("h3", { id: `incident-${incident.id}-title` }, routeLink(incidentRoute(incident.id), [h("span", { class: "muted" }, `#${incident.id} `), incident.title])),
        gateLine(incident.gate) ?? badge(incident.status),
      ),
      h(
        "p",
        { class: "meta" },
        incident.rule ? ["rule ", h("strong", {}, incident.rule), " · "] : "no matching rule · ",
        "started ",
        started ? h("span", { title: new Date(started).toLocaleString() }, formatAgo(started)) : "–",
        incident.attempts ? ` · ${incident.attempts} attempt${incident.attempts === 1 ? "" : "s"}` : "",
      ),
      labelList(incident.labels, ["alertname"]),
      waiting
        ? h(
            "div",
            { class: "actions", role: "group", "aria-label": `Approval for incident ${incident.id}` },
            incidentAction(context, "approve", incident.id, incident.title, schedule),
            incidentAction(context, "deny", incident.id, incident.title, schedule),
          )
        : null,
    );
  };

  const runRow = (run: Run): HTMLElement =>
    h(
      "li",
      { class: "run-row" },
      routeLink(runRoute(run.id), run.name),
      " ",
      badge(run.status),
      h("span", { class: "muted" }, " started ", formatAgo(run.startedAt)),
      run.params?.trigger ? [" · for ", routeLink(incidentRoute(run.params.trigger.incident), `incident #${run.params.trigger.incident}`)] : null,
    );

  const render = (overview: Overview | undefined) => {
    if (incidents === undefined) return;
    // Approvals the open list did not reach (beyond its limit) still get their buttons.
    const shown = new Set(incidents.map((i) => i.id));
    const extra = (overview?.awaitingApproval ?? []).filter((i) => !shown.has(i.id)).map((i) => ({ ...i, gate: i.gate ?? { state: "awaiting_approval" } }));
    const all = [...extra, ...incidents].sort((a, b) => priority(a) - priority(b) || (toEpoch(b.milestones?.started) ?? 0) - (toEpoch(a.milestones?.started) ?? 0));
    const waiting = all.filter((i) => i.gate?.state === "awaiting_approval").length;
    const running = overview?.running ?? [];
    replaceContent(
      summary,
      h(
        "ul",
        { class: "stats", "aria-label": "Summary" },
        h("li", {}, h("span", { class: "stat-value" }, String(overview?.openIncidents ?? total)), " open incidents"),
        h("li", { class: waiting ? "stat-attention" : "" }, h("span", { class: "stat-value" }, String(waiting)), " waiting for approval"),
        h("li", {}, h("span", { class: "stat-value" }, String(running.length)), " runs under way"),
        h("li", {}, h("span", { class: "stat-value" }, overview?.paused ? "paused" : "on"), " automatic remediation"),
      ),
    );
    replaceContent(openList, all.length ? all.map(incidentCard) : emptyState("No open incident."), total > all.length ? h("p", { class: "muted" }, `Showing ${all.length} of ${total}. `, routeLink("#/history?kind=incidents&status=open", "All open incidents")) : null);
    replaceContent(runningList, running.length ? h("ul", { class: "plain-list" }, running.map(runRow)) : emptyState("No run is under way."));
  };

  async function load(): Promise<void> {
    try {
      const answer = await api.incidents({ status: "open", limit: OPEN_LIMIT }, context.signal);
      incidents = answer.incidents;
      total = answer.total ?? answer.incidents.length;
      replaceContent(errorArea);
      render(context.overview());
    } catch (error) {
      if (context.signal.aborted) return;
      if (incidents === undefined) replaceContent(errorArea, errorBox(error));
      context.reportError(error);
    }
  }
  const schedule = refresher(load, context.signal, { quietMs: 200, minIntervalMs: 750 });
  context.onOverview((overview) => render(overview));
  every(1_000, () => {
    if (tickCountdowns(openList)) {
      schedule();
      context.refreshOverview();
    }
  }, context.signal);

  return {
    title: "Now",
    root,
    refresh: async () => {
      context.refreshOverview();
      await load();
    },
    onEvent(message) {
      if (message.event === "heal") schedule();
    },
  };
}
