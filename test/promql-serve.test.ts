import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitForQuery, startMetricTarget, startPrometheus, type MetricTarget, type TestServer } from "./harness/prometheus.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// PromQL in `opskit serve`, against Debian's Prometheus scraping a target
// whose gauges the test sets: a check that raises and resolves its alert as
// the metric crosses its condition, rules whose `when` reads a query's
// series (a match, a non-match, a hostile label, a failed query), and a
// verification that must hold for a while before it counts.

let target: MetricTarget;
let prometheus: TestServer;
let server: ServeProcess;
let marks: string;

const seen = (expr: string, until: (values: number[]) => boolean) => waitForQuery(prometheus.url, expr, until, 100);

const fire = (labels: Record<string, string>) => server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels }]));
const timeline = (view: any): string => view.events.map((e: any) => e.message).join("\n");
const byTitle = async (title: string, until: (incident: any) => boolean, timeoutMs = 60_000) =>
  server.waitFor("/api/v1/incidents", (v) => v.incidents.find((i: any) => i.title === title && until(i)), timeoutMs);
const view = (id: number) => server.get(`/api/v1/incidents/${id}`);

beforeAll(async () => {
  target = startMetricTarget();
  target.set("demo_connections", 100, { db: "main" });
  target.set("demo_connections", 50, { db: "replica" });
  target.set("demo_error_ratio", 0.5);
  prometheus = await startPrometheus({ scrapeTargets: [{ job: "demo", targets: [target.address] }] });
  await seen("count(demo_connections) + count(demo_error_ratio)", (v) => v[0] === 3);
  const dir = writeConfig("");
  marks = join(dir, "marks");
  mkdirSync(marks);
  const url = prometheus.url;
  const yaml = `
vars: { replica: replica }
checks:
  - name: db-connections
    probe: 'promql+${url}/?query=demo_connections{db="main"}'
    expect: "result.all(s, s.value < 200.0)"
    interval: 300ms
    failureThreshold: 2
    successThreshold: 2
    labels: { severity: ticket }
  - name: replica-connections
    promql:
      url: ${url}
      query: 'demo_connections{db="{{ vars.replica }}"}'
    expect: "result.all(s, s.value < 200.0)"
    interval: 300ms
    failureThreshold: 2
    successThreshold: 2
workflows:
  scale:
    targets: local
    steps:
      - exec: "echo {{ vars.db }} >> ${marks}/scaled"
  fix-errors:
    targets: local
    steps:
      - exec: "echo fixed >> ${marks}/fixed"
rules:
  - name: scale-db
    match: { alertname: DbConnectionsHigh }
    promql:
      url: ${url}
      query: 'max_over_time(demo_connections{db="{{ alert.labels.db }}"}[2s])'
      timeout: 5s
    when: "alert.labels.severity == 'page' && result.exists(s, s.value > 200.0)"
    run: scale
    vars: { db: "{{ alert.labels.db }}" }
    cooldown: 1s
  - name: broken-query
    match: { alertname: Broken }
    promql: { url: ${url}, query: "sum(demo_connections" }
    when: "size(result) > 0"
    run: scale
  - name: error-rate
    match: { alertname: ErrorRate }
    run: fix-errors
    verify:
      promql: { url: ${url}, query: demo_error_ratio, expect: "result.all(s, s.value < 0.01)" }
      for: 5s
      interval: 250ms
      timeout: 120s
`;
  server = await startServe(writeConfig(yaml, dir));
}, 90_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) await server.kill();
  await prometheus?.stop();
  await target?.stop();
});

describe("a promql check", () => {
  test("raises its alert when the condition goes false and resolves it when it holds again (the URL form and the promql: form)", async () => {
    const names = ["db-connections", "replica-connections"];
    await server.waitFor("/api/v1/checks", (v) => names.every((name) => v.checks.find((c: any) => c.name === name && c.status === "passing")));
    target.set("demo_connections", 400, { db: "main" });
    target.set("demo_connections", 400, { db: "replica" });
    for (const name of names) {
      const opened = await byTitle(name, () => true);
      expect(opened.source).toBe("check");
      const firing = await view(opened.id);
      expect(firing.incident.annotations.summary).toContain("expected result.all(s, s.value < 200.0)");
    }
    target.set("demo_connections", 100, { db: "main" });
    target.set("demo_connections", 50, { db: "replica" });
    for (const name of names) expect((await byTitle(name, (i) => i.status === "resolved")).resolution).toBe("alert resolved");
    const checks = await server.get("/api/v1/checks");
    for (const name of names) expect(checks.checks.find((c: any) => c.name === name)).toMatchObject({ kind: "promql", status: "passing" });
    // The promql: form's query, its vars filled in, is shown as the target it probes.
    expect(checks.checks.find((c: any) => c.name === "replica-connections").target).toContain('query=demo_connections{db="replica"}');
    await seen('demo_connections{db="replica"}', (v) => v[0] === 50);
  }, 90_000);
});

describe("a rule whose when reads a PromQL query", () => {
  test("matches while the query says so, and not otherwise; the timeline says which", async () => {
    target.set("demo_connections", 350, { db: "main" });
    await seen('demo_connections{db="main"}', (v) => v[0] === 350);
    await fire({ alertname: "DbConnectionsHigh", severity: "page", db: "main" });
    const matched = await byTitle("DbConnectionsHigh", (i) => i.labels.db === "main" && i.milestones.remediated !== undefined);
    expect(matched.rule).toBe("scale-db");
    expect(readFileSync(join(marks, "scaled"), "utf8")).toBe("main\n");
    expect(timeline(await view(matched.id))).toContain("rule scale-db matches: the query returned 1 series and its when holds");

    // The replica stays at 50: the labels match, the query answers, its when does not hold.
    await fire({ alertname: "DbConnectionsHigh", severity: "page", db: "replica" });
    const low = await byTitle("DbConnectionsHigh", (i) => i.labels.db === "replica");
    const lowView = await server.waitFor(`/api/v1/incidents/${low.id}`, (v) => timeline(v).includes("no rule matches") && v);
    expect(lowView.incident.rule).toBeUndefined();
    expect(timeline(lowView)).toContain("rule scale-db does not match: the query returned 1 series and its when does not hold");

    // A label that tries to widen the selector is a label value, nothing more: no series has it.
    const hostile = 'main"} or vector(1000) #';
    await fire({ alertname: "DbConnectionsHigh", severity: "page", db: hostile });
    const injected = await byTitle("DbConnectionsHigh", (i) => i.labels.db === hostile);
    const injectedView = await server.waitFor(`/api/v1/incidents/${injected.id}`, (v) => timeline(v).includes("no rule matches") && v);
    expect(timeline(injectedView)).toContain("rule scale-db does not match: the query returned 0 series");
    expect(readFileSync(join(marks, "scaled"), "utf8")).toBe("main\n");
  }, 90_000);

  test("a query that fails means no match, with Prometheus's error on the timeline", async () => {
    await fire({ alertname: "Broken", service: "x" });
    const broken = await byTitle("Broken", () => true);
    const brokenView = await server.waitFor(`/api/v1/incidents/${broken.id}`, (v) => timeline(v).includes("no rule matches") && v);
    expect(timeline(brokenView)).toContain("rule broken-query does not match: its query failed: Prometheus answered 400 bad_data");
    expect(brokenView.incident.rule).toBeUndefined();
  }, 60_000);
});

describe("verify by promql with for:", () => {
  test("succeeds only once the condition has held without a break for the whole hold, a relapse starting it again", async () => {
    const holdMs = 5_000;
    await fire({ alertname: "ErrorRate", service: "api" });
    const incident = await byTitle("ErrorRate", (i) => true);
    await server.waitFor(`/api/v1/incidents/${incident.id}`, (v) => v.attempts?.[0]?.status === "verifying" && v);
    // Each change to good is recorded before it is made: nothing can see it earlier.
    const goodSince: number[] = [];
    await Bun.sleep(1_000);
    goodSince.push(Date.now());
    target.set("demo_error_ratio", 0.001);
    await seen("demo_error_ratio", (v) => v[0] === 0.001);
    // A relapse well inside the hold: the verification must start over.
    target.set("demo_error_ratio", 0.3);
    await seen("demo_error_ratio", (v) => v[0] === 0.3);
    await Bun.sleep(1_500);
    goodSince.push(Date.now());
    target.set("demo_error_ratio", 0.002);
    const done = await server.waitFor(`/api/v1/incidents/${incident.id}`, (v) => v.incident.status === "resolved" && v, 90_000);
    const verifiedAt = done.incident.milestones.verified as number;
    expect(done.attempts[0].status).toBe("succeeded");
    expect(done.incident.resolution).toBe("verified by probe");
    // The last change to good before the verification, and the hold after it.
    const lastGood = Math.max(...goodSince.filter((t) => t <= verifiedAt));
    expect(verifiedAt - lastGood).toBeGreaterThanOrEqual(holdMs);
    expect(timeline(done)).toContain('promql "demo_error_ratio" passes and held for');
  }, 120_000);
});
