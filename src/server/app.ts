import type { Alert, CompiledRule, Healer } from "../heal/index.ts";
import { parseAlertmanagerPayload, parseGenericPayload } from "../heal/index.ts";
import type { AlertSourceKind, IncidentFilter, Journal } from "../journal/index.ts";
import { bearerMatches, isLoopback, json, problem, problemFrom, readBody } from "./http.ts";
import type { ServerMetrics } from "./metrics.ts";

export interface AppOptions {
  healer: Healer;
  journal: Journal;
  rules: readonly CompiledRule[];
  metrics: ServerMetrics;
  /** Resolved secrets, not references. */
  token?: string;
  webhookToken?: string;
  maxBodyBytes: number;
  version: string;
  checks(): unknown[];
  dryRun: boolean;
}

type Peer = (request: Request) => string | undefined;
type Handler = (request: Request, params: string[]) => Response | Promise<Response>;
interface Route {
  method: string;
  pattern: RegExp;
  endpoint: string;
  access: "open" | "webhook" | "api";
  handle: Handler;
}

const incidentId = (params: string[]) => Number(params[0]);

/**
 * The HTTP API: Alertmanager's webhook, a generic alert webhook, incidents,
 * runs, the pause switch, health and metrics. Mutating endpoints need the
 * bearer token (loopback callers only when none is set); the webhooks take
 * their own token, or loopback only.
 */
export function createApp(options: AppOptions): (request: Request, peer: Peer) => Promise<Response> {
  const { healer, journal } = options;

  const acceptAlerts = (source: AlertSourceKind): Handler => async (request) => {
    const body = await readBody(request, options.maxBodyBytes);
    if (body === undefined) return problem(413, "E_BODY_TOO_LARGE", `the body is over ${options.maxBodyBytes} bytes`, "send fewer alerts per notification, or raise server.maxBodyBytes");
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (error) {
      return problem(400, "E_JSON", `malformed JSON: ${(error as Error).message}`, "send a JSON object");
    }
    let alerts: Alert[];
    try {
      alerts = source === "alertmanager" ? parseAlertmanagerPayload(value).alerts : parseGenericPayload(value, Date.now());
    } catch (error) {
      return problemFrom(error);
    }
    // Durable before the 2xx; the work happens after the response.
    const id = await healer.accept(source, body, alerts);
    return json({ status: "accepted", notification: id, alerts: alerts.length });
  };

  const readJson = async (request: Request): Promise<Record<string, unknown>> => {
    const text = await readBody(request, 64 * 1024);
    if (!text) return {};
    try {
      const value = JSON.parse(text) as unknown;
      return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };

  const incidentView = (id: number) => {
    const incident = journal.getIncident(id);
    if (!incident) return undefined;
    return { incident, attempts: journal.attempts(id), events: journal.incidentEvents(id) };
  };

  const routes: Route[] = [
    { method: "GET", pattern: /^\/healthz$/, endpoint: "healthz", access: "open", handle: () => json({ status: "ok", version: options.version, paused: healer.paused, dryRun: options.dryRun }) },
    {
      method: "GET",
      pattern: /^\/metrics$/,
      endpoint: "metrics",
      access: "open",
      handle: async () => new Response(await options.metrics.registry.metrics(), { headers: { "content-type": options.metrics.registry.contentType } }),
    },
    { method: "POST", pattern: /^\/api\/v1\/alerts\/alertmanager$/, endpoint: "alertmanager", access: "webhook", handle: acceptAlerts("alertmanager") },
    { method: "POST", pattern: /^\/api\/v1\/alerts$/, endpoint: "alerts", access: "webhook", handle: acceptAlerts("generic") },
    {
      method: "GET",
      pattern: /^\/api\/v1\/incidents$/,
      endpoint: "incidents",
      access: "api",
      handle: (request) => {
        const url = new URL(request.url);
        const raw = url.searchParams.get("status");
        const status: IncidentFilter = raw === "open" || raw === "resolved" ? { status: raw } : {};
        const limit = Number(url.searchParams.get("limit") ?? 50);
        const filter = { ...status, limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 10_000) : 50 };
        return json({ incidents: journal.listIncidents(filter), total: journal.countIncidents(status) });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/incidents\/(\d+)$/,
      endpoint: "incident",
      access: "api",
      handle: (_request, params) => {
        const view = incidentView(incidentId(params));
        return view ? json(view) : problem(404, "E_NOT_FOUND", `no incident ${params[0]}`, "GET /api/v1/incidents lists them");
      },
    },
    ...(["ack", "approve", "resolve"] as const).map(
      (verb): Route => ({
        method: "POST",
        pattern: new RegExp(`^/api/v1/incidents/(\\d+)/${verb}$`),
        endpoint: `incident_${verb}`,
        access: "api",
        handle: async (request, params) => {
          const body = await readJson(request);
          const by = typeof body.by === "string" && body.by ? body.by : "api";
          const id = incidentId(params);
          try {
            if (verb === "ack") healer.acknowledge(id, by);
            else if (verb === "approve") healer.approve(id);
            else healer.resolveByHand(id, by, typeof body.note === "string" ? body.note : undefined);
          } catch (error) {
            return problemFrom(error);
          }
          return json(incidentView(id));
        },
      }),
    ),
    {
      method: "GET",
      pattern: /^\/api\/v1\/runs$/,
      endpoint: "runs",
      access: "api",
      handle: (request) => json({ runs: journal.listRuns({ limit: Math.min(Number(new URL(request.url).searchParams.get("limit") ?? 20) || 20, 1000) }) }),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/runs\/([\w-]+)$/,
      endpoint: "run",
      access: "api",
      handle: (_request, params) => {
        const run = journal.getRun(params[0]!);
        return run ? json(run) : problem(404, "E_NOT_FOUND", `no run ${params[0]}`, "GET /api/v1/runs lists them");
      },
    },
    { method: "GET", pattern: /^\/api\/v1\/checks$/, endpoint: "checks", access: "api", handle: () => json({ checks: options.checks() }) },
    {
      method: "GET",
      pattern: /^\/api\/v1\/rules$/,
      endpoint: "rules",
      access: "api",
      handle: () => json({ rules: options.rules.map((r) => ({ name: r.name, run: r.rule.run, match: r.rule.match, state: journal.getRuleState(r.name) ?? { rule: r.name, consecutiveFailures: 0 } })) }),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/rules\/([\w.-]+)\/reset$/,
      endpoint: "rule_reset",
      access: "api",
      handle: (_request, params) => {
        const rule = options.rules.find((r) => r.name === params[0]);
        if (!rule) return problem(404, "E_NOT_FOUND", `no rule ${params[0]}`, "GET /api/v1/rules lists them");
        journal.putRuleState({ rule: rule.name, consecutiveFailures: 0 });
        return json({ rule: rule.name, state: journal.getRuleState(rule.name) });
      },
    },
    ...(["pause", "resume"] as const).map(
      (verb): Route => ({
        method: "POST",
        pattern: new RegExp(`^/api/v1/${verb}$`),
        endpoint: verb,
        access: "api",
        handle: () => {
          healer.setPaused(verb === "pause");
          return json({ paused: healer.paused });
        },
      }),
    ),
  ];

  const allowed = (route: Route, request: Request, peer: Peer): Response | undefined => {
    if (route.access === "open") return undefined;
    const token = route.access === "webhook" ? options.webhookToken : options.token;
    // Reads are open to the same callers as writes: incidents carry labels and annotations.
    if (token) return bearerMatches(request, token) ? undefined : problem(401, "E_UNAUTHORIZED", "missing or wrong bearer token", route.access === "webhook" ? "send Authorization: Bearer <server.webhookToken>" : "pass --token or set OPSKIT_TOKEN to server.token's value");
    if (isLoopback(peer(request))) return undefined;
    return problem(403, "E_FORBIDDEN", "only loopback callers may use this endpoint when no token is configured", route.access === "webhook" ? "set server.webhookToken" : "set server.token");
  };

  return async (request, peer) => {
    const started = performance.now();
    const path = new URL(request.url).pathname;
    let endpoint = "unknown";
    let response: Response;
    try {
      const candidates = routes.filter((r) => r.pattern.test(path));
      const route = candidates.find((r) => r.method === request.method);
      if (!route) {
        response = candidates.length > 0 ? problem(405, "E_METHOD", `${request.method} is not allowed on ${path}`, `use ${candidates.map((r) => r.method).join(" or ")}`) : problem(404, "E_NOT_FOUND", `no endpoint ${path}`);
      } else {
        endpoint = route.endpoint;
        response = allowed(route, request, peer) ?? (await route.handle(request, route.pattern.exec(path)!.slice(1)));
      }
    } catch (error) {
      response = problemFrom(error);
    }
    options.metrics.request(endpoint, response.status, (performance.now() - started) / 1000);
    return response;
  };
}
