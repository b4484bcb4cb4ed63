// The incident history the MTTR benchmark imports: a pager's CSV export of a
// year, made from a fixed seed so that every run measures the same rows
// (their times move with the hour the file is made for, so the last 30 days
// are always the last 30 days). Also runs on its own:
//   bun bench/mttr-data.ts FILE [ROWS] [SEED]
// What it models, each from the seed:
// - starts over the 365 days before the anchor hour, more on weekdays and in
//   working hours (UTC), volume growing 30% over the year, and a few bad days
//   with two to four times the usual count;
// - 200 services with a Zipf-like share (1/k^1.1: the first about 21% of all, 13x the tenth, about
//   0.06% the last), each a few alert names, 2% of titles with a comma or quotes (quoted in the CSV);
// - severities critical 6%, high 19%, warning 50%, low 25%;
// - a share remediated automatically that grows from 5% to 45% over the year:
//   the importer maps no remediation_started column, so their remediation's
//   start is the acknowledged time (seconds after detection), and they
//   resolve in minutes unless the remediation fails (15%: escalated, resolved
//   like a manual incident);
// - log-normal phases: detect (median 45 s), acknowledge (median 4 min,
//   faster for critical), resolve after acknowledgement (median 50 min times
//   the service's own factor, 0.5-2; 2% of manual ones 5-50x longer), capped
//   at 21 days;
// - open incidents: those whose resolution would fall after the anchor, and
//   0.8% of the rest left open for good; 2% without detected, 3% of manual
//   ones without acknowledged;
// - RFC 3339 UTC timestamps to the second; rows in order of start.

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const DAYS = 365;
const MAX_RESOLVE_MS = 21 * DAY_MS;

const NAMED_SERVICES = [
  "checkout", "payments", "api-gateway", "search", "auth", "cart", "catalog", "orders", "inventory", "shipping",
  "notifications", "recommendations", "user-profile", "billing", "pricing", "reviews", "media", "cdn-edge", "ledger", "fraud",
  "loyalty", "email", "sms", "webhooks", "reporting", "etl", "kafka", "postgres-main", "redis-cache", "elasticsearch",
  "k8s-ingress", "dns", "vault", "ci-runners", "feature-flags", "geo", "tax", "returns", "support-portal", "admin",
];
/** 200 services: the 40 named ones, then each of them again as its worker, api, db and cache. */
export const SERVICES: readonly string[] = [
  ...NAMED_SERVICES,
  ...["worker", "api", "db", "cache"].flatMap((part) => NAMED_SERVICES.map((name) => `${name}-${part}`)),
];
const SEVERITIES = [["critical", 0.06], ["high", 0.19], ["warning", 0.5], ["low", 0.25]] as const;
const ALERTS = [
  "HighErrorRate", "HighLatency", "EndpointDown", "PodCrashLooping", "DiskFull", "CertificateExpiring", "QueueBacklog",
  "ReplicationLag", "MemoryPressure", "SLOBurnRate", "DeploymentFailed", "ConnectionPoolExhausted",
];

export interface Dataset {
  file: string;
  rows: number;
  seed: number;
  /** The hour the year ends at (epoch ms): starts are in [anchor - 365 d, anchor). */
  anchorMs: number;
  bytes: number;
  open: number;
  automated: number;
  withoutDetected: number;
  withoutAcknowledged: number;
  escalated: number;
  /** Rows per service, most first. */
  topServices: [string, number][];
}

/** sfc32: small, fast and good enough for benchmark data; seeded, so every run makes the same rows. */
function random(seed: number): () => number {
  let [a, b, c, d] = [0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0];
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const out = (t + d) | 0;
    c = (c + out) | 0;
    return (out >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

/** Picks an index by weight, by binary search over the running sums. */
function picker(weights: readonly number[], rand: () => number): () => number {
  const sums = new Float64Array(weights.length);
  let total = 0;
  weights.forEach((w, i) => (sums[i] = total += w));
  return () => {
    const x = rand() * total;
    let [lo, hi] = [0, sums.length - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sums[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/** A log-normal duration: the median, and sigma of its logarithm. */
function logNormal(rand: () => number, median: number, sigma: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return median * Math.exp(sigma * z);
}

const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/** How many incidents an hour of the year gets, relative to the others. */
function hourWeight(at: number, fraction: number, badDay: number): number {
  const date = new Date(at);
  const weekday = date.getUTCDay();
  const hour = date.getUTCHours();
  const weekend = weekday === 0 || weekday === 6;
  // Deploys and traffic: a working-hours hump over a night floor.
  const daily = 0.35 + Math.exp(-(((hour - 14) / 4.5) ** 2)) * (weekend ? 0.45 : 1.1);
  return daily * (weekend ? 0.6 : 1) * (0.85 + 0.3 * fraction) * badDay;
}

export async function generateIncidentsCsv(file: string, rows = 1_000_000, seed = 20261125, anchorMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS): Promise<Dataset> {
  const rand = random(seed);
  const from = anchorMs - DAYS * DAY_MS;

  // Start times: an hour of the year by weight, then a second in it.
  const badDays = Array.from({ length: DAYS }, () => (rand() < 0.03 ? 2 + 2 * rand() : 1));
  const hours = Array.from({ length: DAYS * 24 }, (_, h) => hourWeight(from + h * HOUR_MS, h / (DAYS * 24), badDays[Math.floor(h / 24)]!));
  const pickHour = picker(hours, rand);
  const starts = new Float64Array(rows);
  for (let i = 0; i < rows; i++) starts[i] = from + pickHour() * HOUR_MS + Math.floor(rand() * 3600) * 1000;
  starts.sort();

  const pickService = picker(SERVICES.map((_, k) => 1 / (k + 1) ** 1.1), rand);
  const pickSeverity = picker(SEVERITIES.map(([, w]) => w), rand);
  const serviceFactor = SERVICES.map(() => 0.5 * 4 ** rand());
  // Each service raises a few of the alerts, some far more than others.
  const serviceAlerts = SERVICES.map(() => Array.from({ length: 4 }, () => ALERTS[Math.floor(rand() * ALERTS.length)]!));
  const pickAlert = picker([8, 4, 2, 1], rand);
  const ackFactor: Record<string, number> = { critical: 0.5, high: 0.8, warning: 1.2, low: 2 };

  const counts = { open: 0, automated: 0, withoutDetected: 0, withoutAcknowledged: 0, escalated: 0 };
  const perService = new Map<string, number>();
  const writer = Bun.file(file).writer();
  const header = "id,title,service,severity,started,detected,acknowledged,resolved,escalated\n";
  writer.write(header);
  let bytes = header.length;
  let chunk: string[] = [];
  const flush = () => {
    const text = chunk.join("");
    bytes += Buffer.byteLength(text);
    writer.write(text);
    chunk = [];
  };

  for (let i = 0; i < rows; i++) {
    const started = starts[i]!;
    const s = pickService();
    const service = SERVICES[s]!;
    const severity = SEVERITIES[pickSeverity()]![0];
    const alert = serviceAlerts[s]![pickAlert()]!;
    const odd = rand() < 0.02;
    const title = odd ? `"${alert} on ${service}, pod ""${service}-${Math.floor(rand() * 8)}"""` : `${alert} on ${service}`;
    const fraction = (started - from) / (DAYS * DAY_MS);
    const automated = rand() < (0.05 + 0.4 * fraction) * (severity === "critical" ? 0.5 : 1);

    const detected = started + Math.max(1, Math.round(logNormal(rand, 45, 1.1))) * 1000;
    let acknowledged: number;
    let resolved: number;
    let escalated = false;
    if (automated) {
      acknowledged = detected + Math.max(1, Math.round(logNormal(rand, 15, 0.6))) * 1000;
      if (rand() < 0.15) {
        escalated = true;
        resolved = acknowledged + logNormal(rand, 50 * 60_000 * serviceFactor[s]!, 1.5);
      } else {
        resolved = acknowledged + logNormal(rand, 3 * 60_000, 0.9);
      }
    } else {
      acknowledged = detected + Math.max(1, Math.round(logNormal(rand, 240 * ackFactor[severity]!, 1.0))) * 1000;
      const tail = rand() < 0.02 ? 5 + 45 * rand() : 1;
      resolved = acknowledged + logNormal(rand, 50 * 60_000 * serviceFactor[s]!, 1.5) * tail;
      escalated = rand() < (resolved - started > 4 * HOUR_MS ? 0.3 : 0.05);
    }
    resolved = Math.round(Math.min(resolved, started + MAX_RESOLVE_MS) / 1000) * 1000;

    const noDetected = rand() < 0.02;
    const noAcknowledged = !automated && rand() < 0.03;
    const open = resolved >= anchorMs || rand() < 0.008;
    // Nothing after the anchor has happened yet.
    const detectedText = noDetected || detected >= anchorMs ? "" : iso(detected);
    const ackText = noAcknowledged || acknowledged >= anchorMs ? "" : iso(acknowledged);
    if (automated) counts.automated++;
    if (detectedText === "") counts.withoutDetected++;
    if (ackText === "") counts.withoutAcknowledged++;
    if (open) counts.open++;
    if (escalated) counts.escalated++;
    perService.set(service, (perService.get(service) ?? 0) + 1);

    chunk.push(`INC-${String(i + 1).padStart(7, "0")},${title},${service},${severity},${iso(started)},${detectedText},${ackText},${open ? "" : iso(resolved)},${escalated}\n`);
    if (chunk.length === 20_000) flush();
  }
  flush();
  await writer.end();
  const topServices = [...perService.entries()].sort((a, b) => b[1] - a[1]);
  return { file, rows, seed, anchorMs, bytes, ...counts, topServices };
}

if (import.meta.main) {
  const [file, rows, seed] = process.argv.slice(2);
  if (!file) {
    console.error("usage: bun bench/mttr-data.ts FILE [ROWS] [SEED]");
    process.exit(64);
  }
  const started = performance.now();
  const data = await generateIncidentsCsv(file, rows ? Number(rows) : undefined, seed ? Number(seed) : undefined);
  console.log(JSON.stringify({ ...data, seconds: (performance.now() - started) / 1000 }));
}
