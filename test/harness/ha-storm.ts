// What the high-availability tests send and read back: a storm of
// Alertmanager webhook notifications spread round-robin over replicas, each
// carrying a marker of its own, and the journal read directly in PostgreSQL
// (markers committed, side effects written by the runbooks).
import { existsSync, readFileSync } from "node:fs";
import { alertmanagerNotification } from "./serve.ts";
import { queryDatabase } from "./postgres.ts";

export const ALERTMANAGER_PATH = "/api/v1/alerts/alertmanager";
const REQUEST_TIMEOUT_MS = 10_000;

/** One request of a storm and what became of it. */
export interface Sent {
  marker: string;
  /** The replica's base URL it went to. */
  url: string;
  instance: number;
  /** HTTP status, or 0 when no response came (refused, reset, timed out). */
  status: number;
  /** The response body's first characters (non-2xx) or the error. */
  detail?: string;
  sentAt: number;
  answeredAt: number;
}

export interface StormOptions {
  /** Replica base URLs; request i goes to urls[i % urls.length]. */
  urls: string[];
  token: string;
  /** At most this many requests. */
  alerts: number;
  /** Distinct alerts (instance label 0..fingerprints-1), each with one startsAt: one incident each. */
  fingerprints: number;
  concurrency: number;
  alertname: string;
  /** Unique within the database, e.g. the test's name: markers are `${prefix}-${i}`. */
  markerPrefix: string;
  /** A pause after each request of a worker: paces the storm so it spans an outage. */
  paceMs?: number;
  /** Stops sending once true (checked before each request). */
  stop?: () => boolean;
  /** Called with every answer as it comes. */
  onAnswer?: (sent: Sent) => void;
}

/** The request body for request i: one firing alert, its marker among the annotations. */
export function stormBody(alertname: string, instance: number, startsAt: string, marker: string): string {
  return JSON.stringify(
    alertmanagerNotification([{ labels: { alertname, instance: String(instance), job: "ha-storm", severity: "warning" }, annotations: { summary: `${alertname} on ${instance}`, marker }, startsAt }]),
  );
}

/** Sends the storm with `concurrency` workers, one request in flight each; resolves with every request's outcome. */
export async function runStorm(options: StormOptions): Promise<Sent[]> {
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const sent: Sent[] = [];
  const headers = { "content-type": "application/json", authorization: `Bearer ${options.token}` };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < options.alerts && !options.stop?.(); i = next++) {
      const instance = i % options.fingerprints;
      const marker = `${options.markerPrefix}-${i}`;
      const url = options.urls[i % options.urls.length]!;
      const sentAt = Date.now();
      let outcome: Sent;
      try {
        const response = await fetch(`${url}${ALERTMANAGER_PATH}`, { method: "POST", headers, body: stormBody(options.alertname, instance, startsAt, marker), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        const text = await response.text();
        outcome = { marker, url, instance, status: response.status, sentAt, answeredAt: Date.now(), ...(response.ok ? {} : { detail: text.slice(0, 300) }) };
      } catch (error) {
        outcome = { marker, url, instance, status: 0, sentAt, answeredAt: Date.now(), detail: error instanceof Error ? error.message : String(error) };
      }
      sent.push(outcome);
      options.onAnswer?.(outcome);
      if (options.paceMs) await Bun.sleep(options.paceMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return sent;
}

/** How many requests got each status (0: no response). */
export function statusCounts(sent: Sent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of sent) counts[s.status] = (counts[s.status] ?? 0) + 1;
  return counts;
}

export const isAccepted = (s: Sent) => s.status >= 200 && s.status < 300;

/** Each marker in the journal's notifications and how many notifications carry it. */
export async function journalMarkers(databaseUrl: string, prefix: string): Promise<Map<string, number>> {
  const rows = await queryDatabase<{ marker: string; n: number }>(
    databaseUrl,
    `SELECT substring(body from '"marker":"([^"]+)"') AS marker, count(*)::int AS n FROM notifications WHERE position($1 in body) > 0 GROUP BY 1`,
    [`"marker":"${prefix}-`],
  );
  return new Map(rows.map((row) => [row.marker, row.n]));
}

/** 2xx answers whose marker is not in the journal (should be none), and markers the journal holds twice. */
export async function missingMarkers(databaseUrl: string, prefix: string, sent: Sent[]): Promise<{ missing: Sent[]; duplicated: string[]; journaled: Map<string, number> }> {
  const journaled = await journalMarkers(databaseUrl, prefix);
  return {
    missing: sent.filter((s) => isAccepted(s) && !journaled.has(s.marker)),
    duplicated: [...journaled].filter(([, n]) => n > 1).map(([marker]) => marker),
    journaled,
  };
}

/** The lines a runbook appended to a side-effect file, split on spaces. */
export function readEffects(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => line.trim().split(/\s+/));
}

export interface AttemptRow {
  incident_id: number;
  attempt: number;
  status: string;
  owner: string | null;
  started_at: number | null;
  finished_at: number | null;
  detail: string | null;
}

/** Every remediation attempt, by incident and number. */
export async function attemptRows(databaseUrl: string): Promise<AttemptRow[]> {
  return queryDatabase<AttemptRow>(
    databaseUrl,
    "SELECT incident_id::int AS incident_id, attempt, status, owner, started_at::float8 AS started_at, finished_at::float8 AS finished_at, detail FROM remediation_attempts ORDER BY incident_id, attempt",
  );
}

/** The replica rows: id (per process start), name, pid. */
export async function replicaRows(databaseUrl: string): Promise<{ id: string; name: string; pid: number; seen_at: number }[]> {
  return queryDatabase(databaseUrl, "SELECT id, name, pid, seen_at::float8 AS seen_at FROM replicas ORDER BY started_at");
}

/** Polls `probe` every intervalMs until it returns a value (not undefined/false), or throws after timeoutMs with `describe()`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, describe: () => string | Promise<string> = () => "", intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${await describe()}`);
    await Bun.sleep(intervalMs);
  }
}
