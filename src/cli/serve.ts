import { hostname } from "node:os";
import type { LoadedConfig } from "../config/index.ts";
import { ExitCode, configError, describeError } from "../errors.ts";
import type { CheckScheduler, HealEvent, HealSink } from "../heal/index.ts";
import { connectionBroken, displayJournalLocation, isPostgresUrl, openJournal, type Journal } from "../journal/index.ts";
import { redact, registerSecret, startOtlpMetrics } from "../observe/index.ts";
import { parseDuration } from "../time/index.ts";
import { eventJsonLine, formatMs, jsonLinesSink, LineWriter } from "../ui/index.ts";
import { loadConfigFromOptions } from "./config-options.ts";
import { metricsIntervalMs, resolveOtlpExport } from "./otlp-config.ts";
import { serveTraceSinks, startTracingTo } from "./trace-options.ts";
import { atInfo, eventFields, healLogSink, logInternalError, logNotice, openServeLog, scheduleLogSink } from "./serve-log.ts";
import { commandJournal } from "./journal-options.ts";
import type { OptionsOf } from "./options.ts";
import type { serveSpec } from "./serve-spec.ts";


export interface ServeHandle {
  url: string;
  /** The API token callers send (configured or generated); none under server.auth: none. */
  token: string | undefined;
  journal: Journal;
  healer: import("../heal/index.ts").Healer;
  /** This replica among those sharing the journal (always one, if alone). */
  cluster: import("../cluster/index.ts").Cluster;
  /** Drains and stops everything; resolves when it is safe to exit. */
  shutdown(graceMs?: number): Promise<{ finished: number; cancelled: number }>;
}

export interface ServeOptions {
  listen?: string;
  journal: string;
  dryRun: boolean;
  version: string;
  /** --policy: an org policy file, over the config's policy:. */
  policy?: string;
  /** --replica: this replica's name among those sharing the journal (default host:port). */
  replica?: string;
  /** --advertise-url: where the other replicas and operators reach it (default server.publicUrl, else http://HOST:PORT). */
  advertiseUrl?: string;
  /** Receives every heal event (terminal, demo). */
  onEvent?: HealSink;
  /** Receives the scheduler's events (schedule.started, .finished, .skipped, …). */
  onScheduleEvent?: (event: import("../schedule/index.ts").ScheduleEvent) => void;
  /** Lines for the operator about the server itself (the token's file, warnings); default the log, else stderr. */
  notice?: (line: string, level?: import("./serve-log.ts").NoticeLevel) => void;
  /** The server's log (--log-format, --log-level): notices and internal errors (with their stacks) go there. */
  log?: import("../observe/index.ts").ServerLog;
}

interface ServerAuth {
  auth: "token" | "none";
  token?: string;
  webhookToken?: string;
}

/**
 * The server's tokens. server.token if set; else, unless server.auth is
 * none, the token generated beside the journal (a file journal), or
 * $OPSKIT_TOKEN (a PostgreSQL journal: its replicas run on several hosts and
 * must share one token, which no file of one host can give them). The
 * webhooks take server.webhookToken if set, else the same token.
 */
async function resolveServerAuth(settings: { auth?: "token" | "none"; token?: string; webhookToken?: string }, journal: string, notice: (line: string, level?: "warn") => void): Promise<ServerAuth> {
  const { resolveSecret } = await import("../schema/index.ts");
  const { loadOrCreateToken, requireNonEmptyToken, tokenFileFor } = await import("./server-token.ts");
  const resolve = async (reference: string, where: string) => requireNonEmptyToken(await resolveSecret(reference, where), where, reference);
  const webhookToken = settings.webhookToken ? await resolve(settings.webhookToken, "server.webhookToken") : undefined;
  const hook = webhookToken ? { webhookToken } : {};
  if (settings.auth === "none") {
    if (settings.token) throw configError("E_CONFIG_AUTH", "server.auth is none but server.token is set", "remove one of them: server.auth: none turns tokens off for loopback callers");
    notice(`opskit serve: WARNING: server.auth is none: any process or web page on this host may call the API${webhookToken ? "" : " and post alerts"} without a token; remove server.auth: none to require one`, "warn");
    return { auth: "none", ...hook };
  }
  if (settings.token) return { auth: "token", token: await resolve(settings.token, "server.token"), ...hook };
  if (isPostgresUrl(journal)) {
    const env = process.env.OPSKIT_TOKEN;
    if (env !== undefined) return { auth: "token", token: requireNonEmptyToken(env, "OPSKIT_TOKEN", "env:OPSKIT_TOKEN"), ...hook };
    throw configError(
      "E_CONFIG_TOKEN",
      `server.token is not set, and a server on a PostgreSQL journal cannot generate its API token: every replica sharing ${displayJournalLocation(journal)} must accept the same token`,
      "set server.token: env:OPSKIT_TOKEN in opskit.yaml (or server.token: file:/path) and give every replica the same secret, e.g. OPSKIT_TOKEN=$(openssl rand -base64 32)",
    );
  }
  const file = tokenFileFor(journal);
  const { token, created } = loadOrCreateToken(file);
  notice(`opskit serve: API token ${created ? "created in" : "read from"} ${file} (the opskit CLI on this host reads it there${webhookToken ? "" : "; Alertmanager sends it as http_config.authorization.credentials"})`);
  return { auth: "token", token, ...hook };
}

/** Starts the whole server: journal, rules, healer (with restart recovery), checks and HTTP. */
export async function startServe(loaded: LoadedConfig, options: ServeOptions): Promise<ServeHandle> {
  const { Healer, compileRules, startChecks } = await import("../heal/index.ts");
  const { EventHub, compileProbeModules, serverMetrics, startServer } = await import("../server/index.ts");
  const { serverDefaults } = await import("../config/index.ts");
  const settings = { ...serverDefaults, ...loaded.config.server };
  const defaultTimeoutMs = loaded.defaults.stepTimeoutMs;
  const rules = await compileRules(loaded, defaultTimeoutMs, options.policy);
  const probeModules = await compileProbeModules(loaded.config.probeModules ?? {}, (path) => loaded.where(path), loaded.baseDir);
  // Lines about the server itself (an internal error's stack among them) pass the redactor like every other output.
  const notice = options.notice ?? (options.log ? logNotice(options.log) : (line: string) => console.error(redact(line)));
  // Checked before anything opens: a lease shorter than a few heartbeats would make replicas take each other's work.
  const timings = leaseTimings(loaded, settings);
  // OTLP metrics, when a collector is configured: its settings and header secrets are read before anything opens.
  const metricsExport = await resolveOtlpExport("metrics", loaded);
  const metricsInterval = metricsExport ? metricsIntervalMs(loaded) : 0;
  const tracesExport = await resolveOtlpExport("traces", loaded);
  const auth = await resolveServerAuth(settings, options.journal, notice);
  // Every secret the config references, masked from the first line on: an alert may carry one before any step resolved it.
  (await import("../schema/index.ts")).registerReferencedSecrets(loaded.config);
  // The generated token too, not only those resolved from references: no step output, event or log line shows it.
  for (const token of [auth.token, auth.webhookToken]) if (token) registerSecret(token);
  // check: a damaged or read-only journal fails here, with its path and the fix, not on the first alert.
  const journal = await openJournal(options.journal, { durable: settings.fsync, check: true, backgroundCheckpoints: true });
  const listen = options.listen ?? settings.listen;
  let cluster: import("../cluster/index.ts").Cluster;
  let queue: import("../jobs/index.ts").JobQueue<import("../heal/index.ts").RemediationJob>;
  try {
    ({ cluster, queue } = await joinCluster(loaded, journal, options, listen, settings.publicUrl, timings));
  } catch (error) {
    await journal.close();
    throw error;
  }
  let checks: CheckScheduler | undefined;
  let schedules: import("../schedule/index.ts").ScheduleHandle | undefined;
  let healerRef: import("../heal/index.ts").Healer | undefined;
  const metrics = serverMetrics({
    openIncidents: () => journal.countIncidents({ status: "open" }),
    runningRemediations: () => healerRef?.runningRemediations ?? 0,
    paused: async () => (await healerRef?.isPaused()) ?? false,
    checks: () => checks?.states() ?? [],
    cluster: () => ({ replicas: cluster.live().length, leader: cluster.isLeader, epoch: cluster.epoch ?? 0, checksOwned: cluster.ownedChecks().length }),
  });
  // The dashboard's live feed: a sink of the heal, run and check events like the metrics.
  const hub = new EventHub();
  // Incidents and their runs as traces, when a collector is configured; spans leave in the background.
  const tracing = tracesExport ? await startTracingTo(tracesExport, (line) => notice(line, "warn")) : undefined;
  const traces = tracing ? await serveTraceSinks(tracing, journal) : undefined;
  const healer = new Healer({
    cluster,
    queue,
    loaded,
    journal,
    rules,
    dryRun: options.dryRun,
    maxConcurrentRemediations: settings.maxConcurrentRemediations,
    staleAfterMs: parseDuration(settings.staleAfter, "server.staleAfter"),
    defaultTimeoutMs,
    sinks: [metrics.heal, hub.heal, ...(traces ? [traces.heal] : []), ...(options.onEvent ? [options.onEvent] : [])],
    runSinks: [metrics.run, hub.run, ...(traces ? [traces.run] : [])],
    streamOutput: true,
  });
  healerRef = healer;
  try {
    await healer.start();
    checks = await startChecks(loaded.config.checks, {
      concurrency: settings.checkConcurrency,
      where: (path) => loaded.where(path),
      emit: (alert) => void healer.acceptCheckAlert(alert).catch(() => undefined),
      // Each check runs on the one replica holding its lease, which picks up the alert its last owner raised.
      owns: (check) => cluster.owns(check),
      resume: async (fingerprint) => {
        const state = await journal.getAlertState(fingerprint);
        return state?.status === "firing" ? state.startsAt : undefined;
      },
      onState: hub.check,
      vars: loaded.config.vars,
      baseDir: loaded.baseDir,
    });
    // After the healer's recovery and this replica's first heartbeat, so the
    // others see it alive before it claims a fire; only when a workflow has a schedule.
    if (Object.values(loaded.config.workflows ?? {}).some((w) => (w as { schedule?: unknown }).schedule !== undefined)) {
      const { startSchedules } = await import("../schedule/index.ts");
      schedules = await startSchedules({
        loaded,
        journal,
        replicaId: cluster.id,
        // Read from the journal, not the cached view: a replica that just joined may not be in it yet.
        isAlive: async (replica) => (await cluster.liveIn(journal)).some((r) => r.id === replica),
        sinks: [metrics.run, hub.run, ...(traces ? [traces.run] : [])],
        ...(options.onScheduleEvent ? { events: options.onScheduleEvent } : {}),
      });
    }
    const server = startServer(listen, {
      healer,
      journal,
      rules,
      metrics,
      ...auth,
      ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
      logError: options.log ? logInternalError(options.log) : (error) => notice(`opskit serve: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
      maxBodyBytes: settings.maxBodyBytes,
      version: options.version,
      checks: () => checks?.details() ?? [],
      dryRun: options.dryRun,
      hub,
      probeModules,
    });
    // Port 0 is known once bound: the name and the address others see follow it.
    cluster.advertise({ ...(options.advertiseUrl || settings.publicUrl ? {} : { url: server.url }), ...(options.replica ? {} : { name: defaultReplicaName(server.url) }) });
    const drainMs = parseDuration(settings.drainTimeout, "server.drainTimeout");
    // The registry /metrics serves, pushed every interval; an unreachable collector is one warning, never a wait.
    const otlpMetrics = metricsExport
      ? await startOtlpMetrics(metrics.registry, metricsExport, { intervalMs: metricsInterval, version: options.version, instanceId: cluster.id, warn: (line) => notice(line, "warn") })
      : undefined;
    return {
      url: server.url,
      token: auth.token,
      journal,
      healer,
      cluster,
      async shutdown(graceMs = drainMs) {
        await server.stop();
        await checks?.stop();
        const [outcome] = await Promise.all([healer.drain(graceMs), schedules?.stop(graceMs)]);
        // Leases given up: the others take this replica's checks at their next heartbeat, not a ttl later.
        await cluster.stop().catch(() => undefined);
        // The last counts leave before the journal the gauges read closes (bounded: a dead collector does not hold the exit).
        await otlpMetrics?.shutdown();
        // The drained runs' and incidents' last spans (bounded: a dead collector does not hold the exit).
        await tracing?.shutdown();
        await journal.close();
        return outcome;
      },
    };
  } catch (error) {
    hub.close();
    await checks?.stop();
    await schedules?.stop(0);
    await healer.drain(0);
    await cluster.stop().catch(() => undefined);
    await tracing?.shutdown(0);
    await journal.close();
    throw error;
  }
}

/** host:port, the port as bound. */
function defaultReplicaName(url: string): string {
  return `${hostname()}:${new URL(url).port}`;
}

/** server.heartbeat and server.leaseTtl, checked against each other: a lease must outlive a few missed heartbeats. */
function leaseTimings(loaded: LoadedConfig, settings: { heartbeat: string; leaseTtl: string }): { heartbeatMs: number; ttlMs: number } {
  const heartbeatMs = parseDuration(settings.heartbeat, "server.heartbeat");
  const ttlMs = parseDuration(settings.leaseTtl, "server.leaseTtl");
  if (heartbeatMs < 100 || ttlMs < 3 * heartbeatMs) {
    const where = loaded.config.server?.leaseTtl !== undefined ? loaded.where(["server", "leaseTtl"]) : loaded.config.server?.heartbeat !== undefined ? loaded.where(["server", "heartbeat"]) : "server";
    throw configError(
      "E_CONFIG",
      `${where}: leaseTtl ${settings.leaseTtl} with heartbeat ${settings.heartbeat}: a lease must last at least 3 heartbeats, and a heartbeat at least 100ms`,
      `raise server.leaseTtl (to ${Math.max(3 * heartbeatMs, 300)}ms or more) or shorten server.heartbeat`,
    );
  }
  return { heartbeatMs, ttlMs };
}

/**
 * Joins the replicas sharing the journal (heartbeat, leader and check
 * leases) and opens the queue attempts go through: pg-boss beside a
 * PostgreSQL journal, so any replica may run any attempt; in-process beside
 * a file.
 */
async function joinCluster(loaded: LoadedConfig, journal: Journal, options: ServeOptions, listen: string, publicUrl: string | undefined, timings: { heartbeatMs: number; ttlMs: number }) {
  const { startCluster } = await import("../cluster/index.ts");
  const { localQueue, openPgQueue } = await import("../jobs/index.ts");
  const { parseListen } = await import("../transport/index.ts");
  const { hostname: listenHost, port } = parseListen(listen);
  const shown = listenHost.includes(":") ? `[${listenHost}]` : listenHost;
  const url = options.advertiseUrl ?? publicUrl ?? (port === 0 ? undefined : `http://${shown}:${port}`);
  const cluster = await startCluster({ journal, name: options.replica ?? `${hostname()}:${port}`, ...(url ? { url } : {}), checks: loaded.config.checks.map((c) => c.name), ...timings });
  try {
    type Job = import("../heal/index.ts").RemediationJob;
    const queue = isPostgresUrl(options.journal) ? await openPgQueue<Job>(options.journal, "remediation") : localQueue<Job>();
    return { cluster, queue };
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
}

const clock = (at: number) => new Date(at).toISOString().slice(11, 23);

/**
 * The operator's view of the heal events: one line each for people (what the
 * core could not do on stderr, as `opskit serve: …`), or with --json one JSON
 * line each (observe's jsonLinesSink: `at` first, ISO 8601, the time of the
 * fact when the event carries one).
 */
export function serveEventSink(json: boolean, log: (line: string) => void, warn: (line: string) => void = (line) => console.error(line)): HealSink {
  if (json) return jsonLinesSink<HealEvent>(log);
  return (event) => {
    if (event.type === "heal.error") return warn(`opskit serve: ${event.message}`);
    const text = describeHealEvent(event);
    if (text) log(`${clock(Date.now())} ${text}`);
  };
}

/** One line per event, for people watching the server. */
export function describeHealEvent(event: HealEvent): string | undefined {
  switch (event.type) {
    case "incident.opened":
      return `incident ${event.incidentId} opened: ${event.title} ${JSON.stringify(event.labels)}${event.rule ? ` → rule ${event.rule}` : " (no rule matches)"}`;
    case "incident.gate":
      return `incident ${event.incidentId}: ${event.reason}`;
    case "remediation.started":
      return `incident ${event.incidentId}: remediation attempt ${event.attempt} started: workflow ${event.workflow} on ${event.targets.join(", ")} (run ${event.runId})`;
    case "remediation.finished":
      return `incident ${event.incidentId}: attempt ${event.attempt} ${event.status} in ${formatMs(event.durationMs)}${event.detail ? `: ${event.detail}` : ""}`;
    case "incident.milestone":
      // The other milestones have lines of their own (opened, attempt started, resolved, escalated).
      return event.milestone === "remediated" || event.milestone === "verified" || event.milestone === "acknowledged" ? `incident ${event.incidentId}: ${event.milestone}` : undefined;
    case "incident.escalated":
      return `incident ${event.incidentId}: ${event.reason}`;
    case "incident.resolved": {
      const m = event.milestones;
      const phases = m.started !== undefined && m.resolved !== undefined ? ` after ${formatMs(m.resolved - m.started)}` : "";
      return `incident ${event.incidentId} resolved${phases}: ${event.resolution}`;
    }
    case "rule.disabled":
      return `rule ${event.rule} disabled by its circuit breaker: ${event.reason}`;
    case "alert.received":
      return event.outcome === "orphan" ? `resolved notification for ${event.alertname} with nothing open: recorded` : undefined;
    case "heal.error":
      return `error: ${event.message}`;
    case "rule.query":
      return `incident ${event.incidentId}: ${event.detail}`;
    case "incident.silenced":
      return `incident ${event.incidentId}: silenced by silence ${event.silenceId} (${event.createdBy}) until ${new Date(event.until).toISOString()}`;
    case "silence.created":
      return `silence ${event.silenceId} added by ${event.createdBy} until ${new Date(event.endsAt).toISOString()}${event.comment ? `: ${event.comment}` : ""}`;
    case "silence.expired":
      return `silence ${event.silenceId} expired by ${event.by}`;
    case "remediation.paused":
      return `automatic remediation ${event.paused ? "paused" : "resumed"} by ${event.by}`;
    // On the incident's timeline (opskit incidents show), not worth a line here.
    case "incident.unmatched":
    case "rule.missing":
    case "remediation.approved":
    case "remediation.denied":
    case "remediation.interrupted":
    case "escalation.skipped":
    case "escalation.finished":
    case "notifications.processed":
      return undefined;
  }
}

/** The scheduler's events on the terminal: a line each, or with --json one JSON line each. */
function scheduleEventSink(json: boolean, log: (line: string) => void): (event: import("../schedule/index.ts").ScheduleEvent) => void {
  if (json) return jsonLinesSink(log);
  return (event) => {
    const when = new Date(event.type === "schedule.error" ? event.at : event.scheduledFor).toISOString();
    switch (event.type) {
      case "schedule.started":
        return log(`${clock(event.at)} schedule ${event.schedule} (${when}): run ${event.runId} started${event.missed ? " for a missed time" : ""}`);
      case "schedule.finished":
        return log(`${clock(event.at)} schedule ${event.schedule} (${when}): ${event.status} in ${formatMs(event.durationMs)}${event.detail ? `: ${event.detail}` : ""}`);
      case "schedule.skipped":
        return log(`${clock(event.at)} schedule ${event.schedule} (${when}): skipped: ${event.reason}`);
      case "schedule.interrupted":
        return log(`${clock(event.at)} schedule ${event.schedule} (${when}): interrupted (replica ${event.replica} is gone)`);
      case "schedule.error":
        return log(`${clock(event.at)} schedule${event.schedule ? ` ${event.schedule}` : "s"}: error: ${event.message}`);
    }
  };
}

/** `opskit serve`: runs until SIGTERM or Ctrl-C, then drains and exits 0. */
export async function serveCommand(_args: string[], options: OptionsOf<typeof serveSpec>, version: string): Promise<number> {
  const loaded = await loadConfigFromOptions(options);
  const out = new LineWriter();
  const { json } = options;
  // Event lines go out once per turn of the event loop (LineWriter), not a
  // write each: an alert storm's opening makes hundreds a second. The
  // server's own lines (started, stopping, stopped) go out at once.
  const log = (line: string) => out.line(line);
  const logNow = (line: string) => {
    out.line(line);
    out.flush();
  };
  // The server's log (--log-format, --log-level): in text, lines on stdout
  // and stderr as they always were, filtered by level; in json, everything
  // on stderr, events too unless --json prints them on stdout.
  const serverLog = await openServeLog(options, loaded);
  const jsonLog = serverLog.format === "json";
  const notice = logNotice(serverLog);
  // A statement left on a PostgreSQL connection that broke (the database went away mid-work) can
  // reject with nobody left to hear it; the journal already reported the outage and refuses intake
  // until it recovers, so that one is said, not fatal. Anything else still ends the process.
  process.on("unhandledRejection", (reason) => {
    if (!connectionBroken(reason)) throw reason;
    notice(`opskit serve: a journal statement failed after its connection broke: ${(reason as Error).message}`, "warn");
  });
  /** A line about the server itself: its event with --json, a log line in json, a text line at info. */
  const own = (event: { type: string } & Record<string, unknown>, text: string, msg = text) => {
    if (json) logNow(eventJsonLine(event));
    if (jsonLog) serverLog.info(msg, eventFields(event));
    else if (!json && serverLog.enabled("info")) logNow(text);
  };
  const handle = await startServe(loaded, {
    ...(options.listen !== undefined ? { listen: options.listen } : {}),
    journal: await commandJournal(options, loaded),
    dryRun: options.dryRun,
    version,
    ...(options.policy !== undefined ? { policy: options.policy } : {}),
    ...(options.replica !== undefined ? { replica: options.replica } : {}),
    ...(options.advertiseUrl !== undefined ? { advertiseUrl: options.advertiseUrl } : {}),
    onEvent: json ? serveEventSink(true, log) : jsonLog ? healLogSink(serverLog, describeHealEvent) : serveEventSink(false, atInfo(serverLog, log), (line) => serverLog.error(line)),
    onScheduleEvent: json ? scheduleEventSink(true, log) : jsonLog ? scheduleLogSink(serverLog) : scheduleEventSink(false, atInfo(serverLog, log)),
    log: serverLog,
  });
  const { cluster } = handle;
  const journalShown = displayJournalLocation(handle.journal.location);
  const live = cluster.live().length;
  const role = `${cluster.isLeader ? "leader" : "follower"}${live > 1 ? `, ${live} replicas live` : ""}`;
  const summary = `opskit serve on ${handle.url} · replica ${cluster.name} (${role}) · ${loaded.config.rules.length} rules · ${loaded.config.checks.length} checks · journal ${journalShown}${options.dryRun ? " · DRY RUN: nothing will run" : ""}${(await handle.healer.isPaused()) ? " · PAUSED (opskit resume)" : ""}`;
  own({ type: "server.started", url: handle.url, journal: journalShown, replica: cluster.name, replicaId: cluster.id, leader: cluster.isLeader }, summary);

  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        out.flush();
        notice("opskit serve: second signal, exiting now; in-flight runs are marked interrupted at the next start", "warn");
        process.exit(ExitCode.interrupted);
      }
      stopping = true;
      const draining = `${signal}: draining (no new alerts; in-flight runs finish or are cancelled)`;
      own({ type: "server.stopping", signal }, `${clock(Date.now())} ${draining}`, draining);
      try {
        const outcome = await handle.shutdown();
        const stopped = `stopped: ${outcome.finished} runs finished, ${outcome.cancelled} cancelled`;
        own({ type: "server.stopped", ...outcome }, `${clock(Date.now())} ${stopped}`, stopped);
        resolve(ExitCode.ok);
      } catch (error) {
        out.flush();
        notice(`opskit serve: ${describeError(error)}`, "error");
        resolve(ExitCode.internal);
      }
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });
}
