// History: runs and incidents, a page at a time from the server (a cursor,
// never the whole journal), filtered by time, status, rule or workflow and
// target. The filters and the cursor are in the hash: Back is the previous page.
import { api, type Incident, type Run } from "../api.ts";
import { h, replaceContent, routeLink } from "../dom.ts";
import { formatCount, formatMs, formatTime, toEpoch } from "../format.ts";
import { incidentRoute, runRoute } from "../router.ts";
import { refresher, type View, type ViewContext } from "../view.ts";
import { badge, emptyState, errorBox } from "../widgets.ts";
import { filterForm, type FilterField } from "./filters.ts";

const PAGE = 50;
const passed = ["kind", "since", "until", "status", "rule", "workflow", "target", "trigger", "q"];

const runFields: FilterField[] = [
  { name: "since", label: "From", type: "datetime" },
  { name: "until", label: "To", type: "datetime" },
  { name: "status", label: "Status", type: "select", options: [["", "Any"], ["running", "Running"], ["succeeded", "Succeeded"], ["failed", "Failed"], ["interrupted", "Interrupted"]] },
  { name: "trigger", label: "Trigger", type: "select", options: [["", "Any"], ["remediation", "Remediation"], ["escalation", "Escalation"], ["schedule", "Schedule"], ["manual", "By hand"]] },
  { name: "workflow", label: "Workflow", type: "text" },
  { name: "target", label: "Target", type: "text" },
];
const incidentFields: FilterField[] = [
  { name: "since", label: "From", type: "datetime" },
  { name: "until", label: "To", type: "datetime" },
  { name: "status", label: "Status", type: "select", options: [["", "Any"], ["open", "Open"], ["resolved", "Resolved"]] },
  { name: "rule", label: "Rule", type: "text" },
  { name: "target", label: "Target", type: "text" },
  { name: "q", label: "Text", type: "text" },
];

function duration(start: unknown, end: unknown): string {
  const a = toEpoch(start);
  const b = toEpoch(end);
  return a !== undefined && b !== undefined ? formatMs(b - a) : "–";
}

export function historyView(context: ViewContext): View {
  const kind = context.query.get("kind") === "incidents" ? "incidents" : "runs";
  const cursor = context.query.get("cursor") ?? undefined;
  const params: Record<string, string> = {};
  for (const key of passed) {
    const value = context.query.get(key);
    if (value) params[key] = value;
  }
  const results = h("div", { class: "history-results" }, h("p", { class: "muted" }, "Loading…"));
  const tab = (name: "runs" | "incidents", label: string) => h("a", { href: `#/history?kind=${name}`, class: "tab", ...(kind === name ? { "aria-current": "page" } : {}) }, label);
  const root = h(
    "div",
    { class: "view view-history" },
    h("h1", {}, "History"),
    h("nav", { class: "tabs", "aria-label": "History of" }, tab("runs", "Runs"), tab("incidents", "Incidents")),
    filterForm("#/history", kind === "runs" ? runFields : incidentFields, context.query, { kind }, kind === "runs" ? "Filter runs" : "Filter incidents"),
    results,
  );

  const pager = (nextCursor: string | undefined, shown: number, total: number | undefined): HTMLElement => {
    const base = new URLSearchParams(params);
    base.set("kind", kind);
    const nextParams = new URLSearchParams(base);
    if (nextCursor) nextParams.set("cursor", nextCursor);
    return h(
      "nav",
      { class: "pager", "aria-label": "Pages of results" },
      cursor ? routeLink(`#/history?${base}`, "First page", { class: "button-link secondary" }) : null,
      h("span", { class: "muted" }, total !== undefined ? `${formatCount(shown)} shown of ${formatCount(total)}` : `${formatCount(shown)} shown`),
      nextCursor ? routeLink(`#/history?${nextParams}`, "Next page", { class: "button-link secondary" }) : null,
    );
  };

  const runsTable = (runs: Run[]) =>
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Runs" },
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "sr-only" }, "Runs"),
        h("thead", {}, h("tr", {}, ["Run", "Status", "Started", "Duration", "Trigger"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          runs.map((run) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, routeLink(runRoute(run.id), run.name), h("span", { class: "muted mono small" }, ` ${run.id}`)),
              h("td", {}, badge(run.status)),
              h("td", {}, formatTime(run.startedAt)),
              h("td", { class: "num" }, duration(run.startedAt, run.finishedAt)),
              h("td", {}, run.params?.trigger ? routeLink(incidentRoute(run.params.trigger.incident), `incident #${run.params.trigger.incident}`) : run.kind),
            ),
          ),
        ),
      ),
    );

  const incidentsTable = (incidents: Incident[]) =>
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Incidents" },
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "sr-only" }, "Incidents"),
        h("thead", {}, h("tr", {}, ["Incident", "Status", "Rule", "Started", "Time to resolve"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          incidents.map((incident) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, routeLink(incidentRoute(incident.id), [h("span", { class: "muted" }, `#${incident.id} `), incident.title])),
              h("td", {}, badge(incident.status)),
              h("td", {}, incident.rule ?? "–"),
              h("td", {}, formatTime(incident.milestones?.started)),
              h("td", { class: "num" }, duration(incident.milestones?.started, incident.milestones?.resolved)),
            ),
          ),
        ),
      ),
    );

  async function load(): Promise<void> {
    const { kind: _kind, ...filters } = params;
    const request = { ...filters, limit: PAGE, ...(cursor ? { cursor } : {}) };
    try {
      if (kind === "runs") {
        const answer = await api.runs(request, context.signal);
        replaceContent(results, answer.runs.length ? runsTable(answer.runs) : emptyState("No run matches."), pager(answer.nextCursor, answer.runs.length, answer.total));
      } else {
        const answer = await api.incidents(request, context.signal);
        replaceContent(results, answer.incidents.length ? incidentsTable(answer.incidents) : emptyState("No incident matches."), pager(answer.nextCursor, answer.incidents.length, answer.total));
      }
    } catch (error) {
      if (context.signal.aborted) return;
      replaceContent(results, errorBox(error));
      context.reportError(error);
    }
  }
  // Only the first page moves under a reader: later pages are read once.
  const schedule = refresher(load, context.signal, { quietMs: 500, minIntervalMs: 5_000 });

  return {
    title: "History",
    root,
    refresh: load,
    onEvent(message) {
      if (cursor) return;
      if ((kind === "incidents" && message.event === "heal" && /"type":"incident\.(opened|resolved)"/.test(message.data)) || (kind === "runs" && message.event === "run" && /"type":"run\.(started|finished)"/.test(message.data))) schedule();
    },
  };
}
