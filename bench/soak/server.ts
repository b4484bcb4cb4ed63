// The soak's two processes and what is read from them: the local endpoints
// (bench/soak/endpoints.ts) and `opskit serve` (the compiled executable, as
// users run it) with CHECKS checks of them every 5 s, a rule that remediates
// the flapping ones with a local command, and its log in a file rather than
// in the runner's memory. Read every 10 s: RSS and CPU from /proc, and the
// server's own /metrics (event-loop delay, check states, incident counters).
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asService, bun, disposerOf, opskitBin, root, track, type Service } from "../process.ts";
import type { FlapSchedule } from "./flaps.ts";

export const INTERVAL = "5s";
const READY_TIMEOUT_MS = 60_000;
/** The remediation runs three echo lines; a drain takes milliseconds, the default drainTimeout is 30 s. */
const STOP_TIMEOUT_MS = 40_000;
const REQUEST_TIMEOUT_MS = 10_000;
const clockTicksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

export const checkName = (check: number) => `c${String(check).padStart(4, "0")}`;

/**
 * Every check probes its own path, spread over the endpoint ports; an alert
 * fires after 2 failed probes (10 s) and resolves after 2 passing ones. The
 * flapping checks carry flap: "yes", which the rule matches: one run per
 * incident (3 lines of output), a fingerprint cooling down for 2 minutes:
 * longer than an episode, so the firing alert's repeats within it are held
 * by the cooldown (not escalated past maxAttempts), and shorter than the
 * period, so every episode is remediated.
 */
export function soakConfig(schedule: FlapSchedule, ports: number[]): string {
  const lines = [
    "server:",
    "  token: env:OPSKIT_SOAK_TOKEN",
    "  maxConcurrentRemediations: 4",
    "workflows:",
    "  restart:",
    "    targets: local",
    "    steps:",
    "      - name: restart",
    '        exec: "echo restarting {{ vars.check }}; echo waiting for {{ vars.check }}; echo {{ vars.check }} answers again"',
    "rules:",
    "  - name: soak-restart",
    '    match: { flap: "yes" }',
    "    run: restart",
    "    vars: { check: '{{ alert.labels.check }}' }",
    "    cooldown: 2m",
    "    maxAttempts: 1",
    "checks:",
  ];
  for (let check = 0; check < schedule.checks; check++) {
    const labels = schedule.isFlapper(check) ? ', labels: { flap: "yes" }' : "";
    lines.push(`  - { name: ${checkName(check)}, probe: "http://127.0.0.1:${ports[check % ports.length]}/c/${check}", interval: ${INTERVAL}, timeout: 2s, failureThreshold: 2, successThreshold: 2${labels} }`);
  }
  return `${lines.join("\n")}\n`;
}

export interface EndpointStats {
  seconds: number;
  served: number;
  failed: number;
  unknown: number;
}

export interface Endpoints extends Service {
  readonly ports: number[];
  stats(): Promise<EndpointStats>;
}

export async function startEndpoints(checks: number, ports = 4): Promise<Endpoints> {
  const child = track(Bun.spawn([bun, "bench/soak/endpoints.ts", String(ports), String(checks)], { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "inherit" }));
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the soak's endpoints exited before listening");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ready = JSON.parse(text.slice(0, text.indexOf("\n"))) as { ports: number[]; control: number };
  return {
    ...asService(child, () => child.stdin.end()),
    ports: ready.ports,
    stats: async () => (await (await fetch(`http://127.0.0.1:${ready.control}/stats`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).json()) as EndpointStats,
  };
}

export interface ProcSample {
  rssBytes: number;
  /** user+sys of the process (all its threads). */
  cpuSeconds: number;
  /** user+sys of its children that have ended (the remediation commands). */
  childCpuSeconds: number;
  threads: number;
}

/** RSS (VmRSS), threads and CPU of a live process, from /proc/PID/status and /proc/PID/stat. */
export function readProc(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name: utime, stime, cutime, cstime are fields 14-17.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return {
    rssBytes: Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024,
    threads: Number(/^Threads:\s+(\d+)$/m.exec(status)?.[1] ?? 0),
    cpuSeconds: (fields[11]! + fields[12]!) / clockTicksPerSecond,
    childCpuSeconds: (fields[13]! + fields[14]!) / clockTicksPerSecond,
  };
}

export interface MetricsSample {
  /**
   * prom-client's event-loop delay percentiles (perf_hooks'
   * monitorEventLoopDelay at 10 ms resolution, which Bun implements); its
   * histogram is reset at every scrape, so each figure covers the time since
   * the previous scrape.
   */
  lagP99Seconds: number;
  lagMaxSeconds: number;
  /** Checks that fail or fire now (opskit_check_up 0), by name. */
  down: string[];
  /** Checks reported at all (a check's first probe may not have run yet). */
  reported: number;
  /** How long the scrape took, as the runner saw it: rendering happens on the server's event loop. */
  scrapeMs: number;
  incidentsOpened: number;
  incidentsResolved: number;
  remediations: Record<string, number>;
}

/** The figures the soak reads from one /metrics text. */
export function parseMetrics(text: string): MetricsSample {
  const sample: MetricsSample = { lagP99Seconds: Number.NaN, lagMaxSeconds: Number.NaN, down: [], reported: 0, scrapeMs: Number.NaN, incidentsOpened: 0, incidentsResolved: 0, remediations: {} };
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const space = line.lastIndexOf(" ");
    const key = line.slice(0, space);
    const value = Number(line.slice(space + 1));
    if (key === "opskit_nodejs_eventloop_lag_p99_seconds") sample.lagP99Seconds = value;
    else if (key === "opskit_nodejs_eventloop_lag_max_seconds") sample.lagMaxSeconds = value;
    else if (key.startsWith("opskit_check_up{")) {
      sample.reported++;
      if (value === 0) sample.down.push(/check="([^"]*)"/.exec(key)?.[1] ?? key);
    } else if (key.startsWith("opskit_incidents_opened_total")) sample.incidentsOpened += value;
    else if (key.startsWith("opskit_incidents_resolved_total")) sample.incidentsResolved += value;
    else if (key.startsWith("opskit_remediations_total{")) {
      const status = /status="([^"]*)"/.exec(key)?.[1] ?? "unknown";
      sample.remediations[status] = (sample.remediations[status] ?? 0) + value;
    }
  }
  return sample;
}

export interface SoakServer {
  readonly pid: number;
  readonly url: string;
  readonly token: string;
  readonly journal: string;
  readonly log: string;
  metrics(): Promise<MetricsSample>;
  get<T>(path: string): Promise<T>;
  /** SIGTERM, then the exit code (null: killed after 40 s). */
  stop(): Promise<number | null>;
  /** Kills it if still running and removes its config and journal. */
  dispose(): Promise<void>;
}

/** Writes the config into a fresh temp dir and starts dist/opskit serve on a free loopback port; its output goes to `log`. */
export async function startSoakServer(schedule: FlapSchedule, ports: number[], log: string): Promise<SoakServer> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-soak-"));
  writeFileSync(join(dir, "opskit.yaml"), soakConfig(schedule, ports));
  const journal = join(dir, "journal.db");
  const token = randomBytes(32).toString("base64url");
  mkdirSync(join(log, ".."), { recursive: true });
  // One descriptor for both streams, in the order they were written.
  const output = openSync(log, "w");
  const child = track(
    Bun.spawn([opskitBin, "serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", journal], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", OPSKIT_SOAK_TOKEN: token },
      stdin: "ignore",
      stdout: output,
      stderr: output,
    }),
  );
  closeSync(output);
  const dispose = disposerOf(child, dir);
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let url: string | undefined;
  while (!url && child.exitCode === null && performance.now() < deadline) {
    await Bun.sleep(50);
    url = /opskit serve on (http:\/\/[\d.:]+)/.exec(readFileSync(log, "utf8"))?.[1];
  }
  if (!url) {
    await dispose();
    throw new Error(`opskit serve did not start (exit ${child.exitCode}):\n${readFileSync(log, "utf8").slice(-3000)}`);
  }
  const base = url;
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${(await response.text()).slice(0, 300)}`);
    return (await response.json()) as T;
  };
  return {
    pid: child.pid,
    url: base,
    token,
    journal,
    log,
    get,
    async metrics() {
      const started = performance.now();
      const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
      const text = await response.text();
      return { ...parseMetrics(text), scrapeMs: performance.now() - started };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const ended = await Promise.race([child.exited.then(() => true), Bun.sleep(STOP_TIMEOUT_MS).then(() => false)]);
      if (!ended) child.kill("SIGKILL");
      await child.exited;
      return ended ? child.exitCode : null;
    },
    dispose,
  };
}
