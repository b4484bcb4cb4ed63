// The incidents API: pages of incidents with their gate state, one
// incident's whole story (timeline, attempts, the runs it caused, MTTR
// phases), and what people do to one (ack, approve, deny, resolve).
import { OpsError, ExitCode } from "../errors.ts";
import type { Healer } from "../heal/index.ts";
import { incidentPhases, type IncidentRecord, type Journal, type RunRecord } from "../journal/index.ts";
import type { AppOptions } from "./app.ts";
import { gateOf, type GateState } from "./gate.ts";
import type { EventHub } from "./hub.ts";
import { json, problem, problemFrom, readBody } from "./http.ts";
import { encodeCursor, QueryParams } from "./params.ts";
import type { Route } from "./route.ts";

/** An incident as the lists show it: the record, and for an open one its gate state. */
export type IncidentItem = IncidentRecord & { gate?: GateState };
/** A run as the API lists it: the record, and whether it executes on this server now. */
export type RunItem = RunRecord & { live: boolean };

export const INCIDENT_PAGE_MAX = 500;
const INCIDENT_PAGE_DEFAULT = 50;

/** The gate state of each open incident among these, read in two queries whatever their number. */
export async function incidentItems(journal: Journal, healer: Pick<Healer, "isPaused">, incidents: readonly IncidentRecord[]): Promise<IncidentItem[]> {
  const open = incidents.filter((i) => i.status === "open").map((i) => i.id);
  if (open.length === 0) return [...incidents];
  const [facts, paused] = [await journal.gateFacts(open), await healer.isPaused()];
  const now = Date.now();
  return incidents.map((incident) => {
    const gate = gateOf(incident, facts.get(incident.id), now, paused);
    return gate ? { ...incident, gate } : incident;
  });
}

const statusFilter = (status: "open" | "resolved" | "all" | undefined) => (status === "all" ? undefined : status);

export const runItems = (hub: Pick<EventHub, "isLive">, runs: readonly RunRecord[]): RunItem[] => runs.map((run) => ({ ...run, live: run.status === "running" && hub.isLive(run.id) }));

/**
 * What the incident reads need: the journal, whether remediation is paused,
 * which runs execute here now. The CLI gives them without a server (a
 * journal read directly: nothing is live), so it prints what a server would.
 */
export interface IncidentReadOptions {
  journal: Journal;
  healer: Pick<Healer, "isPaused">;
  hub: Pick<EventHub, "isLive">;
}

/** GET /api/v1/incidents/:id and the answer of every action on one. */
async function incidentView(options: IncidentReadOptions, id: number) {
  const { journal, healer, hub } = options;
  const incident = await journal.getIncident(id);
  if (!incident) return undefined;
  const [attempts, events] = [await journal.attempts(id), await journal.incidentEvents(id)];
  // The runs its attempts made, and its escalations' (on the timeline only).
  const runIds = new Set<string>();
  for (const attempt of attempts) if (attempt.runId) runIds.add(attempt.runId);
  for (const event of events) if (typeof event.data.runId === "string") runIds.add(event.data.runId);
  const ids = [...runIds];
  const runs = ids.length > 0 ? (await journal.queryRuns({ ids, limit: ids.length })).runs : [];
  const targets = Object.fromEntries(await journal.runTargets(runs.map((r) => r.id)));
  const [item] = await incidentItems(journal, healer, [incident]);
  return {
    incident: item!,
    attempts,
    events,
    runs: runItems(hub, runs),
    targets,
    ...(item!.gate ? { gate: item!.gate } : {}),
    phases: await incidentPhases(incident),
  };
}

/** What a person sends with an action: who (default "api"), and why. */
async function actionBody(request: Request): Promise<{ by: string; reason?: string; note?: string }> {
  const text = await readBody(request, 64 * 1024);
  if (text === undefined) throw badBody("the body is over 64 KiB", "send { by, reason } or an empty body");
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw badBody(`malformed JSON: ${(error as Error).message}`, 'send a JSON object, e.g. {"by": "alice", "reason": "not during the sale"}');
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badBody("the body is not a JSON object", 'send e.g. {"by": "alice"}');
  const field = (name: string, max: number): string | undefined => {
    const v = (value as Record<string, unknown>)[name];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw badBody(`${name} is not a string`, `send ${name} as text`);
    if (v.length > max) throw badBody(`${name} is longer than ${max} characters`, `shorten ${name}`);
    return v;
  };
  const reason = field("reason", 2000);
  const note = field("note", 2000);
  return { by: field("by", 200) ?? "api", ...(reason ? { reason } : {}), ...(note ? { note } : {}) };
}

function badBody(message: string, hint: string): OpsError {
  return new OpsError({ code: "E_BODY", message, hint, exitCode: ExitCode.usage });
}

const incidentId = (params: string[]) => Number(params[0]);

const notFound = (id: string) => problem(404, "E_NOT_FOUND", `no incident ${id}`, "GET /api/v1/incidents lists them");

/** GET /api/v1/incidents and GET /api/v1/incidents/:id. */
export function incidentReadRoutes(options: IncidentReadOptions): Route[] {
  const { journal, healer } = options;
  return [
    {
      method: "GET",
      pattern: /^\/api\/v1\/incidents$/,
      endpoint: "incidents",
      access: "api",
      handle: async (request) => {
        const query = new QueryParams(request.url);
        const filter = {
          // all: the same as leaving it out, as the CLI and older clients send it.
          ...optional("status", statusFilter(query.oneOf("status", ["open", "resolved", "all"] as const))),
          ...optional("rule", query.text("rule", 200)),
          ...optional("text", query.text("q", 200)),
          ...optional("target", query.text("target", 500)),
          ...query.range(),
        };
        const limit = query.limit(INCIDENT_PAGE_MAX, INCIDENT_PAGE_DEFAULT);
        const before = query.cursor("incidents", (c) => (Number.isSafeInteger(c.before) && (c.before as number) > 0 ? (c.before as number) : undefined));
        const page = await journal.queryIncidents({ ...filter, limit, ...optional("before", before) });
        const last = page.incidents.at(-1);
        return json({
          incidents: await incidentItems(journal, healer, page.incidents),
          total: page.total,
          ...(page.more && last ? { nextCursor: encodeCursor("incidents", { before: last.id }) } : {}),
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/incidents\/(\d+)$/,
      endpoint: "incident",
      access: "api",
      handle: async (_request, params) => {
        const view = await incidentView(options, incidentId(params));
        return view ? json(view) : notFound(params[0]!);
      },
    },
  ];
}

export function incidentRoutes(options: AppOptions): Route[] {
  const { healer } = options;
  return [
    ...incidentReadRoutes(options),
    ...(["ack", "approve", "deny", "resolve"] as const).map(
      (verb): Route => ({
        method: "POST",
        pattern: new RegExp(`^/api/v1/incidents/(\\d+)/${verb}$`),
        endpoint: `incident_${verb}`,
        access: "api",
        handle: async (request, params) => {
          const id = incidentId(params);
          try {
            const body = await actionBody(request);
            if (verb === "ack") await healer.acknowledge(id, body.by);
            else if (verb === "approve") await healer.approve(id, body.by);
            else if (verb === "deny") await healer.deny(id, body.by, body.reason);
            else await healer.resolveByHand(id, body.by, body.note ?? body.reason);
          } catch (error) {
            return problemFrom(error, options.logError);
          }
          const view = await incidentView(options, id);
          return view ? json(view) : notFound(params[0]!);
        },
      }),
    ),
  ];
}

/** `{ [name]: value }` when the value is there, else nothing: optional fields stay absent. */
export function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}
