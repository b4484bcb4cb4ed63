// What the dashboard reads beside incidents and runs: the "Now" header, the
// checks with their recent results, MTTR as `opskit mttr` computes it, the
// live event stream, and the page's own files.
import type { AppOptions } from "./app.ts";
import { json, problem, securityHeaders } from "./http.ts";
import { mttrView } from "./mttr-view.ts";
import { badParameter, QueryParams } from "./params.ts";
import { incidentItems, runItems } from "./routes-incidents.ts";
import type { Route } from "./route.ts";

/** Incidents awaiting approval the header lists at most, and runs under way. */
const OVERVIEW_MAX = 100;

/** The page's files, loaded on the first request for one (web/ bundles them). */
async function asset(path: string, request: Request): Promise<Response | undefined> {
  const { dashboardAssets } = await import("../web/index.ts");
  const file = (await dashboardAssets()).get(path);
  if (!file) return undefined;
  const tag = etagOf(path, file.body);
  // The names carry no hash: the browser keeps a copy and asks whether it is still current (one 304 each).
  const headers = { ...securityHeaders, "content-type": file.type, etag: tag, "cache-control": "no-cache" };
  if (request.headers.get("if-none-match") === tag) return new Response(null, { status: 304, headers });
  if (request.method === "HEAD") return new Response(null, { headers: { ...headers, "content-length": String(typeof file.body === "string" ? Buffer.byteLength(file.body) : file.body.byteLength) } });
  return new Response(file.body, { headers });
}

const etags = new Map<string, { body: unknown; tag: string }>();
function etagOf(path: string, body: Uint8Array | string): string {
  const known = etags.get(path);
  if (known?.body === body) return known.tag;
  const tag = `"${Bun.hash(body).toString(36)}"`;
  etags.set(path, { body, tag });
  return tag;
}

export function dashboardRoutes(options: AppOptions): Route[] {
  const { journal, healer, hub } = options;
  const page = (pattern: RegExp, endpoint: string): Route => ({
    method: "GET",
    pattern,
    endpoint,
    access: "open",
    handle: async (request) => (await asset(new URL(request.url).pathname, request)) ?? problem(404, "E_NOT_FOUND", `no file ${new URL(request.url).pathname}`),
  });
  return [
    {
      method: "GET",
      pattern: /^\/api\/v1\/overview$/,
      endpoint: "overview",
      access: "api",
      handle: async () => {
        const waiting = await journal.attemptsIn(["awaiting_approval"]);
        const ids = [...new Set(waiting.map((a) => a.incidentId))].slice(0, OVERVIEW_MAX);
        const awaiting = ids.length > 0 ? (await journal.queryIncidents({ ids, status: "open", limit: OVERVIEW_MAX })).incidents : [];
        const running = (await journal.queryRuns({ status: "running", limit: OVERVIEW_MAX })).runs;
        const { cluster } = healer;
        return json({
          paused: await healer.isPaused(),
          dryRun: options.dryRun,
          version: options.version,
          replica: { name: cluster.name, leader: cluster.isLeader },
          replicas: cluster.live().length,
          openIncidents: await journal.countIncidents({ status: "open" }),
          awaitingApproval: await incidentItems(journal, healer, awaiting),
          running: runItems(hub, running),
        });
      },
    },
    { method: "GET", pattern: /^\/api\/v1\/checks$/, endpoint: "checks", access: "api", handle: () => json({ checks: options.checks() }) },
    {
      method: "GET",
      pattern: /^\/api\/v1\/mttr$/,
      endpoint: "mttr",
      access: "api",
      handle: async (request) => {
        const query = new QueryParams(request.url);
        const rule = query.text("rule", 200);
        return json(await mttrView(journal, { ...query.range(), ...(rule !== undefined ? { rule } : {}) }));
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/events$/,
      endpoint: "events",
      access: "api",
      handle: (request, _params, context) => {
        const run = new QueryParams(request.url).text("run", 100);
        if (run !== undefined && !/^[\w-]+$/.test(run)) throw badParameter("run", "run is not a run id", "send run=ID as GET /api/v1/runs lists it");
        const response = hub.subscribe(run !== undefined ? { run } : {});
        if (!response) return problem(503, "E_BUSY", "too many event streams are open, or the server is stopping", "close another dashboard tab, or retry in a few seconds");
        context.keepOpen();
        return response;
      },
    },
    page(/^\/$/, "page"),
    page(/^\/assets\/[\w.-]+$/, "page"),
    page(/^\/favicon\.svg$/, "page"),
    // Browsers ask for it whatever the page says; nothing to give, nothing to log.
    { method: "GET", pattern: /^\/favicon\.ico$/, endpoint: "page", access: "open", handle: () => new Response(null, { status: 204, headers: securityHeaders }) },
  ];
}
