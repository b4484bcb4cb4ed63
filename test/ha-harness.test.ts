import { afterAll, expect, test } from "bun:test";
import { startAlertmanagerCluster, type AlertmanagerCluster } from "./harness/alertmanager-cluster.ts";
import { createTestDatabase, queryDatabase, startPrivatePostgres, type PrivatePostgres } from "./harness/postgres.ts";

// The harnesses the high-availability tests stand on, checked on their own:
// a private PostgreSQL that goes away and comes back with its data, a
// database per test on the shared server, and clustered Alertmanagers that
// deliver every notification to every webhook URL of their receiver.

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

test("a test database on the shared PostgreSQL is its own, takes values only as parameters, and is gone after drop", async () => {
  const db = await createTestDatabase();
  cleanup.push(db.drop);
  const hostile = `'); DROP DATABASE "${db.name}"; --`;
  expect(await queryDatabase(db.url, "SELECT current_database() AS name, $1::text AS value", [hostile])).toEqual([{ name: db.name, value: hostile }]);
  await db.drop();
  const left = await queryDatabase("postgres://postgres@127.0.0.1:5432/postgres", "SELECT count(*)::int AS n FROM pg_database WHERE datname = $1", [db.name]);
  expect(left).toEqual([{ n: 0 }]);
});

test("a private PostgreSQL refuses connections while stopped and comes back on the same port with its data", async () => {
  const server: PrivatePostgres = await startPrivatePostgres();
  cleanup.push(server.destroy);
  const db = await createTestDatabase(server);
  await queryDatabase(db.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)");
  await server.stop();
  expect(server.running()).toBe(false);
  expect(queryDatabase(db.url, "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
  await server.start();
  expect(await queryDatabase(db.url, "SELECT n FROM kept")).toEqual([{ n: 42 }]);
  await server.destroy();
  expect(await Bun.file(`${server.dir}/data/PG_VERSION`).exists()).toBe(false);
}, 60_000);

test("two clustered Alertmanagers see each other and send a notification to every webhook URL of the receiver", async () => {
  const received: { path: string; auth: string | null; body: any }[] = [];
  const receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      received.push({ path: new URL(request.url).pathname, auth: request.headers.get("authorization"), body: await request.json() });
      return new Response("{}");
    },
  });
  cleanup.push(async () => receiver.stop(true));
  const base = `http://127.0.0.1:${receiver.port}`;
  const cluster: AlertmanagerCluster = await startAlertmanagerCluster({ webhookUrls: [`${base}/a`, `${base}/b`, `${base}/c`], bearerToken: "t0k3n", peerTimeoutSec: 1 });
  cleanup.push(cluster.stop);
  expect(cluster.urls).toHaveLength(2);
  const status = (await (await fetch(`${cluster.urls[1]}/api/v2/status`)).json()) as { cluster: { peers: unknown[]; status: string } };
  expect(status.cluster).toMatchObject({ status: "ready" });
  expect(status.cluster.peers).toHaveLength(2);

  // As Prometheus does: the same alert to every member.
  const alert = [{ labels: { alertname: "HarnessCheck", instance: "x" }, annotations: {}, startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 300_000).toISOString() }];
  for (const url of cluster.urls) {
    const response = await fetch(`${url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alert) });
    expect(response.status).toBe(200);
  }
  for (let i = 0; i < 200 && new Set(received.map((r) => r.path)).size < 3; i++) await Bun.sleep(50);
  expect([...new Set(received.map((r) => r.path))].sort()).toEqual(["/a", "/b", "/c"]);
  for (const r of received) {
    expect(r.auth).toBe("Bearer t0k3n");
    expect(r.body.alerts[0].labels).toEqual({ alertname: "HarnessCheck", instance: "x" });
  }
}, 60_000);
