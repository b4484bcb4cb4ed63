import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";
import { refusedPort } from "./harness/net.ts";
import { startOtlpReceiver, type FlatSpan, type OtlpReceiver } from "./harness/otlp.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// OpenTelemetry traces from real opskit processes to an OTLP/HTTP receiver
// started here: a fleet run over SSH as a span tree, an incident's intake,
// decisions, attempt and run in one trace, and the trace context passed on
// to what steps call (TRACEPARENT, the traceparent header).
let fleet: Fleet;
let otlp: OtlpReceiver;
let dir: string;
let journal: string;
const servers: ServeProcess[] = [];

beforeAll(async () => {
  [fleet, otlp] = await Promise.all([startFleet({ size: 4 }), startOtlpReceiver()]);
  dir = await mkdtemp(join(tmpdir(), "opskit-otel-"));
  journal = join(dir, "journal.db");
}, 60_000);

afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null) await server.kill();
  await fleet?.stop();
  otlp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const tracing = () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: "opskit-otel-test" });

async function writeYaml(name: string, lines: string[]): Promise<string> {
  const file = join(dir, `${name}-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, lines.join("\n"));
  return file;
}

function jsonLines(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
}

const inTrace = (traceId: string) => otlp.spans().filter((s) => s.traceId === traceId);
const named = (spans: FlatSpan[], name: string) => spans.filter((s) => s.name === name);
function only(spans: FlatSpan[], name: string, where: (s: FlatSpan) => boolean = () => true): FlatSpan {
  const found = spans.filter((s) => s.name === name && where(s));
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
}

describe("opskit run as a trace", () => {
  test("a run of 2 batches × 2 SSH targets × 3 steps is a span tree run → batch → target → step in the trace `runs show` prints, and each step's commands saw TRACEPARENT naming its span", async () => {
    const [h1, h2, h3, h4] = fleet.hosts;
    const config = await writeYaml("fleet", [
      ...fleetConfigLines(fleet, { labels: (_host, i) => ({ role: "web", zone: i < 2 ? "a" : "b" }) }),
      "workflows:",
      "  deploy:",
      "    targets: role=web",
      "    strategy: { rolling: { batch: 2, maxFailures: 1 } }",
      "    steps:",
      `      - { name: remote, ssh: 'echo "TP=$TRACEPARENT"' }`,
      `      - { name: local, exec: { command: 'printf "%s" "$TRACEPARENT" > "$OUT"', env: { OUT: "${dir}/{{ target.name }}.tp" } } }`,
      `      - { name: check, ssh: 'case "$SSH_CONNECTION" in *" ${h4!.address} "*) echo broken >&2; exit 3;; esac' }`,
    ]);
    const run = await runOpskit(["run", "--journal", journal, "-c", config, "deploy", "--json"], { cwd: dir, env: tracing() });
    expect(run.code).toBe(2);
    const events = jsonLines(run.stdout);
    const started = events.find((e) => e.type === "run.started")!;
    const traceId: string = started.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    // The journal has the same trace id, and `runs show` prints it.
    const shown = await runOpskit(["runs", "show", started.runId, "--journal", journal, "--json"], { cwd: dir });
    expect(JSON.parse(shown.stdout).run.traceId).toBe(traceId);
    const text = await runOpskit(["runs", "show", started.runId, "--journal", journal], { cwd: dir });
    expect(text.stdout).toContain(`trace: ${traceId}`);

    // The CLI flushed before it exited: every span is there (1 run, 2 batches, 4 targets, 12 steps).
    const spans = await otlp.waitFor(() => inTrace(traceId).length >= 19 && inTrace(traceId));
    expect(spans).toHaveLength(19);
    expect(spans[0]!.resource["service.name"]).toBe("opskit-otel-test");
    const root = only(spans, "run deploy");
    expect(root.parentSpanId).toBeUndefined();
    expect(root.spanId).toBe(started.spanId);
    expect(root.attributes).toMatchObject({ "opskit.run.id": started.runId, "opskit.workflow": "deploy", "opskit.run.status": "failed", "opskit.run.failed": 1, "opskit.run.changed": 3 });
    expect(root.status.code).toBe(2);

    const batches = [only(spans, "batch 1/2"), only(spans, "batch 2/2")];
    for (const batch of batches) expect(batch.parentSpanId).toBe(root.spanId);
    const members = [[h1!, h2!], [h3!, h4!]];
    for (const [b, hosts] of members.entries()) {
      for (const host of hosts) {
        const target = only(spans, `target ${host.name}`);
        expect(target.parentSpanId).toBe(batches[b]!.spanId);
        expect(target.attributes).toMatchObject({ "opskit.target.name": host.name, "opskit.target.host": host.address, "opskit.target.label.role": "web", "opskit.target.label.zone": b === 0 ? "a" : "b", "opskit.batch": b + 1 });
        const steps = spans.filter((s) => s.parentSpanId === target.spanId);
        expect(steps.map((s) => s.name).sort()).toEqual(["step check", "step local", "step remote"]);
        for (const step of steps) expect(step.attributes["opskit.target.name"]).toBe(host.name);
        const remote = only(steps, "step remote");
        expect(remote.attributes).toMatchObject({ "opskit.step.action": "ssh", "opskit.step.status": "changed", "opskit.step.exit_code": 0, "opskit.step.attempts": 1, "opskit.step.changed": true });

        // The step's span id is the one its step.started named, and the one its commands were given.
        const startedStep = (name: string) => events.find((e) => e.type === "step.started" && e.target === host.name && e.name === name)!;
        expect(remote.spanId).toBe(startedStep("remote").spanId);
        const remoteOutput = events.find((e) => e.type === "step.finished" && e.target === host.name && e.name === "remote")!.result.stdout;
        expect(remoteOutput).toBe(`TP=00-${traceId}-${remote.spanId}-01\n`);
        const local = only(steps, "step local");
        expect(local.spanId).toBe(startedStep("local").spanId);
        expect(await readFile(join(dir, `${host.name}.tp`), "utf8")).toBe(`00-${traceId}-${local.spanId}-01`);
      }
    }

    // The failure is an error where it happened, with its exit code; what succeeded is not.
    const failedTarget = only(spans, `target ${h4!.name}`);
    expect(failedTarget.status.code).toBe(2);
    expect(failedTarget.attributes["opskit.target.status"]).toBe("failed");
    const check = only(spans, "step check", (s) => s.parentSpanId === failedTarget.spanId);
    expect(check.status).toEqual({ code: 2, message: "exit status 3" });
    expect(check.attributes).toMatchObject({ "opskit.step.status": "failed", "opskit.step.exit_code": 3, "opskit.step.error": "exit status 3" });
    expect(only(spans, `target ${h1!.name}`).status.code).toBe(0);
    expect(only(spans, "step check", (s) => s.parentSpanId === only(spans, `target ${h1!.name}`).spanId).status.code).toBe(0);
  }, 60_000);

  test("the http, probe and notify actions send the step's span as a traceparent header; a step's own traceparent header wins", async () => {
    const seen: { path: string; traceparent: string | null }[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        seen.push({ path: new URL(request.url).pathname, traceparent: request.headers.get("traceparent") });
        return new Response("ok");
      },
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const own = "00-11111111111111111111111111111111-2222222222222222-01";
      const config = await writeYaml("http", [
        "workflows:",
        "  calls:",
        "    targets: local",
        "    steps:",
        `      - { name: api, http: { url: "${base}/http" } }`,
        `      - { name: health, probe: "${base}/probe" }`,
        `      - { name: hook, notify: { url: "${base}/notify" } }`,
        `      - { name: mine, http: { url: "${base}/own", headers: { TraceParent: "${own}" } } }`,
      ]);
      const run = await runOpskit(["run", "--journal", journal, "-c", config, "calls", "--json"], { cwd: dir, env: tracing() });
      expect(run.code).toBe(0);
      const events = jsonLines(run.stdout);
      const traceId = events.find((e) => e.type === "run.started")!.traceId;
      const spanOf = (name: string) => events.find((e) => e.type === "step.started" && e.name === name)!.spanId;
      expect(seen).toEqual([
        { path: "/http", traceparent: `00-${traceId}-${spanOf("api")}-01` },
        { path: "/probe", traceparent: `00-${traceId}-${spanOf("health")}-01` },
        { path: "/notify", traceparent: `00-${traceId}-${spanOf("hook")}-01` },
        { path: "/own", traceparent: own },
      ]);
      // The spans those headers name are the steps' spans in the collector.
      const spans = await otlp.waitFor(() => inTrace(traceId).length >= 7 && inTrace(traceId));
      expect(only(spans, "step api").spanId).toBe(spanOf("api"));
    } finally {
      server.stop(true);
    }
  }, 30_000);

  test("without a collector nothing is passed on (no TRACEPARENT, no header), and the run still has its trace id in the journal", async () => {
    const seen: (string | null)[] = [];
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => (seen.push(request.headers.get("traceparent")), new Response("ok")) });
    try {
      const config = await writeYaml("plain", [
        "workflows:",
        "  plain:",
        "    targets: local",
        "    steps:",
        `      - { name: env, exec: 'echo "TP=[$TRACEPARENT]"' }`,
        `      - { name: api, http: { url: "http://127.0.0.1:${server.port}/" } }`,
      ]);
      const before = otlp.spans().length;
      const run = await runOpskit(["run", "--journal", journal, "-c", config, "plain", "--json"], { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: "", TRACEPARENT: "" } });
      expect(run.code).toBe(0);
      const events = jsonLines(run.stdout);
      expect(events.find((e) => e.type === "step.finished" && e.name === "env")!.result.stdout).toBe("TP=[]\n");
      expect(seen).toEqual([null]);
      const started = events.find((e) => e.type === "run.started")!;
      const shown = JSON.parse((await runOpskit(["runs", "show", started.runId, "--journal", journal, "--json"], { cwd: dir })).stdout);
      expect(shown.run.traceId).toBe(started.traceId);
      expect(otlp.spans().length).toBe(before);
    } finally {
      server.stop(true);
    }
  }, 30_000);

  test("a run started with TRACEPARENT (a CI job, a step of another run) joins the caller's trace under its span", async () => {
    const config = await writeYaml("child", ["workflows:", "  child:", "    targets: local", "    steps: [ { name: one, exec: 'true' } ]"]);
    const parent = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" };
    const run = await runOpskit(["run", "--journal", journal, "-c", config, "child", "--json"], { cwd: dir, env: { ...tracing(), TRACEPARENT: `00-${parent.traceId}-${parent.spanId}-01` } });
    expect(run.code).toBe(0);
    const started = jsonLines(run.stdout).find((e) => e.type === "run.started")!;
    expect(started.traceId).toBe(parent.traceId);
    const root = await otlp.waitFor(() => otlp.spans().find((s) => s.name === "run child" && s.traceId === parent.traceId));
    expect(root.parentSpanId).toBe(parent.spanId);
  }, 30_000);

  test("a collector that is down never fails the run: same exit, the run's output whole, one warning line", async () => {
    const config = await writeYaml("down", ["workflows:", "  down:", "    targets: local", "    steps: [ { name: one, exec: 'echo done' }, { name: two, exec: 'echo again' } ]"]);
    const run = await runOpskit(["run", "--journal", journal, "-c", config, "down", "--json"], { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await refusedPort()}` } });
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).filter((e) => e.type === "step.finished").map((e) => e.status)).toEqual(["changed", "changed"]);
    const warnings = run.stderr.split("\n").filter((line) => line.includes("traces could not be sent"));
    expect(warnings).toHaveLength(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  }, 30_000);

  test("a collector URL that is not one is a config error: file:line:col in the config, the variable's name in the environment", async () => {
    const config = await writeYaml("badurl", ["observability:", "  otlp:", '    endpoint: "collector:4318"', "workflows:", "  w:", "    targets: local", "    steps: [ { exec: 'true' } ]"]);
    const fromConfig = await runOpskit(["run", "--journal", journal, "-c", config, "w"], { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: "" } });
    expect(fromConfig.code).toBe(65);
    expect(fromConfig.stderr).toMatch(/badurl-[0-9a-f]{8}\.yaml:3:15: observability\.otlp\.endpoint: an http:\/\/ or https:\/\/ URL/);
    const good = await writeYaml("goodurl", ["workflows:", "  w:", "    targets: local", "    steps: [ { exec: 'true' } ]"]);
    const fromEnv = await runOpskit(["run", "--journal", journal, "-c", good, "w"], { cwd: dir, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://collector:4317" } });
    expect(fromEnv.code).toBe(65);
    expect(fromEnv.stderr).toContain('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "grpc://collector:4317" is not an http:// or https:// URL');
  }, 30_000);
});

describe("opskit serve: an incident as a trace", () => {
  test("the alert's intake, the approval gate, the approval, the attempt and its run share the incident's stored trace id, each under its parent", async () => {
    const serveDir = writeConfig("");
    const tp = join(serveDir, "step.tp");
    const server = await startServe(
      writeConfig(
        [
          "workflows:",
          "  fix:",
          "    targets: local",
          "    steps:",
          `      - { name: restart, exec: 'printf "%s" "$TRACEPARENT" > ${tp}' }`,
          "rules:",
          "  - name: fix-it",
          "    match: { alertname: Broken }",
          "    run: fix",
          "    approval: true",
          "    maxAttempts: 1",
        ].join("\n"),
        serveDir,
      ),
      { env: tracing() },
    );
    servers.push(server);
    const startsAt = new Date().toISOString();
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", service: "api" }, startsAt }]))).status).toBe(200);
    const waiting = await server.waitFor("/api/v1/incidents/1", (view) => view.attempts?.[0]?.status === "awaiting_approval" && view);
    const traceId: string = waiting.incident.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect((await server.post("/api/v1/incidents/1/approve", { by: "ana" })).status).toBe(200);
    const ran = await server.waitFor("/api/v1/incidents/1", (view) => view.attempts?.[0]?.status === "succeeded" && view);
    const runId: string = ran.attempts[0].runId;
    // The run is recorded in the incident's trace.
    expect((await server.get(`/api/v1/runs/${runId}`)).run.traceId).toBe(traceId);
    // Resolved: the incident's root span is exported too.
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", service: "api" }, status: "resolved", startsAt }]))).status).toBe(200);

    const spans = await otlp.waitFor(() => {
      const found = inTrace(traceId);
      return found.some((s) => s.name === "incident 1") && found.some((s) => s.name === "step restart") && found;
    }, 20_000);
    const root = only(spans, "incident 1");
    expect(root.parentSpanId).toBeUndefined();
    expect(root.attributes).toMatchObject({ "opskit.incident.id": 1, "opskit.incident.title": "Broken", "opskit.incident.resolution": "alert resolved" });
    expect(root.events.map((e) => e.name)).toEqual(expect.arrayContaining(["started", "detected", "remediation_started", "remediated", "resolved"]));

    const intake = only(spans, "alert.received", (s) => s.attributes["opskit.alert.outcome"] === "opened");
    const opened = only(spans, "incident.opened");
    const gates = spans.filter((s) => s.name.startsWith("gate "));
    const approved = only(spans, "remediation.approved");
    const attempt = only(spans, "attempt 1");
    for (const span of [intake, opened, ...gates, approved, attempt]) expect(span.parentSpanId).toBe(root.spanId);
    expect(gates.length).toBeGreaterThan(0);
    expect(gates.some((g) => g.attributes["opskit.gate"] === "approval")).toBe(true);
    expect(opened.attributes).toMatchObject({ "opskit.alert.label.service": "api", "opskit.rule": "fix-it" });
    expect(approved.attributes).toMatchObject({ "opskit.attempt": 1 });
    expect(attempt.attributes).toMatchObject({ "opskit.run.id": runId, "opskit.attempt.status": "succeeded", "opskit.workflow": "fix" });

    const run = only(spans, "run fix");
    expect(run.parentSpanId).toBe(attempt.spanId);
    expect(run.attributes["opskit.run.id"]).toBe(runId);
    const batch = only(spans, "batch 1/1");
    expect(batch.parentSpanId).toBe(run.spanId);
    const target = only(spans, "target local");
    expect(target.parentSpanId).toBe(batch.spanId);
    const step = only(spans, "step restart");
    expect(step.parentSpanId).toBe(target.spanId);
    expect(await readFile(tp, "utf8")).toBe(`00-${traceId}-${step.spanId}-01`);

    // The incidents CLI shows the trace id too.
    const cli = await runOpskit(["incidents", "show", "1", "--server", server.url], { cwd: serveDir, env: { ...(server.token ? { OPSKIT_TOKEN: server.token } : {}) } });
    expect(cli.stdout).toContain(`trace ${traceId}`);
  }, 60_000);

  test("a failed attempt is an error span, and the escalation it leads to runs under the incident's escalation span in the same trace", async () => {
    const serveDir = writeConfig("");
    const tp = join(serveDir, "escalation.tp");
    const server = await startServe(
      writeConfig(
        [
          "workflows:",
          "  fix:",
          "    targets: local",
          "    steps:",
          "      - { name: restart, exec: 'echo nope >&2; exit 4' }",
          "rules:",
          "  - name: fix-it",
          "    match: { alertname: Down }",
          "    run: fix",
          "    maxAttempts: 1",
          "    escalate:",
          `      - { name: page, exec: 'printf "%s" "$TRACEPARENT" > ${tp}' }`,
        ].join("\n"),
        serveDir,
      ),
      { env: tracing() },
    );
    servers.push(server);
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Down" } }]))).status).toBe(200);
    const view = await server.waitFor("/api/v1/incidents/1", (v) => v.incident?.escalated && v.attempts?.[0]?.status === "failed" && v);
    const traceId: string = view.incident.traceId;
    const spans = await otlp.waitFor(() => {
      const found = inTrace(traceId);
      return found.some((s) => s.name === "step page") && found.some((s) => s.name === "attempt 1") && found;
    }, 20_000);
    const attempt = only(spans, "attempt 1");
    expect(attempt.status.code).toBe(2);
    expect(attempt.attributes["opskit.attempt.status"]).toBe("failed");
    const fix = only(spans, "run fix");
    expect(fix.parentSpanId).toBe(attempt.spanId);
    expect(fix.status.code).toBe(2);
    expect(only(spans, "step restart").attributes).toMatchObject({ "opskit.step.exit_code": 4, "opskit.step.status": "failed" });
    const escalated = only(spans, "incident.escalated");
    const escalation = only(spans, "run escalate:fix-it");
    expect(escalation.parentSpanId).toBe(escalated.spanId);
    expect(escalated.parentSpanId).toBe(attempt.parentSpanId);
    const page = only(spans, "step page");
    expect(await readFile(tp, "utf8")).toBe(`00-${traceId}-${page.spanId}-01`);
  }, 60_000);
});
