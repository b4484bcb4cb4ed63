import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "./harness/ha-storm.ts";
import { createTestDatabase, startPrivatePostgres } from "./harness/postgres.ts";
import { HA_TOKEN_ENV, startReplicas, type ReplicaSet } from "./harness/replicas.ts";
import { alertmanagerNotification, writeConfig } from "./harness/serve.ts";

// A replica cut off from the journal stops the remediation it runs before
// the others count it dead (the ttl) and start the next attempt elsewhere:
// otherwise the runbook would run twice at once. PostgreSQL (a private
// server) is stopped under a running remediation; its command, a process of
// its own, must be gone while the database is still down.

const cleanup: (() => Promise<unknown>)[] = [];
let replicas: ReplicaSet | undefined;
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});
const outputs = () => replicas?.replicas.map((r) => r.output().slice(-6_000)).join("\n") ?? "";

/** Whether the process still runs: gone, or a zombie its parent has not reaped yet (it runs nothing), is not. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

test("a replica that loses the journal cancels its running remediation (the command is killed) before another replica could take the attempt over", async () => {
  const server = await startPrivatePostgres();
  cleanup.push(server.destroy);
  const db = await createTestDatabase(server);
  const dir = writeConfig(`
server:
  token: env:${HA_TOKEN_ENV}
workflows:
  hold:
    targets: local
    steps:
      - exec: "sh -c 'echo $$ >> ${join("DIR", "pids")}; exec sleep 600'"
rules:
  - name: hold
    match: { alertname: HaCutoff }
    run: hold
    cooldown: 10m
    maxAttempts: 3
`);
  // The config is written before its directory is known: point the pid file into it.
  const config = join(dir, "opskit.yaml");
  await Bun.write(config, readFileSync(config, "utf8").replace("DIR", dir));
  const pids = join(dir, "pids");
  replicas = await startReplicas({ dir, journal: db.url, count: 1 });
  cleanup.push(replicas.stop);
  const [replica] = replicas.replicas;

  const body = JSON.stringify(alertmanagerNotification([{ labels: { alertname: "HaCutoff", instance: "db-1" }, startsAt: new Date().toISOString() }]));
  const answer = await fetch(`${replica!.url}/api/v1/alerts/alertmanager`, { method: "POST", headers: { authorization: `Bearer ${replicas.token}`, "content-type": "application/json" }, body, signal: AbortSignal.timeout(10_000) });
  expect(answer.status).toBe(200);
  const pid = await waitUntil("the remediation's command to start", async () => (existsSync(pids) ? Number(readFileSync(pids, "utf8").trim().split("\n")[0]) || undefined : undefined), 30_000, outputs);
  expect(running(pid)).toBe(true);

  const stoppingAt = Date.now();
  await server.stop();
  const downAt = Date.now();
  // Bounded wait: the replica gives up within its ttl (5 s); 30 s is the test's limit, not a measurement.
  await waitUntil("the cut-off replica to kill its remediation's command", async () => !running(pid), 30_000, outputs);
  const stoppedAfter = Date.now() - downAt;
  // Still down: it stopped on its own, not because the database came back.
  expect(server.running()).toBe(false);
  expect(replica!.alive()).toBe(true);
  console.log(`command stopped ${stoppedAfter} ms after PostgreSQL was down (its stop took ${downAt - stoppingAt} ms)`);
  await waitUntil("the replica to say why", async () => /cut off from the journal: 1 remediation cancelled/.test(replica!.output()), 10_000, outputs);

  // Back: the replica recovers by itself and the attempt is closed as interrupted (then retried: a new command).
  await server.start();
  await waitUntil("a retry after the database returns", async () => (existsSync(pids) ? readFileSync(pids, "utf8").trim().split("\n").length >= 2 : false), 60_000, outputs);
}, 150_000);
