import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";
import { runOpskit } from "./harness/cli.ts";
import { grafanaNotification } from "../src/heal/sources/testing.ts";

const running: ServeProcess[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});

async function serve(yaml: string, options: Parameters<typeof startServe>[1] = {}): Promise<ServeProcess> {
  const server = await startServe(writeConfig(yaml), options);
  running.push(server);
  return server;
}

/** A config whose workflow records each run as a file named after the service label. */
function config(rule: string, extra = "", step = `echo ran > {{ vars.marks + '/' + vars.service + '-' + string(vars.n) }}`): string {
  return `
vars: { marks: MARKS, n: 0 }
workflows:
  fix:
    targets: local
    steps:
      - name: fix
        exec: ${JSON.stringify(step)}
        timeout: 30s
rules:
  - name: fix-it
    match: { alertname: Broken }
    run: fix
    vars: { service: "{{ alert.labels.service }}" }
${rule
  .trim()
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
${extra}
`;
}

async function serveWith(rule: string, extra = "", options: Parameters<typeof startServe>[1] = {}, step?: string): Promise<ServeProcess & { marks: string }> {
  const dir = writeConfig("");
  const marks = join(dir, "marks");
  require("node:fs").mkdirSync(marks);
  const yaml = config(rule, extra, step).replace("MARKS", JSON.stringify(marks));
  const server = await startServe(writeConfig(yaml, dir), options);
  running.push(server);
  return Object.assign(server, { marks });
}

const fire = (server: ServeProcess, service: string, extra: Record<string, string> = {}, startsAt?: string) =>
  server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", service, ...extra }, ...(startsAt ? { startsAt } : {}) }]));
const resolve = (server: ServeProcess, service: string, startsAt: string) =>
  server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", service }, status: "resolved", startsAt }]));
const incident = (server: ServeProcess, id: number) => server.get(`/api/v1/incidents/${id}`);
const timeline = (view: any) => view.events.map((e: any) => e.message).join("\n");
const settle = async (server: ServeProcess, id: number, until: (view: any) => boolean) => server.waitFor(`/api/v1/incidents/${id}`, (v) => (until(v) ? v : false));

describe("opskit serve: the Alertmanager webhook", () => {
  test("each alert of a grouped notification opens its own incident and gets its own run", async () => {
    const server = await serveWith("cooldown: 1m");
    const body = alertmanagerNotification(["a", "b", "c"].map((service) => ({ labels: { alertname: "Broken", service } })));
    const answer = await server.post("/api/v1/alerts/alertmanager", body);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: "accepted", alerts: 3 });
    const list = await server.waitFor("/api/v1/incidents", (v) => v.incidents.length === 3 && v.incidents.every((i: any) => i.milestones.remediated) && v);
    expect(list.incidents.map((i: any) => i.labels.service).sort()).toEqual(["a", "b", "c"]);
    expect(readdirSync(server.marks).sort()).toEqual(["a-0", "b-0", "c-0"]);
  });

  test("the same notification twice (an HA pair) and repeats start no second run", async () => {
    const server = await serveWith("cooldown: 1m");
    const body = alertmanagerNotification([{ labels: { alertname: "Broken", service: "api" }, startsAt: "2026-11-25T10:00:00.250Z" }]);
    for (let i = 0; i < 5; i++) expect((await server.post("/api/v1/alerts/alertmanager", body)).status).toBe(200);
    const view = await settle(server, 1, (v) => v.incident.notifications === 5 && v.attempts[0]?.status === "succeeded");
    await Bun.sleep(300);
    const after = await incident(server, 1);
    expect(after.attempts).toHaveLength(1);
    expect(readdirSync(server.marks)).toEqual(["api-0"]);
    expect(view.incident.milestones.started).toBe(Date.parse("2026-11-25T10:00:00.250Z"));
    expect((await server.get("/api/v1/incidents")).total).toBe(1);
  });

  test("a resolve with no firing before it is accepted, and the late firing of that episode is ignored", async () => {
    const server = await serveWith("cooldown: 1m");
    const startsAt = "2026-11-25T10:00:00.000Z";
    expect((await resolve(server, "api", startsAt)).status).toBe(200);
    expect((await fire(server, "api", {}, startsAt)).status).toBe(200);
    // A new episode (a later startsAt) does open an incident.
    expect((await fire(server, "web", {}, "2026-11-25T10:05:00.000Z")).status).toBe(200);
    const list = await server.waitFor("/api/v1/incidents", (v) => v.incidents.length === 1 && v);
    expect(list.incidents[0].labels.service).toBe("web");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/opskit_alerts_received_total\{source="alertmanager",status="resolved",outcome="orphan"\} 1/);
    expect(metrics).toMatch(/opskit_alerts_received_total\{source="alertmanager",status="firing",outcome="stale"\} 1/);
  });

  test("firing then resolved closes the incident with every milestone in order", async () => {
    const server = await serveWith("cooldown: 1m");
    const startsAt = new Date(Date.now() - 2000).toISOString();
    await fire(server, "api", {}, startsAt);
    await settle(server, 1, (v) => v.incident.milestones.remediated);
    await resolve(server, "api", startsAt);
    const view = await settle(server, 1, (v) => v.incident.status === "resolved");
    const m = view.incident.milestones;
    expect(m.started).toBeLessThanOrEqual(m.detected);
    expect(m.detected).toBeLessThanOrEqual(m.remediation_started);
    expect(m.remediation_started).toBeLessThanOrEqual(m.remediated);
    expect(m.remediated).toBeLessThanOrEqual(m.resolved);
    expect(view.incident).toMatchObject({ automated: true, resolution: "alert resolved", attempts: 1 });
    const run = await server.get(`/api/v1/runs/${view.attempts[0].runId}`);
    expect(run.run).toMatchObject({ status: "succeeded", name: "fix" });
    expect(run.run.params.trigger).toEqual({ incident: 1, attempt: 1, rule: "fix-it" });
  });

  test("malformed, wrong-version and oversized bodies are refused with the reason and journal nothing", async () => {
    const server = await serveWith("cooldown: 1m", "server: { maxBodyBytes: 2048 }");
    const bad = await server.post("/api/v1/alerts/alertmanager", "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("malformed JSON");
    const version = await server.post("/api/v1/alerts/alertmanager", { ...alertmanagerNotification([{ labels: { alertname: "Broken" } }]), version: "3" });
    expect(version.status).toBe(400);
    expect(version.body.error.code).toBe("E_ALERT_PAYLOAD");
    const noAlerts = await server.post("/api/v1/alerts/alertmanager", { version: "4", status: "firing" });
    expect(noAlerts.status).toBe(400);
    const big = await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", service: "x".repeat(4000) } }]));
    expect(big.status).toBe(413);
    const extra = await server.post("/api/v1/alerts/alertmanager", { ...alertmanagerNotification([{ labels: { alertname: "Other" } }]), somethingNew: { nested: true } });
    expect(extra.status).toBe(200);
    await server.stop();
    const { Database } = await import("bun:sqlite");
    const db = new Database(server.journal, { readonly: true });
    expect(db.query("SELECT COUNT(*) AS n FROM notifications").get()).toEqual({ n: 1 });
    db.close();
  });

  test("the generic alert endpoint raises and resolves through the same path", async () => {
    const server = await serveWith("cooldown: 1m");
    expect((await server.post("/api/v1/alerts", { labels: { alertname: "Broken", service: "gen" } })).status).toBe(200);
    await settle(server, 1, (v) => v.incident.source === "generic" && v.attempts[0]?.status === "succeeded");
    expect((await server.post("/api/v1/alerts", { labels: { alertname: "Broken", service: "gen" }, status: "resolved" })).status).toBe(200);
    await settle(server, 1, (v) => v.incident.status === "resolved");
    const missing = await server.post("/api/v1/alerts", { labels: { service: "gen" } });
    expect(missing.status).toBe(400);
  });
});

describe("opskit serve: a Grafana Alerting webhook (an alert source added as one file and one registry line)", () => {
  test("a Grafana notification opens an incident whose rule runs, and its resolve closes it", async () => {
    const server = await serveWith("cooldown: 1m");
    const startsAt = new Date(Date.now() - 5000).toISOString();
    const alert = (status: "firing" | "resolved") => ({
      status,
      labels: { alertname: "Broken", service: "grafana-fed", grafana_folder: "ops" },
      annotations: { summary: "broken" },
      startsAt,
      endsAt: status === "resolved" ? new Date().toISOString() : "0001-01-01T00:00:00Z",
      fingerprint: "4f1c2b7d9e0a3c55",
      values: { B: 3 },
    });
    const answer = await server.post("/api/v1/alerts/grafana", grafanaNotification([alert("firing")]));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: "accepted", alerts: 1 });
    const view = await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
    expect(view.incident).toMatchObject({ source: "grafana", fingerprint: "4f1c2b7d9e0a3c55", title: "Broken", rule: "fix-it" });
    expect(view.incident.milestones.started).toBe(Date.parse(startsAt));
    expect(timeline(view)).toContain('firing: Broken {service="grafana-fed", grafana_folder="ops"} (grafana)');
    expect(readdirSync(server.marks)).toEqual(["grafana-fed-0"]);
    expect((await server.post("/api/v1/alerts/grafana", grafanaNotification([alert("resolved")]))).status).toBe(200);
    await settle(server, 1, (v) => v.incident.status === "resolved" && v.incident.resolution === "alert resolved");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/opskit_alerts_received_total\{source="grafana",status="firing",outcome="opened"\} 1/);
    expect(metrics).toMatch(/opskit_http_requests_total\{endpoint="grafana",code="200"\} 2/);
    // An Alertmanager body posted to Grafana's route is refused with the reason, and journals nothing.
    const wrong = await server.post("/api/v1/alerts/grafana", alertmanagerNotification([{ labels: { alertname: "Broken" } }]));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toContain('Grafana Alerting webhook version "4" is not supported');
  });
});

describe("opskit serve: safety gates", () => {
  test("cooldown: a new incident of the same fingerprint within it does not run, and says how long is left", async () => {
    const server = await serveWith("cooldown: 10m");
    await fire(server, "api", {}, "2026-11-25T10:00:00Z");
    await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
    await resolve(server, "api", "2026-11-25T10:00:00Z");
    await settle(server, 1, (v) => v.incident.status === "resolved");
    await fire(server, "api", {}, "2026-11-25T10:01:00Z");
    const view = await settle(server, 2, (v) => /suppressed: cooldown, \d+m(\d{2}s)? left/.test(timeline(v)));
    expect(view.attempts).toHaveLength(0);
    expect(readdirSync(server.marks)).toHaveLength(1);
  });

  test("maxAttempts: a failing runbook is tried twice, then escalated with the reason and the escalation sent", async () => {
    const received: unknown[] = [];
    const pager = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (r) => (received.push(await r.json()), new Response("ok")) });
    try {
      const server = await serveWith(`cooldown: 200ms\nmaxAttempts: 2\nescalate: [ { notify: { url: "http://127.0.0.1:${pager.port}/page", body: { text: "{{ vars.reason }}" } } } ]`, "", {}, "exit 3");
      await fire(server, "api");
      const view = await settle(server, 1, (v) => v.incident.escalated && /escalation sent/.test(timeline(v)));
      expect(view.attempts.map((a: any) => a.status)).toEqual(["failed", "failed"]);
      expect(timeline(view)).toContain("escalated: maxAttempts 2 reached");
      expect(view.incident.milestones.escalated).toBeGreaterThan(0);
      expect(received).toEqual([{ text: "escalated: maxAttempts 2 reached" }]);
    } finally {
      pager.stop(true);
    }
  });

  test("circuit breaker: consecutive failures across incidents disable the rule and escalate", async () => {
    const server = await serveWith("cooldown: 1ms\nmaxAttempts: 1\ncircuitBreaker: 2", "", {}, "exit 1");
    await fire(server, "a");
    await settle(server, 1, (v) => v.incident.escalated);
    await fire(server, "b");
    const second = await settle(server, 2, (v) => v.incident.escalated);
    expect(timeline(second)).toContain("escalated: circuit breaker opened, rule fix-it disabled after 2 consecutive failed remediations");
    await fire(server, "c");
    const third = await settle(server, 3, (v) => v.incident.escalated);
    expect(third.attempts).toHaveLength(0);
    expect(timeline(third)).toContain("disabled by its circuit breaker");
    const rules = await server.get("/api/v1/rules");
    expect(rules.rules[0].state).toMatchObject({ consecutiveFailures: 2, disabledReason: "2 consecutive failed remediations" });
  });

  test("the global cap queues remediations beyond server.maxConcurrentRemediations", async () => {
    const server = await serveWith("cooldown: 1m", "server: { maxConcurrentRemediations: 1 }", {}, "sleep 0.6; echo ran > {{ vars.marks + '/' + vars.service }}");
    await fire(server, "a");
    await settle(server, 1, (v) => v.attempts[0]?.status === "running");
    await fire(server, "b");
    const queued = await settle(server, 2, (v) => /queued: 1 remediations running \(server.maxConcurrentRemediations 1\)/.test(timeline(v)));
    expect(queued.attempts[0].status).toBe("queued");
    await settle(server, 2, (v) => v.attempts[0]?.status === "succeeded");
    const first = await incident(server, 1);
    expect(first.attempts[0].finishedAt).toBeLessThanOrEqual((await incident(server, 2)).attempts[0].startedAt);
  });

  test("the per-rule rate limit suppresses runs beyond it", async () => {
    const server = await serveWith("cooldown: 1ms\nrateLimit: { runs: 1, per: 1h }");
    await fire(server, "a");
    await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
    await fire(server, "b");
    const view = await settle(server, 2, (v) => /suppressed: rate limit, 1 runs of rule fix-it/.test(timeline(v)));
    expect(view.attempts).toHaveLength(0);
  });

  test("pause holds remediation with its reason; resume runs it", async () => {
    const server = await serveWith("cooldown: 1m");
    expect((await server.post("/api/v1/pause")).body).toEqual({ paused: true });
    await fire(server, "api");
    await settle(server, 1, (v) => /suppressed: automatic remediation is paused/.test(timeline(v)));
    expect(readdirSync(server.marks)).toHaveLength(0);
    expect((await server.post("/api/v1/resume")).body).toEqual({ paused: false });
    await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
  });

  test("approval: the run waits for approve", async () => {
    const server = await serveWith("approval: true");
    await fire(server, "api");
    await settle(server, 1, (v) => v.attempts[0]?.status === "awaiting_approval" && /approval required/.test(timeline(v)));
    expect(readdirSync(server.marks)).toHaveLength(0);
    expect((await server.post("/api/v1/incidents/1/approve")).status).toBe(200);
    await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
    expect((await server.post("/api/v1/incidents/1/approve")).status).toBe(409);
  });

  test("--dry-run records what would run and runs nothing", async () => {
    const server = await serveWith("cooldown: 1m", "", { args: ["--dry-run"] });
    await fire(server, "api");
    const view = await settle(server, 1, (v) => v.attempts[0]?.status === "dry_run");
    expect(timeline(view)).toContain('dry-run: would run workflow fix on "local" with vars {"service":"api"}');
    await fire(server, "api");
    await Bun.sleep(200);
    expect((await incident(server, 1)).attempts).toHaveLength(1);
    expect(readdirSync(server.marks)).toHaveLength(0);
  });

  test("alert labels reach the command only shell-escaped", async () => {
    const dir = writeConfig("");
    const pwned = join(dir, "pwned");
    const server = await serveWith("cooldown: 1m", "", {}, "printf '%s' {{ vars.service }} > {{ vars.marks + '/label' }}");
    const hostile = `x'; touch ${pwned}; echo '$(id)`;
    await fire(server, hostile);
    await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
    expect(readFileSync(join(server.marks, "label"), "utf8")).toBe(hostile);
    expect(existsSync(pwned)).toBe(false);
  });
});

describe("opskit serve: verification and resolves that never come", () => {
  test("a verify probe confirms recovery and closes the incident without a resolved notification", async () => {
    let up = false;
    const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("x", { status: up ? 200 : 503 }) });
    try {
      const server = await serveWith(`verify: { probe: { url: "http://127.0.0.1:${app.port}/", expect: "status == 200" }, timeout: 10s, interval: 100ms }`);
      await fire(server, "api");
      await settle(server, 1, (v) => v.attempts[0]?.status === "verifying");
      up = true;
      const view = await settle(server, 1, (v) => v.incident.status === "resolved");
      expect(view.incident).toMatchObject({ resolution: "verified by probe", automated: true });
      expect(view.incident.milestones.verified).toBe(view.incident.milestones.resolved);
      expect(view.attempts[0].status).toBe("succeeded");
    } finally {
      app.stop(true);
    }
  });

  test("a verify probe that keeps failing fails the attempt, and the next attempt follows the cooldown", async () => {
    const server = await serveWith(`cooldown: 300ms\nmaxAttempts: 2\nverify: { probe: "tcp://127.0.0.1:1", timeout: 300ms, interval: 100ms }`);
    await fire(server, "api");
    const view = await settle(server, 1, (v) => v.incident.escalated);
    expect(view.attempts.map((a: any) => a.status)).toEqual(["failed", "failed"]);
    expect(view.attempts[0].detail).toContain("verify probe tcp://127.0.0.1:1 still failing");
    expect(view.attempts[1].startedAt - view.attempts[0].startedAt).toBeGreaterThanOrEqual(300);
  });

  test("an open incident with no notification for server.staleAfter closes as stale", async () => {
    const server = await serve("server: { staleAfter: 1s }");
    await server.post("/api/v1/alerts", { labels: { alertname: "Quiet" } });
    const view = await server.waitFor("/api/v1/incidents/1", (v) => v.incident?.status === "resolved" && v, 10_000);
    expect(view.incident.resolution).toBe("stale: no notification for 1s");
    expect(timeline(view)).toContain("no rule matches this alert");
  });
});

describe("opskit serve: shadowed remediation workflows", () => {
  test("a remediation workflow that shadows a legacy script compares it, records it, and falls back past the threshold", async () => {
    const server = await serve(`
workflows:
  fix:
    targets: local
    shadow: { legacy: "printf legacy", share: 100%, maxMismatch: 0%, minComparisons: 1, compare: [stdout] }
    steps: [ { name: fix, exec: "printf candidate" } ]
rules:
  - name: fix-it
    match: { alertname: Broken }
    run: fix
    cooldown: 1ms
`);
    await fire(server, "a");
    const first = await settle(server, 1, (v) => v.attempts[0]?.status === "succeeded");
    expect(first.attempts[0].detail).toContain("shadow:");
    await fire(server, "b");
    const second = await settle(server, 2, (v) => v.attempts[0]?.status === "succeeded");
    const run = await server.get(`/api/v1/runs/${second.attempts[0].runId}`);
    // Fallen back after the first mismatch: the compared step ran the legacy command.
    expect(run.steps.find((s: any) => s.phase === "main").stdout).toBe("legacy");
    const report = await runOpskit(["shadow", "report", "fix", "--journal", server.journal], { cwd: server.dir });
    expect(report.code).toBe(0);
    expect(report.stdout).toContain("FALLEN BACK since");
    expect(report.stdout).toContain("fix: 1 comparison (workflow 1)");
  });
});

describe("opskit serve: API access", () => {
  test("with server.token, mutating and reading endpoints need it; the webhook takes its own", async () => {
    const server = await serveWith("cooldown: 1m", "server: { token: env:TEST_API_TOKEN, webhookToken: env:TEST_HOOK_TOKEN }", { env: { TEST_API_TOKEN: "api-secret", TEST_HOOK_TOKEN: "hook-secret" } });
    expect((await server.post("/api/v1/pause")).status).toBe(401);
    expect((await server.post("/api/v1/pause", {}, "wrong")).status).toBe(401);
    expect((await server.post("/api/v1/pause", {}, "api-secret")).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/incidents`)).status).toBe(401);
    const body = alertmanagerNotification([{ labels: { alertname: "Broken", service: "a" } }]);
    expect((await server.post("/api/v1/alerts/alertmanager", body)).status).toBe(401);
    expect((await server.post("/api/v1/alerts/alertmanager", body, "api-secret")).status).toBe(401);
    expect((await server.post("/api/v1/alerts/alertmanager", body, "hook-secret")).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  test("opskit incidents, ack, resolve, pause and resume work against the server", async () => {
    const server = await serveWith("approval: true");
    await fire(server, "api");
    await settle(server, 1, (v) => v.attempts[0]?.status === "awaiting_approval");
    // The token is the one the server generated beside its journal, found through $OPSKIT_JOURNAL.
    const env = { OPSKIT_SERVER: server.url, OPSKIT_JOURNAL: server.journal };
    const list = await runOpskit(["incidents"], { env, cwd: server.dir });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^1\s+open\s+Broken/m);
    const ack = await runOpskit(["incidents", "ack", "1"], { env, cwd: server.dir });
    expect(ack.stdout).toMatch(/acknowledged\s+\d{4}-\d\d-\d\d/);
    const resolved = await runOpskit(["incidents", "resolve", "1", "--note", "fixed by hand"], { env, cwd: server.dir });
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toContain("resolved (resolved by hand");
    const view = await incident(server, 1);
    expect(view.incident).toMatchObject({ status: "resolved", automated: false });
    expect(view.attempts[0].status).toBe("rejected");
    expect((await runOpskit(["pause"], { env, cwd: server.dir })).stdout).toContain("paused");
    expect((await server.get("/healthz")).paused).toBe(true);
    expect((await runOpskit(["resume"], { env, cwd: server.dir })).code).toBe(0);
    const missing = await runOpskit(["incidents", "show", "99"], { env, cwd: server.dir });
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("no incident 99");
    const down = await runOpskit(["incidents"], { env: { OPSKIT_SERVER: "http://127.0.0.1:1" }, cwd: server.dir });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("is opskit serve running?");
  });
});

describe("opskit serve: restarts and faults", () => {
  test("SIGKILL mid-remediation: accepted alerts survive, the attempt is interrupted, a new attempt runs once", async () => {
    const dir = writeConfig("");
    const server = await serveWith("cooldown: 10m\nmaxAttempts: 3", "", { journal: join(dir, "journal.db") }, "echo start >> {{ vars.marks + '/log' }}; sleep 30");
    await fire(server, "api");
    await settle(server, 1, (v) => v.attempts[0]?.status === "running");
    // Accepted just before the kill: must not be lost.
    expect((await fire(server, "web")).status).toBe(200);
    await server.kill();
    const again = await startServe(server.dir, { journal: server.journal });
    running.push(again);
    const view = await again.waitFor("/api/v1/incidents/1", (v) => v.attempts.length === 2 && v.attempts[1].status === "running" && v);
    expect(view.attempts[0]).toMatchObject({ attempt: 1, status: "interrupted" });
    expect(timeline(view)).toContain("attempt 1 interrupted: the server stopped during it; a new attempt may run (onInterrupted: retry)");
    const web = await again.waitFor("/api/v1/incidents", (v) => v.incidents.find((i: any) => i.labels.service === "web"));
    expect(web.status).toBe("open");
    // web's notification was accepted an instant before the kill: its run may or may not have started
    // then; either way it runs now, and no attempt ever runs twice.
    const webView = await again.waitFor(`/api/v1/incidents/${web.id}`, (v) => v.attempts.some((a: any) => a.status === "running") && v);
    const attempts = [...view.attempts, ...webView.attempts];
    const started = attempts.filter((a: any) => a.runId);
    expect(new Set(started.map((a: any) => a.runId)).size).toBe(started.length);
    // Each started attempt ran its command at most once (one cut off by the kill may not have reached it).
    const lines = () => readFileSync(join(server.marks, "log"), "utf8").trim().split("\n").length;
    for (let i = 0; i < 100 && lines() < 2; i++) await Bun.sleep(50);
    expect(lines()).toBeGreaterThanOrEqual(2);
    expect(lines()).toBeLessThanOrEqual(started.length);
    const runs = await again.get("/api/v1/runs?limit=10");
    expect(runs.runs.filter((r: any) => r.status === "interrupted").map((r: any) => r.id).sort()).toEqual(attempts.filter((a: any) => a.status === "interrupted").map((a: any) => a.runId).sort());
  }, 60_000);

  test("SIGTERM drains: in-flight runs finish within the grace period and the server exits 0", async () => {
    const server = await serveWith("cooldown: 1m", "server: { drainTimeout: 10s }", {}, "sleep 0.5; echo done > {{ vars.marks + '/' + vars.service }}");
    await fire(server, "api");
    await settle(server, 1, (v) => v.attempts[0]?.status === "running");
    expect(await server.stop()).toBe(0);
    expect(readFileSync(join(server.marks, "api"), "utf8")).toBe("done\n");
    expect(server.output()).toMatch(/stopped: 1 runs finished, 0 cancelled/);
  });

  test("SIGTERM past the grace period cancels the run and records it interrupted", async () => {
    const server = await serveWith("cooldown: 1m", "server: { drainTimeout: 300ms }", {}, "sleep 30");
    await fire(server, "api");
    await settle(server, 1, (v) => v.attempts[0]?.status === "running");
    const started = Date.now();
    expect(await server.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const { Database } = await import("bun:sqlite");
    const db = new Database(server.journal, { readonly: true });
    expect(db.query("SELECT status FROM remediation_attempts").all()).toEqual([{ status: "interrupted" }]);
    db.close();
  });
});

describe("opskit serve: checks", () => {
  test("a failing check raises an alert, its rule remediates, and recovery resolves it", async () => {
    let healthy = true;
    const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(healthy ? "ok" : "down", { status: healthy ? 200 : 503 }) });
    try {
      const dir = writeConfig("");
      const marks = join(dir, "marks");
      require("node:fs").mkdirSync(marks);
      const server = await startServe(
        writeConfig(
          `
vars: { marks: ${JSON.stringify(marks)} }
checks:
  - name: app
    probe: http://127.0.0.1:${app.port}/
    expect: 'status == 200'
    interval: 100ms
    failureThreshold: 2
    successThreshold: 2
    labels: { alertname: Broken, service: app }
workflows:
  fix:
    targets: local
    steps: [ { exec: "echo fixed > {{ vars.marks + '/fixed' }}" } ]
rules:
  - name: fix-app
    match: { alertname: Broken }
    run: fix
    verify: { alertResolved: true, timeout: 20s }
`,
          dir,
        ),
      );
      running.push(server);
      await Bun.sleep(300);
      const brokeAt = Date.now();
      healthy = false;
      await server.waitFor("/api/v1/incidents/1", (v) => v.attempts?.[0]?.status === "verifying" && v);
      healthy = true;
      const view = await settle(server, 1, (v) => v.incident.status === "resolved");
      expect(view.incident.source).toBe("check");
      expect(view.incident.milestones.started).toBeGreaterThanOrEqual(brokeAt - 150);
      expect(view.incident.milestones.started).toBeLessThan(view.incident.milestones.detected);
      expect(view.incident.milestones.verified).toBeDefined();
      expect(view.attempts[0].status).toBe("succeeded");
      expect(existsSync(join(marks, "fixed"))).toBe(true);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain('opskit_check_up{check="app"} 1');
      expect(metrics).toMatch(/opskit_remediations_total\{rule="fix-app",status="succeeded"\} 1/);
    } finally {
      app.stop(true);
    }
  });
});

describe("opskit serve: one server is a cluster of one", () => {
  test("its startup line names the replica and the leader; GET /api/v1/cluster lists it as the leader holding its checks", async () => {
    const server = await serve(
      `
checks:
  - name: self
    probe: tcp://127.0.0.1:1
    interval: 1s
`,
      { args: ["--replica", "solo"] },
    );
    expect(server.output()).toMatch(/opskit serve on http:\/\/127\.0\.0\.1:\d+ · replica solo \(leader\) · /);
    const view = await server.waitFor("/api/v1/cluster", (v) => v.replicas?.[0]?.checks.length === 1 && v.replicas[0].url && v);
    expect(view.replica).toMatchObject({ name: "solo", url: server.url });
    expect(view.leader).toMatchObject({ id: view.replica.id, name: "solo", epoch: expect.any(Number) });
    expect(view.replicas).toEqual([expect.objectContaining({ id: view.replica.id, name: "solo", url: server.url, pid: server.child.pid, leader: true, checks: ["self"] })]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^opskit_cluster_replicas 1$/m);
    expect(metrics).toMatch(/^opskit_cluster_leader 1$/m);
    expect(metrics).toMatch(/^opskit_cluster_checks_owned 1$/m);
    const health = await server.get("/healthz");
    expect(health).toMatchObject({ status: "ok", replica: "solo", leader: true });
  });

  test("a lease shorter than three heartbeats is refused at start with its place in the config, before any token or journal is made", async () => {
    const dir = writeConfig("server:\n  heartbeat: 1s\n  leaseTtl: 2s\nrules: []\n");
    const run = await runOpskit(["serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", join(dir, "journal.db")], { timeoutMs: 30_000 });
    expect(run.code).toBe(65);
    expect(run.stderr).toMatch(/opskit\.yaml:3:\d+: leaseTtl 2s with heartbeat 1s: a lease must last at least 3 heartbeats/);
    expect(existsSync(join(dir, "journal.db"))).toBe(false);
    expect(existsSync(join(dir, "server.token"))).toBe(false);
  });

  test("a PostgreSQL journal without server.token or OPSKIT_TOKEN is refused before anything starts, saying how to share a token", async () => {
    const dir = writeConfig("rules: []\n");
    const env = { ...process.env };
    delete env.OPSKIT_TOKEN;
    const run = await runOpskit(["serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", "postgres://postgres@127.0.0.1:1/none"], { env: env as Record<string, string>, timeoutMs: 30_000 });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("server.token is not set, and a server on a PostgreSQL journal cannot generate its API token");
    expect(run.stderr).toContain("server.token: env:OPSKIT_TOKEN");
  });
});
