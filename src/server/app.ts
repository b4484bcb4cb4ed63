import { checkLease, LEADER_LEASE, type Cluster } from "../cluster/index.ts";
import type { Alert, AlertSource, CheckDetail, CompiledRule, Healer } from "../heal/index.ts";
import { alertSources } from "../heal/index.ts";
import type { Journal } from "../journal/index.ts";
import { secrets } from "../observe/index.ts";
import { checkHost, checkJsonBody, checkOrigin, type HostRules } from "./guard.ts";
import { bearerMatches, isLoopback, json, pathOf, problem, problemFrom, readBody, secured } from "./http.ts";
import type { EventHub } from "./hub.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { RequestContext, Route } from "./route.ts";
import { dashboardRoutes } from "./routes-dashboard.ts";
import { incidentRoutes } from "./routes-incidents.ts";
import type { ProbeModules } from "./probe-modules.ts";
import { probeRoutes } from "./routes-probe.ts";
import { runRoutes } from "./routes-runs.ts";
import { readObjectBody, silenceRoutes, textField } from "./routes-silences.ts";

export interface AppOptions {
  healer: Healer;
  journal: Journal;
  rules: readonly CompiledRule[];
  metrics: ServerMetrics;
  /**
   * "token": every API call needs `token`, the webhooks `webhookToken` or,
   * without one, `token`. "none" (server.auth: none, an explicit opt-in):
   * loopback callers need no token.
   */
  auth: "token" | "none";
  /** Resolved secrets, not references. */
  token?: string;
  webhookToken?: string;
  /** server.publicUrl: the address clients use when it is not the listen address. */
  publicUrl?: string;
  /** The server's own log, for what a caller must not see (an unexpected error's detail and stack). */
  logError(error: unknown): void;
  maxBodyBytes: number;
  version: string;
  /** Each check with its recent results (the dashboard's health grid). */
  checks(): CheckDetail[];
  dryRun: boolean;
  /** The live feed (GET /api/v1/events) and the output of steps running here. */
  hub: EventHub;
  /** The modules of GET /probe (blackbox_exporter's), from opskit.yaml's probeModules:. */
  probeModules?: ProbeModules;
}

/** What the app needs of the connection a request came on. */
export interface Connection {
  peer(request: Request): string | undefined;
  /** Lifts the idle timeout of this request's connection (a stream stays open). */
  keepOpen?(request: Request): void;
}

type Handler = Route["handle"];

const exactPath = (path: string) => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`);

/**
 * The HTTP API: a webhook per alert source (heal/sources/), incidents,
 * runs, the pause switch, health and metrics, the live event stream, and the
 * dashboard's page. Every request must name this server in Host and come
 * from no foreign Origin; bodies are JSON only. The API needs the bearer
 * token and the webhooks theirs (see AppOptions.auth); health, metrics and
 * the page (which holds no data) are open. Every response carries the
 * security headers (http.ts), and no API answer may be cached.
 */
export function createApp(options: AppOptions, host: () => HostRules): (request: Request, connection: Connection) => Promise<Response> {
  const { healer, journal } = options;

  const acceptAlerts = (source: AlertSource): Handler => async (request) => {
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
      alerts = source.parse(value, Date.now());
    } catch (error) {
      return problemFrom(error, options.logError);
    }
    // A secret of ours inside an alert (a DSN in a label) is masked before it is kept, as in every other
    // output; the body is searched once, the alerts walked only when it held one.
    const masked = secrets.redact(body);
    if (masked !== body) alerts = secrets.redactValue(alerts);
    // Durable before the 2xx; the work happens after the response.
    const id = await healer.accept(source.kind, masked, alerts);
    return json({ status: "accepted", notification: id, alerts: alerts.length });
  };

  const routes: Route[] = [
    {
      method: "GET",
      pattern: /^\/healthz$/,
      endpoint: "healthz",
      access: "open",
      // Healthy only while the journal can keep what the webhooks acknowledge: its file is the one opened, and it answers.
      handle: async () => {
        const trouble = await journal.health();
        const replica = { replica: healer.cluster.name, leader: healer.cluster.isLeader };
        if (trouble) return json({ status: "unavailable", version: options.version, dryRun: options.dryRun, ...replica, error: trouble.toJSON() }, 503);
        return json({ status: "ok", version: options.version, paused: await healer.isPaused(), dryRun: options.dryRun, ...replica });
      },
    },
    {
      method: "GET",
      pattern: /^\/metrics$/,
      endpoint: "metrics",
      access: "open",
      handle: async () => new Response(await options.metrics.registry.metrics(), { headers: { "content-type": options.metrics.registry.contentType } }),
    },
    ...alertSources.flatMap((source): Route[] =>
      source.route ? [{ method: "POST", pattern: exactPath(source.route.path), endpoint: source.route.endpoint, access: "webhook", handle: acceptAlerts(source) }] : [],
    ),
    ...incidentRoutes(options),
    ...runRoutes(options),
    ...probeRoutes(options),
    ...silenceRoutes(options),
    ...dashboardRoutes(options),
    { method: "GET", pattern: /^\/api\/v1\/cluster$/, endpoint: "cluster", access: "api", handle: async () => json(await clusterView(healer.cluster, journal)) },
    {
      method: "GET",
      pattern: /^\/api\/v1\/rules$/,
      endpoint: "rules",
      access: "api",
      handle: async () => {
        const rules = [];
        for (const r of options.rules) rules.push({ name: r.name, run: r.rule.run, match: r.rule.match, state: (await journal.getRuleState(r.name)) ?? { rule: r.name, consecutiveFailures: 0 } });
        return json({ rules });
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/rules\/([\w.-]+)\/reset$/,
      endpoint: "rule_reset",
      access: "api",
      handle: async (_request, params) => {
        const rule = options.rules.find((r) => r.name === params[0]);
        if (!rule) return problem(404, "E_NOT_FOUND", `no rule ${params[0]}`, "GET /api/v1/rules lists them");
        await journal.putRuleState({ rule: rule.name, consecutiveFailures: 0 });
        return json({ rule: rule.name, state: await journal.getRuleState(rule.name) });
      },
    },
    ...(["pause", "resume"] as const).map(
      (verb): Route => ({
        method: "POST",
        pattern: new RegExp(`^/api/v1/${verb}$`),
        endpoint: verb,
        access: "api",
        handle: async (request) => {
          let by: string | undefined;
          try {
            by = textField(await readObjectBody(request), "by", 200);
          } catch (error) {
            return problemFrom(error, options.logError);
          }
          await healer.setPaused(verb === "pause", by);
          return json({ paused: await healer.isPaused(), ...(by !== undefined ? { by } : {}) });
        },
      }),
    ),
  ];

  const allowed = (route: Route, request: Request, peer: Connection["peer"]): Response | undefined => {
    if (route.access === "open") return undefined;
    const webhook = route.access === "webhook";
    const token = webhook ? (options.webhookToken ?? options.token) : options.token;
    // Reads are guarded like writes: incidents carry labels and annotations.
    if (token) {
      if (bearerMatches(request, token)) return undefined;
      const hint = webhook
        ? options.webhookToken
          ? "send Authorization: Bearer <server.webhookToken> (Alertmanager: http_config.authorization.credentials)"
          : "send Authorization: Bearer <the server's token> (Alertmanager: http_config.authorization.credentials); opskit serve prints where it is"
        : "set OPSKIT_TOKEN to the server's token, or run the CLI where it can read the token file opskit serve printed";
      return problem(401, "E_UNAUTHORIZED", "missing or wrong bearer token", hint);
    }
    // Only under server.auth: none, which the server refuses beyond loopback.
    if (isLoopback(peer(request))) return undefined;
    return problem(403, "E_FORBIDDEN", "only loopback callers may use this endpoint without a token", "remove server.auth: none");
  };

  // One rules object while they hold, so the guard's memory of allowed Host values (keyed by it) serves every request.
  let rules: HostRules | undefined;
  const currentRules = (): HostRules => {
    const now = host();
    if (!rules || rules.port !== now.port || rules.listenHost !== now.listenHost || rules.publicUrl !== now.publicUrl) rules = now;
    return rules;
  };

  const respond = async (request: Request, connection: Connection): Promise<{ endpoint: string; response: Response }> => {
    const rules = currentRules();
    const refused = checkHost(request, rules) ?? checkOrigin(request, rules);
    if (refused) return { endpoint: "unknown", response: refused };
    const path = pathOf(request.url);
    const candidates = routes.filter((r) => r.pattern.test(path));
    // HEAD asks what GET would answer, for what anyone may read: the page, health, metrics.
    const route = candidates.find((r) => r.method === request.method || (request.method === "HEAD" && r.method === "GET" && r.access === "open"));
    if (!route) {
      const response = candidates.length > 0 ? problem(405, "E_METHOD", `${request.method} is not allowed on ${path}`, `use ${candidates.map((r) => r.method).join(" or ")}`) : problem(404, "E_NOT_FOUND", `no endpoint ${path}`);
      return { endpoint: "unknown", response };
    }
    const context: RequestContext = { peer: () => connection.peer(request), keepOpen: () => connection.keepOpen?.(request) };
    const response =
      allowed(route, request, connection.peer) ?? (route.method !== "GET" ? checkJsonBody(request) : undefined) ?? (await route.handle(request, route.pattern.exec(path)!.slice(1), context));
    return { endpoint: route.endpoint, response: request.method === "HEAD" && response.body ? new Response(null, { status: response.status, headers: response.headers }) : response };
  };

  return async (request, connection) => {
    const started = performance.now();
    let endpoint = "unknown";
    let response: Response;
    try {
      ({ endpoint, response } = await respond(request, connection));
    } catch (error) {
      response = problemFrom(error, options.logError);
    }
    options.metrics.request(endpoint, response.status, (performance.now() - started) / 1000);
    return secured(response);
  };
}

/**
 * GET /api/v1/cluster: this replica, the leader, and the live replicas with
 * the checks each holds, read from the journal now (not this replica's last
 * heartbeat), so every replica answers alike.
 */
async function clusterView(cluster: Cluster, journal: Journal) {
  const now = Date.now();
  const [replicas, leases] = [await cluster.liveIn(journal), await journal.leases()];
  const held = leases.filter((l) => l.expiresAt > now);
  const leader = held.find((l) => l.name === LEADER_LEASE);
  const checks = new Map<string, string[]>();
  const prefix = checkLease("");
  for (const lease of held) if (lease.name.startsWith(prefix)) checks.set(lease.holder, [...(checks.get(lease.holder) ?? []), lease.name.slice(prefix.length)]);
  return {
    replica: { id: cluster.id, name: cluster.name, url: cluster.url ?? null, startedAt: cluster.startedAt },
    leader: leader ? { id: leader.holder, name: replicas.find((r) => r.id === leader.holder)?.name ?? null, epoch: leader.epoch } : null,
    replicas: replicas.map((r) => ({
      id: r.id,
      name: r.name,
      url: r.url ?? null,
      host: r.host,
      pid: r.pid,
      startedAt: r.startedAt,
      seenAt: r.seenAt,
      leader: r.id === leader?.holder,
      checks: checks.get(r.id) ?? [],
    })),
  };
}
