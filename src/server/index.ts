// The HTTP face of `opskit serve`: alert webhooks, the incidents and runs
// API, the pause switch, health and Prometheus metrics, the dashboard's page
// and its live event stream, on Bun.serve.
import { usageError } from "../errors.ts";
import { createApp, type AppOptions } from "./app.ts";
import { internalProblem, isLoopback } from "./http.ts";
import { parseListen } from "../transport/index.ts";

export { serverMetrics, type ServerMetrics } from "./metrics.ts";
export { compileProbeModules, type ProbeModules } from "./probe-modules.ts";
export type { AppOptions } from "./app.ts";
export { EventHub, type HubOptions } from "./hub.ts";
export { incidentReadRoutes, type IncidentReadOptions } from "./routes-incidents.ts";

export interface RunningServer {
  url: string;
  /** Stops accepting connections; in-flight requests finish. */
  stop(): Promise<void>;
}

export function startServer(listen: string, options: AppOptions): RunningServer {
  const { hostname, port } = parseListen(listen);
  const loopbackOnly = isLoopback(hostname) || hostname === "localhost";
  if (options.auth === "token" && !options.token) throw new Error("startServer: auth is token but no token was given");
  if (options.auth === "none" && !loopbackOnly) {
    throw usageError("E_SERVER_TOKEN", `refusing to listen on ${listen} with server.auth: none`, "remove server.auth: none (opskit serve then uses server.token or its generated token) before listening beyond loopback");
  }
  const publicUrl = options.publicUrl ? new URL(options.publicUrl) : undefined;
  let server: ReturnType<typeof Bun.serve> | undefined;
  const app = createApp(options, () => ({ listenHost: hostname, port: server?.port ?? port, ...(publicUrl ? { publicUrl } : {}) }));
  try {
    server = Bun.serve({
      hostname,
      port,
      // Never Bun's developer error page: it carries stacks, source and paths.
      development: false,
      // Our own limit answers 413 with a reason; Bun's is a backstop.
      maxRequestBodySize: options.maxBodyBytes * 2 + 1024,
      fetch: (request, srv) => app(request, { peer: (r) => srv.requestIP(r)?.address, keepOpen: (r) => srv.timeout(r, 0) }),
      error: (error) => {
        options.logError(error);
        return internalProblem();
      },
    });
  } catch (error) {
    throw usageError("E_LISTEN", `cannot listen on ${listen}: ${(error as Error).message}`, "pick another address with --listen, or stop what holds the port");
  }
  const bound = server;
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${shown}:${bound.port}`,
    async stop() {
      // Event streams never end by themselves: they are closed first, so the requests in flight can finish.
      options.hub.close();
      await bound.stop();
    },
  };
}
