// The servers the alert storm hits, each started fresh for every storm:
// `opskit serve` with a new journal and the storm's rule (with the default
// journal commits or with `server.fsync: true`), and Alertmanager
// (test/harness/prometheus.ts) routing to a blackhole webhook receiver. Also
// what the storm leaves behind: the journal's counts, read after the server
// has stopped.
import { randomBytes } from "node:crypto";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAlertmanager } from "../test/harness/prometheus.ts";
import { collectOutput, waitForServeUrl } from "../test/harness/serve.ts";
import { cpuSecondsOf, disposerOf, opskitBin, peakRssBytesOf, processTable, root, track } from "./process.ts";

const READY_TIMEOUT_MS = 30_000;
/** opskit's default drainTimeout is 30 s; the storm's runs are `true`, so a healthy drain takes milliseconds. */
const STOP_TIMEOUT_MS = 40_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** One storm's server, whichever side. */
export interface StormTarget {
  readonly pid: number;
  /** Where the load generator posts. */
  readonly alertsUrl: string;
  cpuSeconds(): number;
  peakRssBytes(): number;
}

/**
 * The storm's config: every StormAlert runs `fix` (one `true` on this machine)
 * at most once per incident and once per 10 minutes per fingerprint, at most
 * four at a time. `fsync` sets `server.fsync: true` (synchronous=FULL: every
 * commit flushed to disk before the 2xx); without it the key is left out, so
 * the default is what is measured.
 */
export const stormConfig = (fsync: boolean) => `server:
  token: env:OPSKIT_STORM_TOKEN
  maxConcurrentRemediations: 4${fsync ? "\n  fsync: true" : ""}
workflows:
  fix:
    targets: local
    steps:
      - exec: "true"
rules:
  - name: storm
    match: { alertname: StormAlert }
    run: fix
    cooldown: 10m
    maxAttempts: 1
`;

export interface OpskitServe extends StormTarget {
  readonly url: string;
  /** The API token the server was started with: the load sends it as every client must. */
  readonly token: string;
  readonly journal: string;
  output(): string;
  /** SIGTERM, then the exit code (SIGKILL after 40 s: the exit is then reported as null). */
  stop(): Promise<number | null>;
  /** Kills it if still running and removes its config and journal. */
  dispose(): Promise<void>;
}

/** Where the journals go, and the file system under it: on a tmpfs an fsync costs nothing. */
export function journalFilesystem(): { dir: string; type: string } {
  try {
    const found = Bun.spawnSync(["findmnt", "-n", "-o", "FSTYPE", "-T", tmpdir()], { stdout: "pipe", stderr: "pipe" });
    return { dir: tmpdir(), type: (found.success && found.stdout.toString().trim()) || "unknown" };
  } catch {
    return { dir: tmpdir(), type: "unknown (no findmnt)" };
  }
}

export async function startOpskitServe(options: { fsync: boolean }): Promise<OpskitServe> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-storm-"));
  writeFileSync(join(dir, "opskit.yaml"), stormConfig(options.fsync));
  const journal = join(dir, "journal.db");
  const token = randomBytes(32).toString("base64url");
  const child = track(
    Bun.spawn([opskitBin, "serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", journal], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", OPSKIT_STORM_TOKEN: token },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const { text, drained: pumped } = collectOutput(child);
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const ended = await Promise.race([child.exited.then(() => true), Bun.sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!ended) child.kill("SIGKILL");
    await child.exited;
    await pumped;
    return ended ? child.exitCode : null;
  };
  const dispose = disposerOf(child, dir);
  const url = await waitForServeUrl(child, text, READY_TIMEOUT_MS);
  if (!url) {
    await dispose();
    throw new Error(`opskit serve did not start (exit ${child.exitCode}):\n${text().slice(-3000)}`);
  }
  return {
    pid: child.pid,
    url,
    token,
    alertsUrl: `${url}/api/v1/alerts/alertmanager`,
    journal,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    peakRssBytes: () => peakRssBytesOf(child.pid),
    output: text,
    stop,
    dispose,
  };
}

export async function getJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${(await response.text()).slice(0, 300)}`);
  return (await response.json()) as T;
}

interface IncidentView {
  notifications: number;
}

/** Every incident, page after page (the API answers at most 500 a page). */
async function allIncidents(server: Pick<OpskitServe, "url" | "token">): Promise<{ incidents: IncidentView[]; total: number }> {
  const incidents: IncidentView[] = [];
  let cursor: string | undefined;
  let total = 0;
  do {
    const page = await getJson<{ incidents: IncidentView[]; total: number; nextCursor?: string }>(`${server.url}/api/v1/incidents?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, server.token);
    incidents.push(...page.incidents);
    total = page.total;
    cursor = page.nextCursor;
  } while (cursor);
  return { incidents, total };
}

export interface Settled {
  /** Whether it settled within the bound. */
  settled: boolean;
  /** From the call until the incidents had seen every accepted alert. */
  appliedSeconds: number;
  incidents: number;
  alertsApplied: number;
  runs: number;
}

/**
 * Waits (at most `boundMs`) until opskit has applied every accepted alert to
 * an incident and its runs have stopped changing: the incident total, the
 * notifications the incidents count and the runs (none running) all hold for
 * a second.
 */
export async function settleOpskit(server: Pick<OpskitServe, "url" | "token">, alerts: number, boundMs: number): Promise<Settled> {
  const started = performance.now();
  let last = "";
  let stableSince = started;
  let appliedAt: number | undefined;
  let state = { incidents: 0, alertsApplied: 0, runs: 0 };
  while (performance.now() - started < boundMs) {
    const [listed, runs, running] = await Promise.all([
      allIncidents(server),
      getJson<{ total: number }>(`${server.url}/api/v1/runs?limit=1`, server.token),
      getJson<{ total: number }>(`${server.url}/api/v1/runs?status=running&limit=1`, server.token),
    ]);
    const now = performance.now();
    state = { incidents: listed.total, alertsApplied: listed.incidents.reduce((sum, i) => sum + i.notifications, 0), runs: runs.total };
    if (state.alertsApplied >= alerts) appliedAt ??= now;
    const key = `${state.incidents} ${state.alertsApplied} ${state.runs} ${running.total}`;
    if (key !== last) [last, stableSince] = [key, now];
    else if (appliedAt !== undefined && running.total === 0 && now - stableSince >= 1000) {
      return { settled: true, appliedSeconds: (appliedAt - started) / 1000, ...state };
    }
    await Bun.sleep(100);
  }
  return { settled: false, appliedSeconds: Number.NaN, ...state };
}

/** Notifications committed so far, read by another connection while the server runs. */
export function committedNotifications(journal: string): number {
  const db = new Database(journal, { readonly: true });
  try {
    return db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM notifications").get()!.n;
  } finally {
    db.close();
  }
}

export interface JournalCounts {
  notifications: number;
  unprocessed: number;
  /** Notification ids in the journal that no 2xx answer named, and the reverse. */
  unanswered: number;
  missing: number;
  /** Incidents by alertname and status, e.g. "StormAlert open" → 100. */
  incidents: Record<string, number>;
  /** Remediation attempts by status. */
  attempts: Record<string, number>;
  /** Runs by status. */
  runs: Record<string, number>;
  /** What the failed attempts say, each distinct detail once (a `true` that fails is the server's doing). */
  failures: string[];
  /** Incidents marked escalated. */
  escalated: number;
  /** Lines on all incidents' timelines (incident_events rows). */
  timelineLines: number;
}

/** What the journal holds after the server stopped, against the ids its 2xx answers named. */
export function readJournal(journal: string, answeredIds: number[]): JournalCounts {
  const db = new Database(journal, { readonly: true });
  try {
    const grouped = (sql: string) => Object.fromEntries(db.query<{ k: string; n: number }, []>(sql).all().map(({ k, n }) => [k, n]));
    const ids = new Set(db.query<{ id: number }, []>("SELECT id FROM notifications").all().map((row) => row.id));
    const answered = new Set(answeredIds);
    return {
      notifications: ids.size,
      unprocessed: db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM notifications WHERE processed = 0").get()!.n,
      unanswered: [...ids].filter((id) => !answered.has(id)).length,
      missing: [...answered].filter((id) => !ids.has(id)).length + (answeredIds.length - answered.size),
      incidents: grouped("SELECT alertname || ' ' || status AS k, COUNT(*) AS n FROM incidents GROUP BY 1 ORDER BY 1"),
      attempts: grouped("SELECT status AS k, COUNT(*) AS n FROM remediation_attempts GROUP BY 1 ORDER BY 1"),
      runs: grouped("SELECT status AS k, COUNT(*) AS n FROM runs GROUP BY 1 ORDER BY 1"),
      failures: db.query<{ detail: string }, []>("SELECT DISTINCT detail FROM remediation_attempts WHERE status = 'failed' LIMIT 3").all().map((row) => row.detail),
      escalated: db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM incidents WHERE escalated = 1").get()!.n,
      timelineLines: db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM incident_events").get()!.n,
    };
  } finally {
    db.close();
  }
}

/** A webhook receiver that answers 200 to everything and counts what it got. */
export interface Blackhole {
  readonly url: string;
  readonly notifications: number;
  stop(): void;
}

export function startBlackhole(): Blackhole {
  let notifications = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      await request.arrayBuffer();
      notifications++;
      return new Response("");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/`,
    get notifications() {
      return notifications;
    },
    stop: () => void server.stop(true),
  };
}

export interface Alertmanager extends StormTarget {
  readonly url: string;
  /** Alerts it holds with this alertname. */
  alertCount(alertname: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Alertmanager with its default grouping timings (group_wait 30s,
 * group_interval 5m), so within a storm of seconds it sends nothing, and
 * with alertname as the only grouping label.
 */
export async function startStormAlertmanager(blackhole: Blackhole): Promise<Alertmanager> {
  const server = await startAlertmanager({ webhookUrl: blackhole.url, groupWaitSec: 30, groupIntervalSec: 300, repeatIntervalSec: 4 * 3600, resolveTimeoutSec: 300 });
  const pid = [...processTable()].find(([, p]) => p.cmdline.includes(`--config.file=${server.dir}/alertmanager.yml`))?.[0];
  if (pid === undefined) {
    await server.stop();
    throw new Error(`alertmanager started at ${server.url}, but its process was not found`);
  }
  // The harness's child is not one of the runner's tracked children: kill it (and remove its dir) if the runner exits first.
  const killOnExit = () => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    rmSync(server.dir, { recursive: true, force: true });
  };
  process.on("exit", killOnExit);
  return {
    pid,
    url: server.url,
    alertsUrl: `${server.url}/api/v2/alerts`,
    cpuSeconds: () => cpuSecondsOf(pid),
    peakRssBytes: () => peakRssBytesOf(pid),
    alertCount: async (alertname) => (await getJson<unknown[]>(`${server.url}/api/v2/alerts?filter=${encodeURIComponent(`alertname="${alertname}"`)}`)).length,
    async stop() {
      await server.stop();
      process.off("exit", killOnExit);
    },
  };
}
