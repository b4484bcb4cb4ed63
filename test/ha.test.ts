import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAlertmanagerCluster } from "./harness/alertmanager-cluster.ts";
import { repoRoot } from "./harness/cli.ts";
import { attemptRows, readEffects, waitUntil } from "./harness/ha-storm.ts";
import { refusedPort } from "./harness/net.ts";
import { createTestDatabase, queryDatabase } from "./harness/postgres.ts";
import { queryPrometheus, startPrometheus } from "./harness/prometheus.ts";
import { HA_TOKEN_ENV, startReplicas, type ReplicaSet } from "./harness/replicas.ts";
import { writeConfig } from "./harness/serve.ts";

// The alert loop of test/alert-e2e.test.ts, highly available: three opskit
// replicas on one PostgreSQL journal, two clustered Alertmanagers whose
// receiver lists all three replicas (so each notification reaches every
// replica), and Prometheus sending to both Alertmanagers. A service dies; the
// duplicates fold onto one incident, exactly one replica restarts the
// service, and the incident closes with every milestone in order.

const cleanup: (() => Promise<unknown>)[] = [];
let pidFile = "";
let replicas: ReplicaSet | undefined;

afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  if (pidFile && existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGTERM");
    } catch {}
  }
});

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(500) })).status === 200;
  } catch {
    return false;
  }
}

/** Every replica's output, for a failure's message. */
const outputs = () => replicas?.replicas.map((r) => r.output()).join("\n") ?? "";

test("three replicas behind two clustered Alertmanagers: a dead service makes one incident, one remediation, and every milestone in order", async () => {
  const db = await createTestDatabase();
  cleanup.push(db.drop);
  const port = await refusedPort();
  const dir = writeConfig("");
  const marks = join(dir, "run");
  mkdirSync(marks);
  pidFile = join(marks, "demo.pid");
  const effects = join(marks, "effects");
  const launcher = join(dir, "start-demo.sh");
  writeFileSync(launcher, `#!/bin/sh\nexec '${process.execPath}' '${repoRoot}src/cli/main.ts' demo-service "$@"\n`, { mode: 0o755 });

  const first = Bun.spawn([launcher, "--name", "demo", "--listen", `127.0.0.1:${port}`], { stdout: "ignore", stderr: "inherit" });
  cleanup.push(async () => first.kill("SIGKILL"));
  for (let i = 0; i < 100 && !(await healthy(port)); i++) await Bun.sleep(50);

  writeConfig(
    `
server:
  token: env:${HA_TOKEN_ENV}
vars: { launcher: ${JSON.stringify(launcher)}, run: ${JSON.stringify(marks)} }
workflows:
  restart-demo:
    targets: local
    steps:
      - name: count
        # One line per execution, naming the replica that ran it: the side effect the test counts.
        exec: { command: 'echo "$INCIDENT $REPLICA" >> "$EFFECTS"', env: { INCIDENT: "{{ vars.incident }}", REPLICA: "{{ env.HA_REPLICA }}", EFFECTS: "{{ vars.run + '/effects' }}" } }
      - name: start
        exec: "setsid {{ vars.launcher }} --name {{ vars.service }} --listen {{ vars.address }} >> {{ vars.run + '/demo.log' }} 2>&1 < /dev/null & echo $! > {{ vars.run + '/demo.pid' }}"
        timeout: 10s
rules:
  - name: restart-demo
    match: { alertname: DemoDown, severity: critical }
    run: restart-demo
    vars: { service: "{{ alert.labels.job }}", address: "{{ alert.labels.instance }}", incident: "{{ incident.id }}" }
    cooldown: 1m
    maxAttempts: 2
    verify: { alertResolved: true, timeout: 60s }
`,
    dir,
  );
  replicas = await startReplicas({ dir, journal: db.url, count: 3 });
  cleanup.push(replicas.stop);
  const [r1] = replicas.replicas;

  // Every replica sees the three of them, and one leader, in the shared journal.
  const cluster = await r1!.process.waitFor("/api/v1/cluster", (v) => (v?.replicas?.filter((r: any) => r.live !== false).length === 3 && v.leader ? v : false), 30_000);
  expect(cluster.replicas.map((r: any) => r.name).sort()).toEqual(["r1", "r2", "r3"]);

  const alertmanagers = await startAlertmanagerCluster({ webhookUrls: replicas.webhookUrls(), bearerToken: replicas.token });
  cleanup.push(alertmanagers.stop);
  const prometheus = await startPrometheus({
    scrapeTargets: [{ job: "demo", targets: [`127.0.0.1:${port}`] }],
    rules: `groups:
  - name: demo
    rules:
      - alert: DemoDown
        expr: up{job="demo"} == 0
        for: 0s
        labels: { severity: critical }
        annotations: { summary: "{{ $labels.instance }} is down" }
`,
    alertmanagerUrl: alertmanagers.urls,
  });
  cleanup.push(prometheus.stop);
  for (let i = 0; i < 100; i++) {
    const up = await queryPrometheus(prometheus.url, 'up{job="demo"}');
    if (up[0]?.value[1] === "1") break;
    await Bun.sleep(100);
  }

  const killedAt = Date.now();
  first.kill("SIGKILL");
  await first.exited;

  const incident = await waitUntil(
    "the DemoDown incident to resolve and its attempt to end",
    async () => {
      const listed = await r1!.process.get("/api/v1/incidents?limit=100");
      const found = listed.incidents?.find((i: any) => i.title === "DemoDown");
      if (found?.status !== "resolved") return false;
      const attempts = (await r1!.process.get(`/api/v1/incidents/${found.id}`)).attempts;
      return attempts?.every((a: any) => !["queued", "running", "verifying"].includes(a.status)) && found;
    },
    120_000,
    async () => `incidents: ${JSON.stringify(await r1!.process.get("/api/v1/incidents?limit=100"))}\nattempts: ${JSON.stringify(await attemptRows(db.url))}\n${outputs()}`,
  );

  // The same incident, as every replica shows it.
  const views = await Promise.all(replicas.replicas.map((r) => r.process.get(`/api/v1/incidents/${incident.id}`)));
  for (const view of views) expect(view.incident.id).toBe(incident.id);
  const view = views[0];
  const m = view.incident.milestones;
  const order = ["started", "detected", "remediation_started", "remediated", "verified", "resolved"];
  for (const name of order) expect(m[name]).toBeGreaterThan(0);
  for (let i = 1; i < order.length; i++) expect(m[order[i]!]).toBeGreaterThanOrEqual(m[order[i - 1]!]);
  expect(view.incident).toMatchObject({ source: "alertmanager", title: "DemoDown", rule: "restart-demo", automated: true, resolution: "alert resolved", attempts: 1 });
  expect(view.incident.labels).toMatchObject({ job: "demo", instance: `127.0.0.1:${port}`, severity: "critical" });
  expect(view.attempts).toHaveLength(1);
  expect(view.attempts[0]).toMatchObject({ attempt: 1, status: "succeeded" });

  // In the database itself: one incident, though each notification reached three replicas.
  const incidents = await queryDatabase(db.url, "SELECT id::int AS id, status FROM incidents WHERE alertname = 'DemoDown'");
  expect(incidents).toEqual([{ id: incident.id, status: "resolved" }]);
  const notifications = await queryDatabase<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM notifications WHERE position('DemoDown' in body) > 0");
  expect(notifications[0]!.n).toBeGreaterThanOrEqual(3);
  expect(await attemptRows(db.url)).toMatchObject([{ incident_id: incident.id, attempt: 1, status: "succeeded" }]);

  // One execution of the runbook, on one replica.
  const lines = readEffects(effects);
  expect(lines).toHaveLength(1);
  expect(lines[0]![0]).toBe(String(incident.id));
  expect(["r1", "r2", "r3"]).toContain(lines[0]![1]!);
  expect(await healthy(port)).toBe(true);
  expect(Number(readFileSync(pidFile, "utf8").trim())).not.toBe(first.pid);
  console.log(`kill → detected ${((m.detected - killedAt) / 1000).toFixed(1)}s → resolved ${((m.resolved - killedAt) / 1000).toFixed(1)}s; remediation ran on ${lines[0]![1]}; ${notifications[0]!.n} DemoDown notifications journaled`);
}, 180_000);
