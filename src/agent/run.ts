import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { configError, ExitCode, OpsError } from "../errors.ts";
import { startOtlpMetrics, type OtlpExport, type OtlpMetrics } from "../observe/index.ts";
import { parseListen } from "../transport/index.ts";
import type { CompiledAgent } from "./compile.ts";
import { AgentCore } from "./core.ts";
import { Delivery } from "./delivery.ts";
import { Counter, Gauge, Histogram } from "./metrics.ts";
import type { SavedAlert } from "./rules.ts";
import { Spool } from "./spool.ts";

export interface AgentRunOptions {
  version: string;
  /** The webhook token, resolved from agent.server.token. */
  token?: string;
  /** Lines for the operator: a source's warning, the server gone and back. */
  notice(line: string): void;
  /** OTLP metrics export, when observability.otlp is configured. */
  otlp?: { settings: OtlpExport; intervalMs: number };
  /** How long sources get to stop (default 5s). */
  stopTimeoutMs?: number;
}

export interface AgentHandle {
  core: AgentCore;
  spool: Spool;
  delivery: Delivery;
  /** Alerts found in the spool at start, left by the last run. */
  spooledAtStart: number;
  /** http://host:port of /metrics and /healthz, when agent.listen is set. */
  url?: string;
  /** Stops the sources, handles what they queued, spools what was not delivered, saves the firing alerts. */
  stop(): Promise<{ spooled: number }>;
}

const SOURCE_STOP_TIMEOUT_MS = 5_000;

/** Starts the agent: spool, delivery, core, /metrics, OTLP, then every source. */
export async function startAgent(agent: CompiledAgent, options: AgentRunOptions): Promise<AgentHandle> {
  const { settings } = agent;
  if (!settings.server) throw configError("E_AGENT_SERVER", `${agent.where(["server"])}: agent.server is not set: alerts have nowhere to go`, "set agent.server: { url: http://SERVER:9797, token: env:OPSKIT_WEBHOOK_TOKEN }, or run opskit agent --once to print them");
  mkdirSync(settings.stateDir, { recursive: true });
  const unlock = lockStateDir(settings.stateDir);
  const cleanups: (() => Promise<void> | void)[] = [unlock];
  try {
    return await startLocked(agent, options, settings.server, cleanups);
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup();
    throw error;
  }
}

async function startLocked(agent: CompiledAgent, options: AgentRunOptions, server: NonNullable<CompiledAgent["settings"]["server"]>, cleanups: (() => Promise<void> | void)[]): Promise<AgentHandle> {
  const { settings } = agent;
  let notice = options.notice;
  const dropped = new Counter("opskit_agent_alerts_dropped_total", "Alerts dropped without delivery, by reason: spool_full (the oldest spooled, to make room), memory_full (the spool could not be written), rejected (the server refused them as malformed).", ["reason"]);
  let warnedFull = false;
  const spool = new Spool(join(settings.stateDir, "spool.db"), settings.spoolMaxBytes, (n) => {
    dropped.inc(["spool_full"], n);
    if (!warnedFull) notice(`opskit agent: the spool is full (agent.spool.maxBytes ${settings.spoolMaxBytes} bytes): the oldest alerts are dropped to make room, counted in opskit_agent_alerts_dropped_total{reason="spool_full"}`);
    warnedFull = true;
  });
  cleanups.push(() => spool.close());
  const spooledAtStart = spool.count;
  const delivered = new Counter("opskit_agent_alerts_delivered_total", "Alerts the server acknowledged (2xx).");
  const failures = new Counter("opskit_agent_delivery_failures_total", "Requests to the server that failed and will be tried again (unreachable, 5xx, token refused).");
  const latency = new Histogram("opskit_agent_delivery_latency_seconds", "From an alert raised to the server's acknowledgement (spooled alerts included).", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]);
  const delivery = new Delivery({
    url: server.url,
    ...(options.token ? { token: options.token } : {}),
    timeoutMs: server.timeoutMs,
    batchMax: settings.batchMax,
    lingerMs: settings.lingerMs,
    spool,
    warn: (line) => notice(line),
    delivered: (alerts, now) => {
      delivered.inc([], alerts.length);
      for (const alert of alerts) latency.observe(Math.max(0, now - alert.raisedAt) / 1000);
    },
    failed: () => failures.inc(),
    rejected: (n) => dropped.inc(["rejected"], n),
    dropped: (n) => dropped.inc(["memory_full"], n),
  });
  cleanups.push(() => delivery.stop(0));
  const stateFile = join(settings.stateDir, "alerts.json");
  // The firing alerts, rewritten within a second of a change: after a kill -9 they still resolve as usual at the next start.
  let saved = 0;
  const saveIfChanged = () => {
    if (core.engine.changes === saved) return;
    saved = core.engine.changes;
    try {
      saveAlerts(stateFile, core.engine.firing());
    } catch (error) {
      notice(`opskit agent: cannot write ${stateFile}: ${(error as Error).message}`);
    }
  };
  const core = new AgentCore(agent, { raise: (alert) => delivery.send(alert), notice: (line) => notice(line), afterTick: saveIfChanged });
  const r = core.registry;
  for (const metric of [delivered, failures, dropped, latency]) r.add(metric);
  r.add(new Gauge("opskit_agent_spool_bytes", "Bytes of alerts held in the spool (as agent.spool.maxBytes counts them).", () => [{ value: spool.bytes }]));
  r.add(new Gauge("opskit_agent_spool_alerts", "Alerts held in the spool, waiting for the server.", () => [{ value: spool.count }]));
  r.add(new Gauge("opskit_agent_alerts_pending", "Alerts in memory waiting for their request.", () => [{ value: delivery.pending }]));
  r.add(new Gauge("opskit_agent_server_up", "1 while the last request reached the server.", () => [{ value: delivery.reachable ? 1 : 0 }]));

  core.engine.restore(readSavedAlerts(stateFile, notice), Date.now());

  const http = settings.listen !== undefined ? serveMetrics(settings.listen, agent.where(["listen"]), core, delivery, spool) : undefined;
  if (http) cleanups.push(() => http.stop(true));
  let otlp: OtlpMetrics | undefined;
  if (options.otlp) {
    otlp = await startOtlpMetrics(r, options.otlp.settings, { intervalMs: options.otlp.intervalMs, version: options.version, instanceId: hostname(), warn: (line) => notice(line.replace(/^opskit serve:/, "opskit agent:")) });
    cleanups.push(() => otlp!.shutdown());
  }

  const running: { name: string; stop(): Promise<void> }[] = [];
  const stopSources = async (timeoutMs: number) => {
    core.stop();
    await Promise.all(
      running.map(async (source) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
        const outcome = await Promise.race([source.stop().catch((error: Error) => notice(`opskit agent: source ${source.name} did not stop cleanly: ${error.message}`)), late]);
        clearTimeout(timer);
        if (outcome === "late") notice(`opskit agent: source ${source.name} did not stop within ${timeoutMs} ms`);
      }),
    );
  };
  cleanups.push(() => stopSources(1000));
  for (const source of agent.sources) {
    const handle = await source.source.start(source.spec, core.contextFor(source));
    running.push({ name: source.name, stop: () => handle.stop() });
  }
  core.startTicking();

  let stopped: Promise<{ spooled: number }> | undefined;
  return {
    core,
    spool,
    delivery,
    spooledAtStart,
    ...(http ? { url: `http://${http.hostname?.includes(":") ? `[${http.hostname}]` : http.hostname}:${http.port}` } : {}),
    stop() {
      stopped ??= (async () => {
        await stopSources(options.stopTimeoutMs ?? SOURCE_STOP_TIMEOUT_MS);
        // What the sources queued before they stopped still meets the rules.
        core.drainAll();
        saveAlerts(stateFile, core.engine.firing());
        await delivery.stop();
        const spooled = spool.count;
        notice = () => undefined;
        http?.stop(true);
        await otlp?.shutdown();
        spool.close();
        cleanups[0]!();
        return { spooled };
      })();
      return stopped;
    },
  };
}

/** GET /metrics (Prometheus text) and GET /healthz on agent.listen. */
function serveMetrics(listen: string, where: string, core: AgentCore, delivery: Delivery, spool: Spool) {
  const { hostname, port } = parseListen(listen);
  try {
    return Bun.serve({
      hostname,
      port,
      fetch(request) {
        const { pathname } = new URL(request.url);
        if (request.method !== "GET" && request.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
        if (pathname === "/metrics") return new Response(core.registry.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
        if (pathname === "/healthz") {
          const body = { status: "ok", server: delivery.reachable ? "reachable" : "unreachable", queue: core.queue.length, spooled: spool.count };
          return Response.json(body);
        }
        return new Response("not found\n", { status: 404 });
      },
    });
  } catch (error) {
    throw new OpsError({ code: "E_AGENT_LISTEN", message: `${where}: cannot listen on ${listen}: ${(error as Error).message}`, hint: "pick a free port in agent.listen (port 0 for any)", exitCode: ExitCode.config });
  }
}

/** One agent per state directory: two would deliver each spooled alert twice and fight over the sources' offsets. */
function lockStateDir(dir: string): () => void {
  const file = join(dir, "agent.pid");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new OpsError({ code: "E_AGENT_RUNNING", message: `another opskit agent (pid ${pid}) uses ${dir}`, hint: "stop it first, or give this one its own agent.stateDir", exitCode: ExitCode.config });
    }
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The alerts that were firing at the last stop, so they resolve as usual rather than stay open at the server. */
function readSavedAlerts(file: string, notice: (line: string) => void): SavedAlert[] {
  if (!existsSync(file)) return [];
  try {
    const saved = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return Array.isArray(saved) ? (saved as SavedAlert[]).filter((a) => a && typeof a.rule === "string" && a.labels && typeof a.startsAt === "number" && typeof a.lastMatch === "number") : [];
  } catch (error) {
    notice(`opskit agent: ignoring ${file}: ${(error as Error).message}`);
    return [];
  }
}

function saveAlerts(file: string, alerts: SavedAlert[]): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, JSON.stringify(alerts));
  renameSync(temporary, file);
}
