import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./harness/cli.ts";
import { refusedPort } from "./harness/net.ts";
import { queryPrometheus, startAlertmanager, startPrometheus, type TestServer } from "./harness/prometheus.ts";
import { startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// The whole loop with the real thing: Prometheus scrapes a service, the
// service dies, Prometheus fires `up == 0`, Alertmanager posts to opskit,
// opskit's rule restarts the service, the alert resolves, and the incident
// holds every milestone in order.

const started: { stop(): Promise<unknown> }[] = [];
let pidFile = "";

afterAll(async () => {
  for (const server of started.reverse()) await server.stop().catch(() => undefined);
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

test("Prometheus and Alertmanager alert on a dead service; opskit restarts it and the incident closes with every milestone in order", async () => {
  const port = await refusedPort();
  const dir = writeConfig("");
  const marks = join(dir, "run");
  mkdirSync(marks);
  pidFile = join(marks, "demo.pid");
  const launcher = join(dir, "start-demo.sh");
  writeFileSync(launcher, `#!/bin/sh\nexec '${process.execPath}' '${repoRoot}src/cli/main.ts' demo-service "$@"\n`, { mode: 0o755 });

  const first = Bun.spawn([launcher, "--name", "demo", "--listen", `127.0.0.1:${port}`], { stdout: "ignore", stderr: "inherit" });
  started.push({ stop: async () => first.kill("SIGKILL") });
  for (let i = 0; i < 100 && !(await healthy(port)); i++) await Bun.sleep(50);

  const serve: ServeProcess = await startServe(
    writeConfig(
      `
vars: { launcher: ${JSON.stringify(launcher)}, run: ${JSON.stringify(marks)} }
workflows:
  restart-demo:
    targets: local
    steps:
      - name: start
        exec: "setsid {{ vars.launcher }} --name {{ vars.service }} --listen {{ vars.address }} >> {{ vars.run + '/demo.log' }} 2>&1 < /dev/null & echo $! > {{ vars.run + '/demo.pid' }}"
        timeout: 10s
rules:
  - name: restart-demo
    match: { alertname: DemoDown, severity: critical }
    run: restart-demo
    vars: { service: "{{ alert.labels.job }}", address: "{{ alert.labels.instance }}" }
    cooldown: 1m
    maxAttempts: 2
    verify: { alertResolved: true, timeout: 60s }
`,
      dir,
    ),
  );
  started.push(serve);
  // Alertmanager sends the token opskit serve generated, as http_config.authorization.credentials.
  expect(serve.token).toBeDefined();
  const alertmanager: TestServer = await startAlertmanager({ webhookUrl: `${serve.url}/api/v1/alerts/alertmanager`, bearerToken: serve.token! });
  started.push(alertmanager);
  const prometheus: TestServer = await startPrometheus({
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
    alertmanagerUrl: alertmanager.url,
  });
  started.push(prometheus);
  for (let i = 0; i < 100; i++) {
    const up = await queryPrometheus(prometheus.url, 'up{job="demo"}');
    if (up[0]?.value[1] === "1") break;
    await Bun.sleep(100);
  }

  const killedAt = Date.now();
  first.kill("SIGKILL");
  await first.exited;

  let recoveredAt: number | undefined;
  const view = await serve.waitFor(
    "/api/v1/incidents/1",
    (v) => {
      if (recoveredAt === undefined && v.attempts?.[0]?.status && existsSync(pidFile)) void healthy(port).then((ok) => ok && (recoveredAt ??= Date.now()));
      return v.incident?.status === "resolved" && v;
    },
    90_000,
  );
  const resolvedAt = Date.now();
  const m = view.incident.milestones;
  const order = ["started", "detected", "remediation_started", "remediated", "verified", "resolved"];
  for (const name of order) expect(m[name]).toBeGreaterThan(0);
  for (let i = 1; i < order.length; i++) expect(m[order[i]!]).toBeGreaterThanOrEqual(m[order[i - 1]!]);
  expect(view.incident).toMatchObject({ source: "alertmanager", title: "DemoDown", rule: "restart-demo", automated: true, resolution: "alert resolved", attempts: 1 });
  expect(view.incident.labels).toMatchObject({ job: "demo", instance: `127.0.0.1:${port}`, severity: "critical" });
  expect(view.attempts).toHaveLength(1);
  expect(view.attempts[0].status).toBe("succeeded");
  expect(await healthy(port)).toBe(true);
  // The restarted service is the runbook's, not the one we killed.
  expect(Number(readFileSync(pidFile, "utf8").trim())).not.toBe(first.pid);
  console.log(
    `kill → alert detected by opskit ${((m.detected - killedAt) / 1000).toFixed(1)}s; → service back ${(((recoveredAt ?? m.remediated) - killedAt) / 1000).toFixed(1)}s; → incident resolved ${((resolvedAt - killedAt) / 1000).toFixed(1)}s (MTTR by milestones ${((m.resolved - m.started) / 1000).toFixed(1)}s)`,
  );
}, 150_000);
