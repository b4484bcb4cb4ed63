import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { attemptRows, isAccepted, missingMarkers, readEffects, replicaRows, runStorm, statusCounts, waitUntil, type AttemptRow, type Sent } from "./harness/ha-storm.ts";
import { createTestDatabase, queryDatabase } from "./harness/postgres.ts";
import { HA_TOKEN_ENV, startReplicas, type ReplicaSet } from "./harness/replicas.ts";
import { writeConfig } from "./harness/serve.ts";

// A storm spread over three replicas on one PostgreSQL journal while one of
// them is killed with SIGKILL in the middle of its remediations and started
// again: every notification answered 2xx is in the journal, the 100 alerts
// fold onto 100 incidents, no attempt runs twice (each execution appends a
// line to a file), and the dead replica's running attempts are taken over
// (interrupted, then retried per onInterrupted: retry) within 15 s.

const ALERTS = 3_000;
const FINGERPRINTS = 100;
const CONCURRENCY = 16;
/** The bound on taking over a dead replica's remediations. */
const TAKEOVER_BOUND_MS = 15_000;
const SETTLE_TIMEOUT_MS = 120_000;

const cleanup: (() => Promise<unknown>)[] = [];
let replicas: ReplicaSet | undefined;
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});
const outputs = () => replicas?.replicas.map((r) => r.output().slice(-6_000)).join("\n") ?? "";

/** Attempts that began to run (they count against maxAttempts): each may have executed the runbook once. */
const began = (a: AttemptRow) => ["running", "verifying", "succeeded", "failed", "interrupted"].includes(a.status);

test("a storm over three replicas, one killed mid-remediation and restarted: every 2xx is journaled, no attempt runs twice, its remediations are taken over within 15 s", async () => {
  const db = await createTestDatabase();
  cleanup.push(db.drop);
  const dir = writeConfig("");
  const effects = join(dir, "effects");
  writeConfig(
    `
server:
  token: env:${HA_TOKEN_ENV}
  maxConcurrentRemediations: 8
workflows:
  fix:
    targets: local
    steps:
      # The side effect counted: one line per execution, then long enough a run that a kill lands in the middle of some.
      - exec:
          command: 'echo "$INCIDENT $REPLICA" >> "$EFFECTS"; sleep 4'
          env: { INCIDENT: "{{ vars.incident }}", REPLICA: "{{ env.HA_REPLICA }}", EFFECTS: ${JSON.stringify(effects)} }
        timeout: 30s
rules:
  - name: storm
    match: { alertname: HaStorm }
    run: fix
    vars: { incident: "{{ incident.id }}" }
    cooldown: 3s
    maxAttempts: 2
    onInterrupted: retry
`,
    dir,
  );
  replicas = await startReplicas({ dir, journal: db.url, count: 3 });
  cleanup.push(replicas.stop);
  const [, victim] = replicas.replicas;

  let stop = false;
  const storm = runStorm({ urls: replicas.replicas.map((r) => r.url), token: replicas.token, alerts: ALERTS, fingerprints: FINGERPRINTS, concurrency: CONCURRENCY, alertname: "HaStorm", markerPrefix: "storm", paceMs: 2, stop: () => stop });
  cleanup.push(async () => (stop = true));

  // Kill the victim once it runs remediations of its own.
  const victimId = (await replicaRows(db.url)).find((r) => r.name === victim!.name && r.pid === victim!.process.child.pid)?.id;
  expect(victimId).toBeDefined();
  await waitUntil(
    `replica ${victim!.name} to run a remediation`,
    async () => {
      const mine = (await attemptRows(db.url)).filter((a) => a.owner === victimId && a.status === "running");
      return mine.length > 0 && mine;
    },
    60_000,
    async () => `attempts: ${JSON.stringify(await attemptRows(db.url))}\n${outputs()}`,
    100,
  );
  await victim!.kill();
  const killedAt = Date.now();
  // What it was running when it died: nothing it does can change these rows any more.
  const atKill = (await attemptRows(db.url)).filter((a) => a.owner === victimId && a.status === "running");
  const key = (a: AttemptRow) => `${a.incident_id}/${a.attempt}`;
  const orphaned = new Set(atKill.map(key));

  // Taken over: each attempt it was running leaves "running", by another replica's hand (it is started again only after).
  const takenOverAt = await waitUntil(
    "the killed replica's running attempts to be taken over",
    async () => (await attemptRows(db.url)).every((a) => !orphaned.has(key(a)) || a.status !== "running") && Date.now(),
    60_000,
    async () => `attempts of ${victimId}: ${JSON.stringify((await attemptRows(db.url)).filter((a) => a.owner === victimId))}\n${outputs()}`,
    100,
  );
  // Back on its port, under a new id, while the storm goes on (or after it).
  await victim!.restart();
  const sent: Sent[] = await storm;

  const counts = statusCounts(sent);
  const accepted = sent.filter(isAccepted);
  // The only requests without a 2xx went to the victim while it was down.
  const refused = sent.filter((s) => !isAccepted(s));
  expect(refused.filter((s) => s.url !== victim!.url)).toEqual([]);
  expect(accepted.length).toBeGreaterThan(ALERTS / 2);

  // Settled: every notification processed, nothing queued or running, for two seconds in a row.
  let lastKey = "";
  let stableSince = Date.now();
  await waitUntil(
    "the journal to settle",
    async () => {
      const [pending] = await queryDatabase<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM notifications WHERE NOT processed");
      const active = (await attemptRows(db.url)).filter((a) => ["queued", "running", "verifying"].includes(a.status));
      const key = `${pending!.n} ${active.length} ${readEffects(effects).length}`;
      if (key !== lastKey) [lastKey, stableSince] = [key, Date.now()];
      return pending!.n === 0 && active.length === 0 && Date.now() - stableSince >= 2_000;
    },
    SETTLE_TIMEOUT_MS,
    async () => `last: ${lastKey}; attempts: ${JSON.stringify((await attemptRows(db.url)).filter((a) => a.status !== "succeeded"))}\n${outputs()}`,
    250,
  );

  // Every 2xx is in the journal, once.
  const { missing, duplicated, journaled } = await missingMarkers(db.url, "storm", sent);
  expect(missing).toEqual([]);
  expect(duplicated).toEqual([]);

  // The alerts fold onto one incident per fingerprint, whichever replica got them.
  const incidents = await queryDatabase<{ n: number; f: number }>(db.url, "SELECT count(*)::int AS n, count(DISTINCT fingerprint)::int AS f FROM incidents WHERE alertname = 'HaStorm'");
  expect(incidents).toEqual([{ n: FINGERPRINTS, f: FINGERPRINTS }]);

  // No attempt ran twice: per incident, no more executions than attempts that began, and each began attempt of a live replica executed.
  const attempts = await attemptRows(db.url);
  const lines = readEffects(effects);
  const executions = new Map<string, number>();
  for (const [incident] of lines) executions.set(incident!, (executions.get(incident!) ?? 0) + 1);
  const beganPer = new Map<string, number>();
  for (const a of attempts.filter(began)) beganPer.set(String(a.incident_id), (beganPer.get(String(a.incident_id)) ?? 0) + 1);
  const overRun = [...executions].filter(([incident, n]) => n > (beganPer.get(incident) ?? 0));
  expect(overRun).toEqual([]);
  // Nothing is left running, and the victim's attempts ended interrupted (not succeeded by a ghost).
  expect(attempts.filter((a) => a.status === "running")).toEqual([]);
  expect(atKill.length).toBeGreaterThan(0);
  expect(attempts.filter((a) => orphaned.has(key(a))).map((a) => a.status)).toEqual(atKill.map(() => "interrupted"));
  expect(executions.size).toBe(FINGERPRINTS);

  // The restarted victim is live again, under a new id.
  const live = await replicas.replicas[0]!.process.waitFor("/api/v1/cluster", (v) => (v?.replicas?.some((r: any) => r.name === victim!.name && r.id !== victimId) ? v : false), 30_000);
  expect(live.replicas.map((r: any) => r.name).sort()).toEqual(["r1", "r2", "r3"]);

  const takeoverMs = takenOverAt - killedAt;
  console.log(
    `${sent.length} requests ${JSON.stringify(counts)}; ${journaled.size} markers journaled; ${attempts.length} attempts ${JSON.stringify(Object.fromEntries(["succeeded", "interrupted", "failed", "rejected"].map((s) => [s, attempts.filter((a) => a.status === s).length])))}; ${lines.length} executions; ${atKill.length} attempts running on ${victim!.name} at the kill, taken over ${(takeoverMs / 1000).toFixed(1)} s after it`,
  );
  expect(takeoverMs).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
}, 300_000);
