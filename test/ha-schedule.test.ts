import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { readEffects, waitUntil } from "./harness/ha-storm.ts";
import { createTestDatabase, queryDatabase } from "./harness/postgres.ts";
import { HA_TOKEN_ENV, startReplicas, type ReplicaSet } from "./harness/replicas.ts";
import { writeConfig } from "./harness/serve.ts";

// A runbook scheduled every 2 seconds on three replicas sharing one
// PostgreSQL journal; one replica is killed with SIGKILL and started again
// meanwhile. Every scheduled time from the first to the last ran exactly
// once: one fire row, one run, one execution (a line in a file naming the
// time), none missed while a replica was down.

const EVERY_MS = 2_000;
const cleanup: (() => Promise<unknown>)[] = [];
let replicas: ReplicaSet | undefined;
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});
const outputs = () => replicas?.replicas.map((r) => r.output().slice(-6_000)).join("\n") ?? "";

interface FireRow {
  at: number;
  replica: string;
  status: string;
  run_id: string | null;
}

const fires = (url: string) => queryDatabase<FireRow>(url, "SELECT at::float8 AS at, replica, status, run_id FROM schedule_fires WHERE schedule = 'tick' ORDER BY at");

test("a schedule every 2 s on three replicas, one killed and restarted: every scheduled time ran exactly once", async () => {
  const db = await createTestDatabase();
  cleanup.push(db.drop);
  const dir = writeConfig("");
  const effects = join(dir, "effects");
  writeConfig(
    `
server:
  token: env:${HA_TOKEN_ENV}
workflows:
  tick:
    schedule: "*/2 * * * * *"
    targets: local
    steps:
      - exec:
          command: 'echo "$AT $REPLICA" >> "$EFFECTS"'
          env: { AT: "{{ vars.schedule.at }}", REPLICA: "{{ env.HA_REPLICA }}", EFFECTS: ${JSON.stringify(effects)} }
`,
    dir,
  );
  replicas = await startReplicas({ dir, journal: db.url, count: 3 });
  cleanup.push(replicas.stop);
  const started = Date.now();

  await waitUntil("three executions", async () => readEffects(effects).length >= 3, 30_000, outputs);
  // The victim is the replica that ran the latest time: the others must carry on without it.
  const victim = replicas.replicas.find((r) => r.name === readEffects(effects).at(-1)![1]);
  expect(victim).toBeDefined();
  await victim!.kill();
  const killedAt = Date.now();
  // Down for a few scheduled times.
  await Bun.sleep(3 * EVERY_MS);
  await victim!.restart();
  const restartedAt = Date.now();
  await waitUntil("three fires after the restart", async () => (await fires(db.url)).filter((f) => f.at > restartedAt).length >= 3, 30_000, outputs);
  // Stop them all; the last fire's run (an echo) finishes in the drain.
  for (const replica of replicas.replicas) await replica.stop();

  const rows = await fires(db.url);
  const times = rows.map((f) => f.at);
  // Exactly once: the key is (schedule, time), so duplicates would have been refused; check none is missing between the first and the last.
  expect(new Set(times).size).toBe(times.length);
  const expected = Array.from({ length: Math.round((times.at(-1)! - times[0]!) / EVERY_MS) + 1 }, (_, i) => times[0]! + i * EVERY_MS);
  expect(times).toEqual(expected);
  expect(times[0]!).toBeGreaterThanOrEqual(started - EVERY_MS);
  // Some ran while the victim was down, on the others.
  expect(rows.some((f) => f.at > killedAt && f.at < killedAt + 3 * EVERY_MS)).toBe(true);
  // Each ran once: succeeded, with a run of its own, and one execution naming its time. A fire the victim had claimed when it died is the one exception allowed: interrupted.
  const interrupted = rows.filter((f) => f.status !== "succeeded");
  expect(interrupted.length).toBeLessThanOrEqual(1);
  for (const f of interrupted) expect(f.status).toBe("interrupted");
  const runIds = rows.filter((f) => f.status === "succeeded").map((f) => f.run_id);
  expect(new Set(runIds).size).toBe(runIds.length);
  const runs = await queryDatabase<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM runs WHERE id = ANY($1::text[])", [runIds]);
  expect(runs[0]!.n).toBe(runIds.length);
  const lines = readEffects(effects).map(([at]) => Date.parse(at!));
  expect(lines.length).toBe(new Set(lines).size);
  expect(lines.sort((a, b) => a - b)).toEqual(rows.filter((f) => f.status === "succeeded" || lines.includes(f.at)).map((f) => f.at));
  console.log(`${victim!.name} killed; ${rows.length} scheduled times from ${new Date(times[0]!).toISOString()} to ${new Date(times.at(-1)!).toISOString()}, ${lines.length} executions; by replica ${JSON.stringify(Object.fromEntries(["r1", "r2", "r3"].map((r) => [r, readEffects(effects).filter((l) => l[1] === r).length])))}`);
}, 180_000);
