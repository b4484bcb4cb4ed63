import type { Subprocess } from "bun";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { stringify } from "yaml";
import { refusedPort } from "./net.ts";

// Debian's prometheus and prometheus-alertmanager packages, the real servers
// the alert tests talk to. A missing binary is an error, never a skip.
const PROMETHEUS = "/usr/bin/prometheus";
const ALERTMANAGER = "/usr/bin/prometheus-alertmanager";
const BLACKBOX = "/usr/bin/prometheus-blackbox-exporter";
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_CHARS = 4_000;

export interface TestServer {
  /** Base URL on loopback, no trailing slash: http://127.0.0.1:PORT */
  url: string;
  /** Temp dir with the config and the server's storage; removed by stop(). */
  dir: string;
  /** SIGTERM, SIGKILL after 5 s, then removes dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface AlertmanagerOptions {
  /**
   * Where the single receiver posts; every alert routes there. Several URLs
   * make one webhook_config each: every notification goes to all of them.
   */
  webhookUrl: string | string[];
  bearerToken?: string;
  groupWaitSec?: number;
  groupIntervalSec?: number;
  repeatIntervalSec?: number;
  /** Labels that split notifications into groups; default ["alertname"]. */
  groupBy?: string[];
  /**
   * How long Alertmanager keeps an alert without endsAt firing. Prometheus
   * always sends endsAt, so this matters only for alerts posted directly.
   */
  resolveTimeoutSec?: number;
  /** Gossip with peers (Alertmanager's HA); without it clustering is off. */
  cluster?: AlertmanagerClusterOptions;
}

export interface AlertmanagerClusterOptions {
  /** This member's gossip address, 127.0.0.1:PORT. */
  listenAddress: string;
  /** The other members' gossip addresses. */
  peers: string[];
  /** How long a member waits per position for an earlier one to notify (Alertmanager's default 15s). */
  peerTimeoutSec?: number;
}

export interface PrometheusOptions {
  /** `config`: more of the job's scrape config (metrics_path, params, relabel_configs, authorization, ...). */
  scrapeTargets: { job: string; targets: string[]; config?: Record<string, unknown> }[];
  /** A rule file's YAML text (groups: [...]); none by default. */
  rules?: string;
  /** One Alertmanager, or every member of a cluster: Prometheus sends each alert to all of them; none by default (a Prometheus that is only queried). */
  alertmanagerUrl?: string | string[];
  scrapeIntervalSec?: number;
  evaluationIntervalSec?: number;
}

/**
 * Alertmanager on 127.0.0.1 and a free port, routing every alert to one
 * receiver (a webhook per URL) with send_resolved and fast group timings;
 * gossip off unless options.cluster says with whom.
 */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<TestServer> {
  const webhooks = [options.webhookUrl].flat().map((url) => {
    const webhook: Record<string, unknown> = { url, send_resolved: true, max_alerts: 0 };
    if (options.bearerToken !== undefined) webhook.http_config = { authorization: { type: "Bearer", credentials: options.bearerToken } };
    return webhook;
  });
  const cluster = options.cluster;
  const clusterArgs = cluster
    ? [
        `--cluster.listen-address=${cluster.listenAddress}`,
        ...cluster.peers.map((peer) => `--cluster.peer=${peer}`),
        `--cluster.peer-timeout=${cluster.peerTimeoutSec ?? 15}s`,
        // Gossip and settle fast: loopback peers need no patience.
        "--cluster.gossip-interval=50ms",
        "--cluster.pushpull-interval=1s",
        "--cluster.reconnect-interval=1s",
      ]
    : // Empty turns clustering off: no gossip port, no peer lookups, ready at once.
      ["--cluster.listen-address="];
  const config = {
    global: { resolve_timeout: `${options.resolveTimeoutSec ?? 1}s` },
    route: {
      receiver: "webhook",
      group_by: options.groupBy ?? ["alertname"],
      group_wait: `${options.groupWaitSec ?? 1}s`,
      group_interval: `${options.groupIntervalSec ?? 1}s`,
      repeat_interval: `${options.repeatIntervalSec ?? 60}s`,
    },
    receivers: [{ name: "webhook", webhook_configs: webhooks }],
  };
  return startServer("alertmanager", ALERTMANAGER, config, (dir, configFile, address) => [
    `--config.file=${configFile}`,
    `--storage.path=${join(dir, "data")}`,
    `--web.listen-address=${address}`,
    // Notifications carry externalURL; without it Alertmanager uses the machine's hostname.
    `--web.external-url=http://${address}`,
    ...clusterArgs,
    "--log.level=info",
  ]);
}

/**
 * Prometheus on 127.0.0.1 and a free port, scraping the given static targets
 * and sending alerts from the rule file to one Alertmanager, every second.
 * Resolves once every target and the Alertmanager are in use (about 5 s).
 */
export async function startPrometheus(options: PrometheusOptions): Promise<TestServer> {
  const scrapeSec = options.scrapeIntervalSec ?? 1;
  const alertmanagers = (options.alertmanagerUrl === undefined ? [] : [options.alertmanagerUrl].flat()).map((url) => new URL(url));
  const alertmanager = alertmanagers[0];
  const config = {
    global: {
      scrape_interval: `${scrapeSec}s`,
      // Prometheus rejects a scrape timeout longer than the interval (default 10s).
      scrape_timeout: `${scrapeSec}s`,
      evaluation_interval: `${options.evaluationIntervalSec ?? 1}s`,
    },
    rule_files: ["rules.yml"],
    ...(alertmanager
      ? {
          alerting: {
            alertmanagers: [
              {
                scheme: alertmanager.protocol.replace(":", ""),
                path_prefix: alertmanager.pathname,
                static_configs: [{ targets: alertmanagers.map((url) => url.host) }],
              },
            ],
          },
        }
      : {}),
    scrape_configs: options.scrapeTargets.map((target) => ({ job_name: target.job, static_configs: [{ targets: target.targets }], ...target.config })),
  };
  const server = await startServer("prometheus", PROMETHEUS, config, (dir, configFile, address) => [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=${address}`,
    // generatorURL in every alert is built from this; the default uses the hostname.
    `--web.external-url=http://${address}/`,
    // Resend firing alerts every evaluation (default 1m), so Alertmanager's
    // endsAt stays close and a resolution is seen within seconds.
    "--rules.alert.resend-delay=1s",
    "--log.level=info",
  ], { "rules.yml": options.rules ?? "groups: []\n" });
  try {
    await waitForDiscovery(server.url, options.scrapeTargets, alertmanagers.length);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * Prometheus hands discovered scrape targets and Alertmanagers to its scrape
 * loops and notifier at most every 5 s, static ones included, and that delay
 * has no flag. Until then an alert has nowhere to go, so wait it out here.
 */
async function waitForDiscovery(url: string, scrapeTargets: PrometheusOptions["scrapeTargets"], alertmanagerCount: number): Promise<void> {
  const expected = new Set(scrapeTargets.flatMap((job) => job.targets.map((target) => `${job.job} ${target}`)));
  const get = async <T>(path: string): Promise<T> => ((await (await fetch(`${url}${path}`, { signal: AbortSignal.timeout(1_000) })).json()) as { data: T }).data;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let seen = "nothing";
  while (Date.now() < deadline) {
    const targets = await get<{ activeTargets: { labels: Record<string, string>; discoveredLabels: Record<string, string> }[] }>("/api/v1/targets?state=active");
    const alertmanagers = await get<{ activeAlertmanagers: unknown[] }>("/api/v1/alertmanagers");
    const active = new Set(targets.activeTargets.map((target) => `${target.labels.job} ${target.discoveredLabels.__address__}`));
    if (alertmanagers.activeAlertmanagers.length >= alertmanagerCount && [...expected].every((target) => active.has(target))) return;
    seen = `${active.size} of ${expected.size} scrape targets, ${alertmanagers.activeAlertmanagers.length} alertmanagers`;
    await Bun.sleep(100);
  }
  throw new Error(`prometheus at ${url} did not pick up its scrape targets and Alertmanager within ${READY_TIMEOUT_MS / 1000}s (saw ${seen})`);
}

/** Debian's blackbox_exporter on 127.0.0.1 and a free port, with these modules (blackbox.yml's `modules:`). */
export async function startBlackboxExporter(modules: Record<string, unknown>): Promise<TestServer> {
  return startServer("blackbox", BLACKBOX, { modules }, (_dir, configFile, address) => [`--config.file=${configFile}`, `--web.listen-address=${address}`]);
}

/** Runs an instant PromQL query and returns its result vector. */
export async function queryPrometheus(url: string, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== "success") throw new Error(`query ${expr} failed: ${body.error ?? response.status}`);
  return body.data?.result ?? [];
}

/** Polls Prometheus until `expr` answers with sample values that satisfy `until` (a target's last change has been scraped); 30 s at most. */
export async function waitForQuery(url: string, expr: string, until: (values: number[]) => boolean, pollMs = 200): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: number[] = [];
  while (Date.now() < deadline) {
    last = (await queryPrometheus(url, expr)).map((s) => Number(s.value[1]));
    if (until(last)) return;
    await Bun.sleep(pollMs);
  }
  throw new Error(`Prometheus never answered ${expr} as expected; last: ${JSON.stringify(last)}`);
}

async function startServer(
  name: string,
  binary: string,
  config: object,
  args: (dir: string, configFile: string, address: string) => string[],
  files: Record<string, string> = {},
): Promise<TestServer> {
  if (!(await Bun.file(binary).exists())) {
    // Each binary has its Debian package's name.
    throw new Error(`${binary} not found: run \`sh scripts/setup.sh\` (it installs Debian's ${basename(binary)} package)`);
  }
  const dir = await mkdtemp(join(tmpdir(), `opskit-${name}-`));
  try {
    const configFile = join(dir, `${name}.yml`);
    await writeFile(configFile, stringify(config));
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    // The free port is found by closing a listener, so another process can
    // take it before the server binds; try a fresh port if that happens.
    for (let attempt = 1; ; attempt++) {
      const address = `127.0.0.1:${await refusedPort()}`;
      const started = await spawnUntilReady(name, [binary, ...args(dir, configFile, address)], dir, `http://${address}`);
      if (started.ok) {
        const { child } = started;
        let stopping: Promise<void> | undefined;
        return {
          url: `http://${address}`,
          dir,
          stop: () => (stopping ??= terminate(child).then(() => rm(dir, { recursive: true, force: true }))),
        };
      }
      if (!started.addressInUse || attempt === 3) throw new Error(started.error);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

type Started = { ok: true; child: Subprocess } | { ok: false; error: string; addressInUse: boolean };

async function spawnUntilReady(name: string, argv: string[], cwd: string, url: string): Promise<Started> {
  const child = Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  // Keep draining stderr, so a chatty server never blocks on a full pipe, and
  // keep its tail for error messages.
  let tail = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) tail = (tail + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL_CHARS);
  })().catch(() => undefined);
  const describe = (what: string): string => `${name} ${what} (${argv.join(" ")})\n--- stderr tail ---\n${tail}`;

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await Bun.sleep(50); // let the last stderr lines arrive
      return { ok: false, error: describe(`exited with ${child.exitCode ?? child.signalCode} before it was ready`), addressInUse: tail.includes("address already in use") };
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return { ok: true, child };
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  await terminate(child);
  return { ok: false, error: describe(`was not ready within ${READY_TIMEOUT_MS / 1000}s at ${url}/-/ready`), addressInUse: false };
}

async function terminate(child: Subprocess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(STOP_GRACE_MS).then(() => false)]);
  if (!exited) {
    child.kill("SIGKILL");
    await child.exited;
  }
}

/** A scrape target the test controls: gauges whose values (and label sets) it sets as it goes. */
export interface MetricTarget {
  /** host:port, as a scrape config's target. */
  address: string;
  /** Sets a gauge's value for one label set (none by default); the next scrape sees it. */
  set(name: string, value: number, labels?: Record<string, string>): void;
  /** Removes a gauge's series for one label set. */
  remove(name: string, labels?: Record<string, string>): void;
  stop(): Promise<void>;
}

/** A label value as the text exposition format writes it: backslash, double quote and line feed escaped. */
function exposeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([label, value]) => `${label}="${exposeLabelValue(value)}"`)
    .join(",")}}`;

/** An HTTP server on 127.0.0.1 and a free port serving /metrics in Prometheus's text format. */
export function startMetricTarget(): MetricTarget {
  const series = new Map<string, { name: string; value: number }>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      if (new URL(request.url).pathname !== "/metrics") return new Response("not found", { status: 404 });
      const names = new Set([...series.values()].map((s) => s.name));
      let text = "";
      for (const name of names) {
        text += `# TYPE ${name} gauge\n`;
        for (const [key, entry] of series) if (entry.name === name) text += `${key} ${Number.isFinite(entry.value) ? entry.value : Number.isNaN(entry.value) ? "NaN" : entry.value > 0 ? "+Inf" : "-Inf"}\n`;
      }
      return new Response(text, { headers: { "content-type": "text/plain; version=0.0.4" } });
    },
  });
  return {
    address: `127.0.0.1:${server.port}`,
    set: (name, value, labels = {}) => void series.set(seriesKey(name, labels), { name, value }),
    remove: (name, labels = {}) => void series.delete(seriesKey(name, labels)),
    stop: async () => {
      await server.stop(true);
    },
  };
}
