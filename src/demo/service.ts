import type { Server } from "bun";
import { ExitCode, usageError } from "../errors.ts";
import { parseListen } from "../transport/index.ts";

export interface DemoServiceOptions {
  name: string;
  /** host:port; port 0 picks a free one, read it back from `port` or `url`. */
  listen: string;
  /** Aborting stops the service, as stop() does. */
  signal?: AbortSignal;
}

export interface DemoService {
  name: string;
  url: string;
  port: number;
  /** Stops listening and closes open connections. Safe to call twice. */
  stop(): Promise<void>;
  /** Settles once the service has stopped, by stop() or by the signal. */
  stopped: Promise<void>;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * A small HTTP service with a health check, Prometheus metrics and a switch
 * that breaks its health check while it keeps running:
 *   GET  /health   200 {"status":"ok","service":NAME,"uptimeSec":N}, 503 while broken
 *   GET  /metrics  demo_up, demo_healthy, demo_requests_total, demo_start_time_seconds
 *   POST /break    /health answers 503 from now on
 *   POST /fix      /health answers 200 again
 */
export async function serveDemoService(options: DemoServiceOptions): Promise<DemoService> {
  const { hostname, port } = parseListen(options.listen);
  const startedAt = Date.now();
  const service = `service="${escapeLabelValue(options.name)}"`;
  let requests = 0;
  let healthy = true;

  const metrics = (): string =>
    [
      "# HELP demo_up Whether the demo service is running.",
      "# TYPE demo_up gauge",
      "demo_up 1",
      "# HELP demo_healthy Whether /health answers 200 (0 after POST /break).",
      "# TYPE demo_healthy gauge",
      `demo_healthy{${service}} ${healthy ? 1 : 0}`,
      "# HELP demo_requests_total HTTP requests served, this one included.",
      "# TYPE demo_requests_total counter",
      `demo_requests_total{${service}} ${requests}`,
      "# HELP demo_start_time_seconds Start time of the demo service since the Unix epoch, in seconds.",
      "# TYPE demo_start_time_seconds gauge",
      `demo_start_time_seconds ${startedAt / 1000}`,
      "",
    ].join("\n");

  const route = (method: string, path: string): Response => {
    const key = `${method} ${path}`;
    switch (key) {
      case "GET /health": {
        const body = { status: healthy ? "ok" : "broken", service: options.name, uptimeSec: Math.round(Date.now() - startedAt) / 1000 };
        return Response.json(body, { status: healthy ? 200 : 503 });
      }
      case "GET /metrics":
        return new Response(metrics(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
      case "POST /break":
      case "POST /fix":
        healthy = key === "POST /fix";
        return Response.json({ service: options.name, healthy });
      default:
        return new Response("not found\n", { status: 404 });
    }
  };

  let server: Server<undefined>;
  try {
    server = Bun.serve({
      hostname,
      port,
      fetch(request) {
        requests++;
        return route(request.method, new URL(request.url).pathname);
      },
    });
  } catch (error) {
    throw usageError("E_DEMO_LISTEN", `demo service ${options.name} cannot listen on ${options.listen}: ${error instanceof Error ? error.message : String(error)}`, "pick another port, or port 0 for a free one");
  }

  let stopping: Promise<void> | undefined;
  let settle!: () => void;
  const stopped = new Promise<void>((resolve) => (settle = resolve));
  const stop = (): Promise<void> => {
    // Close open keep-alive connections too, so a scraper sees the service go away at once.
    stopping ??= server.stop(true).then(settle, settle);
    return stopping;
  };
  if (options.signal?.aborted) await stop();
  else options.signal?.addEventListener("abort", () => void stop(), { once: true });

  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return { name: options.name, url: `http://${host}:${server.port}`, port: server.port!, stop, stopped };
}

/**
 * The `opskit demo-service` command: serves until SIGTERM or SIGINT, then
 * exits 0. The stdout line tells a parent process the port it got.
 */
export async function runDemoService(options: { name: string; listen: string }): Promise<number> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once("SIGTERM", abort);
  process.once("SIGINT", abort);
  const service = await serveDemoService({ ...options, signal: controller.signal });
  console.log(`demo service ${service.name} listening on ${service.url}`);
  await service.stopped;
  return ExitCode.ok;
}
