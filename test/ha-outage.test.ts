import { afterAll, expect, test } from "bun:test";
import { isAccepted, missingMarkers, runStorm, statusCounts, waitUntil, type Sent } from "./harness/ha-storm.ts";
import { createTestDatabase, queryDatabase, startPrivatePostgres } from "./harness/postgres.ts";
import { HA_TOKEN_ENV, startReplicas, type ReplicaSet } from "./harness/replicas.ts";
import { writeConfig } from "./harness/serve.ts";

// PostgreSQL (a private server: the machine's is never stopped) goes away
// for 10 s in the middle of a storm over three replicas. While it is away the
// replicas answer 503 rather than acknowledge what they cannot commit, and
// /healthz says why; when it comes back they recover by themselves (no
// restart): 2xx again, the backlog processed, the incidents opened. Every
// notification answered 2xx, before, during or after, is in the journal.

const OUTAGE_MS = 10_000;
const FINGERPRINTS = 50;
/** A paced storm that spans the outage: at most this many requests. */
const MAX_ALERTS = 30_000;

const cleanup: (() => Promise<unknown>)[] = [];
let replicas: ReplicaSet | undefined;
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});
const outputs = () => replicas?.replicas.map((r) => r.output().slice(-6_000)).join("\n") ?? "";

async function healthz(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

test("PostgreSQL stopped for 10 s during a storm: 503s and an unhealthy /healthz meanwhile, no 2xx without a commit, full recovery after without restarts", async () => {
  const server = await startPrivatePostgres();
  cleanup.push(server.destroy);
  const db = await createTestDatabase(server);
  const dir = writeConfig(`
server:
  token: env:${HA_TOKEN_ENV}
workflows:
  note:
    targets: local
    steps:
      - exec: "true"
rules:
  - name: outage
    match: { alertname: HaOutage }
    run: note
    cooldown: 10m
    maxAttempts: 1
`);
  replicas = await startReplicas({ dir, journal: db.url, count: 3 });
  cleanup.push(replicas.stop);
  const pids = replicas.replicas.map((r) => r.process.child.pid);

  const phase = { name: "before" as "before" | "down" | "after" };
  const byPhase: Record<string, Sent[]> = { before: [], down: [], after: [] };
  let stop = false;
  const storm = runStorm({
    urls: replicas.replicas.map((r) => r.url),
    token: replicas.token,
    alerts: MAX_ALERTS,
    fingerprints: FINGERPRINTS,
    concurrency: 6,
    alertname: "HaOutage",
    markerPrefix: "outage",
    paceMs: 20,
    stop: () => stop,
    onAnswer: (sent) => byPhase[phase.name]!.push(sent),
  });
  cleanup.push(async () => (stop = true));

  await waitUntil("2xx answers before the outage", async () => byPhase.before!.filter(isAccepted).length >= 100, 30_000, outputs);
  phase.name = "down";
  const downAt = Date.now();
  await server.stop();

  // While it is down: every replica says why on /healthz, and refuses alerts with 503.
  const health = await waitUntil(
    "every replica's /healthz to report the database",
    async () => {
      const all = await Promise.all(replicas!.replicas.map((r) => healthz(r.url)));
      return all.every((h) => h.status === 503) && all;
    },
    OUTAGE_MS - 2_000,
    async () => `${JSON.stringify(await Promise.all(replicas!.replicas.map((r) => healthz(r.url).catch((e) => String(e)))))}\n${await outputs()}`,
  );
  for (const h of health) expect(JSON.stringify(h.body)).toMatch(/postgres|database|journal/i);
  await waitUntil("503 answers from every replica while the database is down", async () => replicas!.replicas.every((r) => byPhase.down!.some((s) => s.url === r.url && s.status === 503)), OUTAGE_MS - 2_000, () => JSON.stringify(statusCounts(byPhase.down!)));
  await Bun.sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
  await server.start();
  const upAt = Date.now();
  phase.name = "after";

  // They recover by themselves: healthy again, 2xx again.
  await waitUntil("every replica's /healthz to be ok again", async () => (await Promise.all(replicas!.replicas.map((r) => healthz(r.url)))).every((h) => h.status === 200), 60_000, outputs);
  await waitUntil("2xx answers from every replica after the outage", async () => replicas!.replicas.every((r) => byPhase.after!.some((s) => s.url === r.url && isAccepted(s))), 60_000, () => JSON.stringify(statusCounts(byPhase.after!)));
  await Bun.sleep(2_000);
  stop = true;
  const sent = await storm;
  const recoveredMs = Date.now() - upAt;

  // The backlog is processed and the incidents are opened, one per fingerprint.
  await waitUntil(
    "the backlog to be processed and every incident opened",
    async () => {
      const [row] = await queryDatabase<{ pending: number; incidents: number }>(
        db.url,
        "SELECT (SELECT count(*)::int FROM notifications WHERE NOT processed) AS pending, (SELECT count(*)::int FROM incidents WHERE alertname = 'HaOutage') AS incidents",
      );
      return row!.pending === 0 && row!.incidents === FINGERPRINTS;
    },
    60_000,
    async () => `${JSON.stringify(await queryDatabase(db.url, "SELECT (SELECT count(*)::int FROM notifications WHERE NOT processed) AS pending, (SELECT count(*)::int FROM incidents WHERE alertname = 'HaOutage') AS incidents"))}\n${outputs()}`,
    250,
  );

  // No 2xx without a commit: every marker answered 2xx, in any phase, is in the journal.
  const { missing, duplicated } = await missingMarkers(db.url, "outage", sent);
  expect(missing).toEqual([]);
  expect(duplicated).toEqual([]);
  // Refusals were 503s (Alertmanager retries those), never another error or a dropped connection.
  const refusedStatuses = [...new Set(sent.filter((s) => !isAccepted(s)).map((s) => s.status))];
  expect(refusedStatuses).toEqual([503]);
  expect(byPhase.down!.filter((s) => s.status === 503).length).toBeGreaterThan(0);
  // While the database was up, nothing was refused.
  expect(statusCounts(byPhase.before!)).toEqual({ 200: byPhase.before!.length });
  // The same processes throughout: nobody restarted them.
  expect(replicas.replicas.map((r) => r.process.child.pid)).toEqual(pids);
  expect(replicas.replicas.every((r) => r.alive())).toBe(true);
  const incidents = await queryDatabase<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM incidents WHERE alertname = 'HaOutage' AND status = 'open'");
  expect(incidents[0]!.n).toBe(FINGERPRINTS);
  console.log(
    `before ${JSON.stringify(statusCounts(byPhase.before!))}, down ${JSON.stringify(statusCounts(byPhase.down!))}, after ${JSON.stringify(statusCounts(byPhase.after!))}; 2xx again on every replica within ${(recoveredMs / 1000).toFixed(1)} s of the restart`,
  );
}, 240_000);
