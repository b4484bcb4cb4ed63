// The HTTP face of `opskit serve`: alert webhooks, the incidents and runs
// API, the pause switch, health and Prometheus metrics, on Bun.serve.
import { usageError } from "../errors.ts";
import { createApp, type AppOptions } from "./app.ts";
import { isLoopback } from "./http.ts";
import { parseListen } from "../transport/index.ts";

export { serverMetrics, type ServerMetrics } from "./metrics.ts";
export type { AppOptions } from "./app.ts";

export interface RunningServer {
  url: string;
  /** Stops accepting connections; in-flight requests finish. */
  stop(): Promise<void>;
}

export function startServer(listen: string, options: AppOptions): RunningServer {
  const { hostname, port } = parseListen(listen);
  const loopbackOnly = isLoopback(hostname) || hostname === "localhost";
  if (!loopbackOnly && !options.token) {
    throw usageError("E_SERVER_TOKEN", `refusing to listen on ${listen} without server.token`, "set server.token (e.g. env:OPSKIT_TOKEN) before listening beyond loopback");
  }
  const app = createApp(options);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      // Our own limit answers 413 with a reason; Bun's is a backstop.
      maxRequestBodySize: options.maxBodyBytes * 2 + 1024,
      fetch: (request, srv) => app(request, (r) => srv.requestIP(r)?.address),
    });
  } catch (error) {
    throw usageError("E_LISTEN", `cannot listen on ${listen}: ${(error as Error).message}`, "pick another address with --listen, or stop what holds the port");
  }
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${shown}:${server.port}`,
    async stop() {
      await server.stop();
    },
  };
}
