// The alert storm's load generator, in a process of its own so that its CPU
// is counted apart from the server's; the same code drives opskit and
// Alertmanager.
//   bun bench/storm-load.ts URL KIND ALERTS CONCURRENCY WARMUP
// KIND is `webhook` (an Alertmanager version 4 webhook notification per
// request, as Alertmanager sends to opskit) or `v2` (Alertmanager's own
// POST /api/v2/alerts, as Prometheus sends to it). Every request carries one
// alert: StormAlert with instance = i % 100, so 100 fingerprints. CONCURRENCY
// workers each keep one request in flight on keep-alive connections.
// First WARMUP requests of StormWarmup alerts (instance = i % 10, a name no
// rule matches), then one line {"phase":"warmed",...}; then it waits for a
// line on standard input before the measured ALERTS requests, and prints one
// line with every request's status and latency. Exits if standard input
// closes first, so a dying runner never leaves it behind. URL may list several
// servers, comma-separated: request i goes to the (i mod n)th (replicas
// sharing the load).

export const STORM_FINGERPRINTS = 100;
export const WARMUP_FINGERPRINTS = 10;
const REQUEST_TIMEOUT_MS = 30_000;

export type BodyKind = "webhook" | "v2";

/** What one pass of requests measured. */
export interface LoadReport {
  requests: number;
  concurrency: number;
  /** From the first request sent to the last response. */
  wallSeconds: number;
  /** Responses by HTTP status. */
  statuses: Record<string, number>;
  /** Requests that got no response (connection refused or reset, timeout). */
  failures: number;
  firstFailure?: string;
  /** First non-2xx response: status and body. */
  firstRejection?: string;
  /** Per request, in ms; NaN where it got no response. */
  latenciesMs: number[];
  /** webhook only: the `notification` id of each 2xx answer. */
  notificationIds: number[];
  /** user+sys of this process during the pass, in seconds. */
  cpuSeconds: number;
}

/** Prometheus' label-set fingerprint: FNV-1a 64 over the sorted names and values, 0xff between each. */
function fingerprint(labels: Record<string, string>): string {
  let hash = 0xcbf29ce484222325n;
  const bytes = new TextEncoder();
  for (const name of Object.keys(labels).sort()) {
    for (const part of [name, labels[name]!]) {
      for (const byte of [...bytes.encode(part), 0xff]) {
        hash ^= BigInt(byte);
        hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
      }
    }
  }
  return hash.toString(16).padStart(16, "0");
}

/** The request bodies, built before any is sent: the generator's JSON work stays out of the timing. */
function buildBodies(kind: BodyKind, alertname: string, count: number, fingerprints: number, startsAt: string, endsAt: string): string[] {
  const distinct = Array.from({ length: Math.min(count, fingerprints) }, (_, i) => {
    const labels = { alertname, instance: String(i), job: "storm", severity: "warning" };
    const alert = {
      labels,
      annotations: { summary: `${alertname} on instance ${i}`, description: "one of a storm of alerts" },
      startsAt,
      generatorURL: `http://127.0.0.1:9090/graph?g0.expr=up%7Binstance%3D%22${i}%22%7D`,
    };
    if (kind === "v2") return JSON.stringify([{ ...alert, endsAt }]);
    return JSON.stringify({
      version: "4",
      groupKey: `{}:{alertname="${alertname}", instance="${i}"}`,
      truncatedAlerts: 0,
      status: "firing",
      receiver: "opskit",
      groupLabels: { alertname, instance: String(i) },
      commonLabels: labels,
      commonAnnotations: alert.annotations,
      externalURL: "http://127.0.0.1:9093",
      // A firing alert in a webhook has Go's zero time as endsAt.
      alerts: [{ status: "firing", ...alert, endsAt: "0001-01-01T00:00:00Z", fingerprint: fingerprint(labels) }],
    });
  });
  return Array.from({ length: count }, (_, i) => distinct[i % distinct.length]!);
}

/** Sends every body with `concurrency` workers, one request in flight each. */
async function drive(urls: string[], kind: BodyKind, bodies: string[], concurrency: number): Promise<LoadReport> {
  const latenciesMs = new Array<number>(bodies.length).fill(Number.NaN);
  const statuses: Record<string, number> = {};
  const notificationIds: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let firstRejection: string | undefined;
  let next = 0;
  // The server's token, when the storm targets one that requires it (opskit serve always does).
  const token = process.env.OPSKIT_STORM_TOKEN;
  const headers = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const worker = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const sent = performance.now();
      try {
        const response = await fetch(urls[i % urls.length]!, { method: "POST", headers, body: bodies[i], signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        const text = await response.text();
        latenciesMs[i] = performance.now() - sent;
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (!response.ok) firstRejection ??= `${response.status} ${text.slice(0, 300)}`;
        else if (kind === "webhook") notificationIds.push((JSON.parse(text) as { notification: number }).notification);
      } catch (error) {
        failures++;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    requests: bodies.length,
    concurrency,
    wallSeconds,
    statuses,
    failures,
    ...(firstFailure ? { firstFailure } : {}),
    ...(firstRejection ? { firstRejection } : {}),
    latenciesMs,
    notificationIds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/** Resolves once a line arrives on standard input; exits when it closes first. */
async function awaitGo(): Promise<void> {
  let text = "";
  for await (const chunk of Bun.stdin.stream()) {
    text += new TextDecoder().decode(chunk);
    if (text.includes("\n")) return;
  }
  process.exit(0);
}

if (import.meta.main) {
  const [url, kind, alertsArg, concurrencyArg, warmupArg] = process.argv.slice(2);
  const [alerts, concurrency, warmup] = [Number(alertsArg), Number(concurrencyArg), Number(warmupArg)];
  if (!url || (kind !== "webhook" && kind !== "v2") || !(alerts > 0) || !(concurrency > 0) || !(warmup >= 0)) {
    console.error("usage: bun bench/storm-load.ts URL webhook|v2 ALERTS CONCURRENCY WARMUP");
    process.exit(64);
  }
  // One episode per fingerprint: every repeat carries the same startsAt. endsAt
  // (v2 only) lies well past the run, so nothing resolves during it.
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const endsAt = new Date(Date.now() + 3_600_000).toISOString();
  const warmupBodies = buildBodies(kind, "StormWarmup", warmup, WARMUP_FINGERPRINTS, startsAt, endsAt);
  const stormBodies = buildBodies(kind, "StormAlert", alerts, STORM_FINGERPRINTS, startsAt, endsAt);
  const urls = url.split(",");
  const warm = warmup > 0 ? await drive(urls, kind, warmupBodies, concurrency) : undefined;
  const { latenciesMs: _, ...warmSummary } = warm ?? { latenciesMs: [] };
  console.log(JSON.stringify({ phase: "warmed", ...warmSummary }));
  await awaitGo();
  const report = await drive(urls, kind, stormBodies, concurrency);
  // JSON has no NaN: a request without a response is null.
  console.log(JSON.stringify({ phase: "done", ...report, latenciesMs: report.latenciesMs.map((ms) => (Number.isNaN(ms) ? null : Math.round(ms * 1000) / 1000)) }));
  process.exit(0);
}
