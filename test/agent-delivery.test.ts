// opskit agent's core against a real opskit serve: alerts raised and
// resolved at the server, the server down during a burst (spooled, then
// delivered, none lost, none twice), backpressure without loss, and config
// errors at file:line:col. The agent runs in-process with a source written
// here (it emits what the test tells it, honouring backpressure), so the
// burst and its timing are the test's.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentRule } from "../src/config/index.ts";
import type { AgentEvent, AgentHandle, AgentSource, CompiledAgent, SourceContext } from "../src/agent/index.ts";
import { startAgent } from "../src/agent/index.ts";
import type { AgentSettings } from "../src/agent/compile.ts";
import { compileAgentRules } from "../src/agent/rules.ts";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { startOtlpReceiver } from "./harness/otlp.ts";
import { collectOutput, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-agent-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A source the test drives: push() emits events as a real source must, pausing on a full queue until drained(). */
function drivenSource() {
  let context: SourceContext | undefined;
  const stats = { emitted: 0, refused: 0 };
  const source: AgentSource<Record<string, never>> = {
    kind: "driven",
    schema: (kit) => kit.z.object({}).strict() as never,
    async start(_spec, ctx) {
      context = ctx;
      return { stop: async () => undefined };
    },
  };
  return {
    source,
    stats,
    /** Emits every event, waiting while the queue is full. */
    async push(events: Iterable<Omit<AgentEvent, "source">>): Promise<void> {
      if (!context) throw new Error("source not started");
      for (const event of events) {
        const full = { source: context.name, ...event };
        while (!context.emit(full)) {
          stats.refused++;
          await context.drained();
        }
        stats.emitted++;
      }
    },
  };
}

type RuleInit = Pick<AgentRule, "name" | "when"> & Partial<AgentRule>;

async function compiledAgent(sourceName: string, source: AgentSource<any>, rules: RuleInit[], settings: Partial<AgentSettings>): Promise<CompiledAgent> {
  const compiled = await compileAgentRules(
    rules.map((r) => ({ labels: {}, annotations: {}, ...r })),
    (index, ...path) => `test rules[${index}].${path.join(".")}`,
    [sourceName],
    300_000,
  );
  return {
    settings: { stateDir: tempDir(), batchMax: 500, lingerMs: 0, queue: 10_000, spoolMaxBytes: 64 * 1024 * 1024, windowsMs: 300_000, ...settings },
    sources: [{ name: sourceName, kind: source.kind, source, spec: {}, key: "comm" }],
    rules: compiled.rules,
    clock: compiled.clock,
    where: (path) => `agent.${path.join(".")}`,
  };
}

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

async function serve(): Promise<ServeProcess> {
  const server = await startServe(writeConfig("rules: []\n"));
  cleanups.push(() => server.child.exitCode === null && server.kill());
  return server;
}

async function agentFor(server: ServeProcess, rules: RuleInit[], settings: Partial<AgentSettings> = {}) {
  const driven = drivenSource();
  const notices: string[] = [];
  const compiled = await compiledAgent("test", driven.source, rules, { server: { url: server.url, timeoutMs: 2_000 }, ...settings });
  const handle: AgentHandle = await startAgent(compiled, { version: "test", token: server.token!, notice: (line) => notices.push(line) });
  cleanups.push(() => handle.stop());
  return { driven, handle, notices, compiled };
}

/** The raw notifications the server committed, from its journal: [id label, status] in the order received. */
function journalNotifications(journal: string): { id: string; status: string; alertname: string }[] {
  const db = new Database(journal, { readonly: true });
  try {
    const rows = db.query<{ body: string }, []>("SELECT body FROM notifications ORDER BY id").all();
    return rows.flatMap((row) => {
      const body = JSON.parse(row.body) as unknown;
      const alerts = (Array.isArray(body) ? body : [body]) as { labels: Record<string, string>; status?: string }[];
      return alerts.map((a) => ({ id: a.labels.id ?? "", status: a.status ?? "firing", alertname: a.labels.alertname ?? "" }));
    });
  } finally {
    db.close();
  }
}

const metric = (handle: AgentHandle, line: string) => {
  const found = handle.core.registry.render().split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
};

describe("opskit agent delivering to opskit serve", () => {
  test("server down for 10 s during a burst: spooled, then delivered in order, none lost, none twice", async () => {
    const server = await serve();
    const port = new URL(server.url).port;
    const { driven, handle, notices } = await agentFor(server, [{ name: "burst", when: 'event.kind == "burst"', labels: { id: "{{ event.fields.id }}" }, resolveAfter: "2s" }]);
    const burst = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ kind: "burst", time: Date.now(), fields: { id: from + i } }));
    await driven.push(burst(0, 50));
    await until("the first 50 alerts delivered", () => metric(handle, "opskit_agent_alerts_delivered_total") === 50);

    expect(await server.stop()).toBe(0);
    const downAt = Date.now();
    await driven.push(burst(50, 550));
    // Firing notices for the burst, then resolved ones for all 550 (2 s after each one's match), all while the server is away.
    await until("everything spooled", () => handle.spool.count === 1050);
    expect(handle.delivery.reachable).toBe(false);
    expect(metric(handle, "opskit_agent_delivery_failures_total")).toBeGreaterThan(0);
    expect(metric(handle, "opskit_agent_spool_bytes")).toBeGreaterThan(0);
    await Bun.sleep(Math.max(0, 10_000 - (Date.now() - downAt)));

    const back = await startServe(server.dir, { journal: server.journal, args: ["--listen", `127.0.0.1:${port}`] });
    cleanups.push(() => back.child.exitCode === null && back.kill());
    await until("the spool drained", () => handle.spool.count === 0 && metric(handle, "opskit_agent_alerts_delivered_total") === 1100, 60_000);
    expect(notices.some((n) => n.includes("cannot deliver alerts"))).toBe(true);
    expect(notices.some((n) => n.includes("answers again"))).toBe(true);
    expect(metric(handle, 'opskit_agent_alerts_dropped_total{reason="spool_full"}')).toBe(0);
    await handle.stop();
    expect(await back.stop()).toBe(0);

    const received = journalNotifications(server.journal);
    const seen = new Map<string, string[]>();
    for (const n of received) seen.set(n.id, [...(seen.get(n.id) ?? []), n.status]);
    expect(seen.size).toBe(550);
    // Exactly once per alert and status, firing before resolved.
    for (const [id, statuses] of seen) expect({ id, statuses }).toEqual({ id, statuses: ["firing", "resolved"] });
    const db = new Database(server.journal, { readonly: true });
    const incidents = db.query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM incidents GROUP BY status").all();
    db.close();
    expect(incidents).toEqual([{ status: "resolved", n: 550 }]);
  }, 120_000);

  test("alerts raised and resolved at the server: a rule over events and a rule over windows", async () => {
    const server = await serve();
    const { driven, handle } = await agentFor(server, [
      { name: "oom", when: 'event.kind == "oom"', labels: { alertname: "OOMKill", process: "{{ event.comm }}" }, annotations: { summary: "{{ event.comm }} was killed" }, resolveAfter: "1s" },
      { name: "oom-storm", when: 'window("test", "oom", "3s") >= 3', labels: { alertname: "OOMStorm", severity: "page" } },
    ]);
    // A process name no one would choose, to show it travels as data all the way.
    const hostile = `java"} {{ x }} $(id)`;
    await driven.push([0, 1, 2].map((i) => ({ kind: "oom", time: Date.now(), pid: 100 + i, comm: i === 2 ? hostile : "java", fields: {} })));
    const open = await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.length === 3 && body.incidents);
    const titles = open.map((i: any) => `${i.labels.alertname}:${i.labels.process ?? ""}`).sort();
    expect(titles).toEqual(["OOMKill:java", `OOMKill:${hostile}`, "OOMStorm:"]);
    const java = open.find((i: any) => i.labels.process === "java");
    expect(java.annotations.summary).toBe("java was killed");
    expect(java.labels.instance).toBeString();
    // The OOMs stop: the event rule resolves 1 s after, the window rule once 3 s have passed.
    await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.length === 3 && body.incidents.every((i: any) => i.status === "resolved"), 30_000);
    expect(metric(handle, 'opskit_agent_alerts_raised_total{rule="oom",status="resolved"}')).toBe(2);
    expect(metric(handle, 'opskit_agent_alerts_raised_total{rule="oom-storm",status="resolved"}')).toBe(1);
  }, 60_000);

  test("backpressure: a full queue pauses the source and nothing is lost", async () => {
    const server = await serve();
    const total = 20_000;
    const { driven, handle } = await agentFor(server, [{ name: "all-seen", when: `window("test", "5m") >= ${total}`, labels: { alertname: "AllSeen" } }], { queue: 16 });
    const started = performance.now();
    await driven.push(Array.from({ length: total }, (_, i) => ({ kind: "tick", time: Date.now(), fields: { i } })));
    const seconds = (performance.now() - started) / 1000;
    await until("every event handled", () => metric(handle, 'opskit_agent_events_total{source="test",kind="tick"}') === total);
    expect(driven.stats.emitted).toBe(total);
    expect(driven.stats.refused).toBeGreaterThan(0);
    expect(metric(handle, 'opskit_agent_queue_full_total{source="test"}')).toBe(driven.stats.refused);
    expect(metric(handle, "opskit_agent_queue_depth")).toBeLessThanOrEqual(16);
    await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.some((i: any) => i.labels.alertname === "AllSeen"));
    console.log(`backpressure: ${total} events through a 16-slot queue in ${seconds.toFixed(2)} s, the source paused ${driven.stats.refused} times`);
  }, 60_000);
});

describe("opskit agent config", () => {
  const check = async (yaml: string) => {
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), yaml);
    const validate = await runOpskit(["validate", "-c", "."], { cwd: dir });
    const agent = await runOpskit(["agent", "-c", ".", "--once"], { cwd: dir });
    return { validate, agent };
  };

  test("errors point at file:line:col and exit 65, in opskit validate and opskit agent alike", async () => {
    const cases: [string, string][] = [
      ['agent:\n  rules:\n    - name: a\n      when: event.kind == "oom" &&\n', "opskit.yaml:4:13: agent.rules[0].when: invalid expression"],
      ['agent:\n  rules:\n    - name: a\n      when: window("nginx", "1m") > 3\n', 'opskit.yaml:4:13: agent.rules[0].when: window("nginx", ...) names no configured source'],
      ["agent:\n  sources:\n    - name: x\n      bogus: {}\n", "opskit.yaml:4:7: agent.sources[0]"],
      ['agent:\n  spool: { maxBytes: "lots" }\n', "opskit.yaml:2:22: agent.spool.maxBytes"],
      ['agent:\n  rules:\n    - name: a\n      when: "true"\n      labels: { x: "{{ event.comm }}" }\n', "opskit.yaml:5:20: agent.rules[0].labels.x: a rule over windows has no event to template from"],
      ["agent:\n  windows: 5m\n  rules:\n    - { name: a, when: 'true' }\n    - { name: a, when: 'false' }\n", 'opskit.yaml:5:15: agent rule "a" is already defined at opskit.yaml:4:15'],
    ];
    for (const [yaml, message] of cases) {
      const { validate, agent } = await check(yaml);
      expect({ yaml, code: validate.code, stderr: validate.stderr }).toMatchObject({ yaml, code: 65, stderr: expect.stringContaining(`opskit: ${message}`) });
      expect({ yaml, code: agent.code, stderr: agent.stderr }).toMatchObject({ yaml, code: 65, stderr: expect.stringContaining(`opskit: ${message}`) });
    }
  }, 60_000);

  test("the agent checks agent: (and observability:) alone: a workflow error stops opskit validate, not the agent; a YAML error anywhere stops both", async () => {
    const rules = "agent:\n  rules:\n    - name: always\n      when: 'true'\n";
    const { validate, agent } = await check(`workflows:\n  deploy:\n    steps: [{ shh: uptime }]\n${rules}`);
    expect(validate.code).toBe(65);
    expect(validate.stderr).toContain("opskit: opskit.yaml:3:");
    expect({ code: agent.code, stderr: agent.stderr }).toEqual({ code: 0, stderr: "" });
    expect(agent.stdout).toContain("1 alert would be sent");
    const broken = await check(`workflows:\n  deploy: [\n${rules}`);
    for (const run of [broken.validate, broken.agent]) expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 65, stderr: expect.stringMatching(/^opskit: opskit\.yaml:\d+:\d+: /) });
    // A usage error stays one (64), as in every command.
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), rules);
    const [validateEnv, agentEnv] = await Promise.all([runOpskit(["validate", "-c", ".", "--env", "prod"], { cwd: dir }), runOpskit(["agent", "-c", ".", "--env", "prod", "--once"], { cwd: dir })]);
    expect(validateEnv.code).toBe(64);
    expect({ code: agentEnv.code, stderr: agentEnv.stderr }).toEqual({ code: 64, stderr: validateEnv.stderr });
  }, 60_000);

  test("a running agent needs agent.server; validate accepts a config without one", async () => {
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), `agent:\n  stateDir: ${join(dir, "state")}\n  rules:\n    - name: always\n      when: "true"\n`);
    const run = await runOpskit(["agent", "-c", dir]);
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit.yaml:1:1: agent.server is not set");
    const validate = await runOpskit(["validate", "-c", dir]);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain("agent: 0 sources and 1 rule");
    const once = await runOpskit(["agent", "-c", dir, "--once", "--json"]);
    expect(once.code).toBe(0);
    const lines = once.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(["alert", "summary"]);
    expect(lines[0].labels.alertname).toBe("always");
    expect(lines[1]).toMatchObject({ alerts: 1, sent: false });
  }, 60_000);

  test("opskit schema describes agent:, its rules and its sources' kinds", async () => {
    const run = await runOpskit(["schema"]);
    expect(run.code).toBe(0);
    const agent = JSON.parse(run.stdout).properties.agent;
    expect(Object.keys(agent.properties)).toEqual(expect.arrayContaining(["server", "sources", "rules", "windows", "spool", "queue", "batch", "listen", "stateDir"]));
    expect(agent.properties.rules.items.properties.when.description).toContain("window(");
    expect(agent.properties.sources.items.properties.name).toBeDefined();
  }, 60_000);
});

/** A config whose agent tails one log file and raises an alert per OOM line, labelled by the killed process. */
function logAgentConfig(dir: string, server: string | undefined, tokenFile?: string): string {
  return `agent:
${server ? `  server: { url: ${server}, token: "file:${tokenFile}", timeout: 2s }\n` : ""}  stateDir: ${join(dir, "state")}
  sources:
    - name: app
      files: { paths: ["${join(dir, "logs")}/*.log"] }
  rules:
    - name: oom
      when: log.message.contains("Out of memory")
      labels: { alertname: OOMKill, process: '{{ log.message.split("(")[1].split(")")[0] }}' }
      annotations: { line: "{{ log.message }}" }
      resolveAfter: 2s
`;
}

async function writeLog(dir: string, lines: string[]): Promise<void> {
  const { appendFileSync, mkdirSync } = await import("node:fs");
  mkdirSync(join(dir, "logs"), { recursive: true });
  appendFileSync(join(dir, "logs", "app.log"), lines.map((l) => `${l}\n`).join(""));
}

/** Starts `opskit agent` in `dir` with /metrics on a free port; resolves once it says it runs. */
async function startAgentProcess(dir: string) {
  const child = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "agent", "-c", ".", "--listen", "127.0.0.1:0"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  cleanups.push(() => child.exitCode === null && child.kill("SIGKILL"));
  const output = collectOutput(child);
  const started = await until("the agent's start line", () => /metrics on (http:\/\/[\d.:]+)\/metrics/.exec(output.text()) ?? (child.exitCode !== null && ["", "exited"]) ?? undefined);
  if (!started[1]) throw new Error(`opskit agent did not start:\n${output.text()}`);
  return { child, output, metrics: started[1] };
}

describe("opskit agent with the files source", () => {
  test("--once prints the alerts the current log would raise, as text or JSON, sends them only with --send, and moves no offset", async () => {
    const server = await serve();
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), logAgentConfig(dir, server.url, join(server.dir, "server.token")));
    await writeLog(dir, ["starting", "kernel: Out of memory: Killed process 42 (java)", "ok", "kernel: Out of memory: Killed process 43 (x$HOME`id`'\"{{ log }}y)", "kernel: Out of memory: Killed process 44 (java)"]);
    const text = await runOpskit(["agent", "-c", ".", "--once"], { cwd: dir });
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toStartWith('firing OOMKill {alertname="OOMKill", process="java", instance=');
    expect(lines[1]).toContain('process="x$HOME`id`\'\\"{{ log }}y"');
    expect(lines[2]).toBe("2 alerts would be sent (app: 5 events)");
    const json = await runOpskit(["agent", "-c", ".", "--once", "--json"], { cwd: dir });
    const objects = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(objects.map((o) => o.type)).toEqual(["alert", "alert", "summary"]);
    expect(objects[0]).toMatchObject({ rule: "oom", status: "firing", labels: { alertname: "OOMKill", process: "java" }, annotations: { line: "kernel: Out of memory: Killed process 42 (java)" } });
    expect(objects[2]).toMatchObject({ alerts: 2, events: { app: 5 }, sent: false });
    expect((await server.get("/api/v1/incidents?status=all")).incidents).toHaveLength(0);
    const sent = await runOpskit(["agent", "-c", ".", "--once", "--send"], { cwd: dir });
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain("2 alerts sent (app: 5 events)");
    const incidents = await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.length === 2 && body.incidents);
    expect(incidents.map((i: any) => i.labels.process).sort()).toEqual(["java", "x$HOME`id`'\"{{ log }}y"]);
  }, 60_000);

  test("stopped by SIGTERM while the server is away, it keeps its alerts in the spool; the next start delivers them", async () => {
    const server = await serve();
    const port = new URL(server.url).port;
    const tokenFile = join(server.dir, "server.token");
    expect(await server.stop()).toBe(0);
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), logAgentConfig(dir, server.url, tokenFile));
    await writeLog(dir, []);
    const start = () => startAgentProcess(dir);
    const first = await start();
    await writeLog(dir, Array.from({ length: 20 }, (_, i) => `kernel: Out of memory: Killed process ${i} (proc-${i})`));
    // Twenty firing notices and, 2 s later, twenty resolved ones, none deliverable.
    await until("40 alerts spooled", async () => /opskit_agent_spool_alerts 40\b/.test(await (await fetch(`${first.metrics}/metrics`)).text()), 30_000);
    const health = await (await fetch(`${first.metrics}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", server: "unreachable", spooled: 40 });
    first.child.kill("SIGTERM");
    expect(await first.child.exited).toBe(0);
    expect(first.output.text()).toContain("SIGTERM: stopped; 40 alerts spooled for the next start");
    expect(first.output.text()).toContain("cannot deliver alerts to http://127.0.0.1:");

    const back = await startServe(server.dir, { journal: server.journal, args: ["--listen", `127.0.0.1:${port}`] });
    cleanups.push(() => back.child.exitCode === null && back.kill());
    const second = await start();
    expect(second.output.text()).toContain("40 alerts spooled from before");
    const incidents = await back.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.length === 20 && body.incidents.every((i: any) => i.status === "resolved") && body.incidents, 30_000);
    expect(incidents.map((i: any) => i.labels.process).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `proc-${i}`).sort());
    await until("the spool drained", async () => /opskit_agent_spool_alerts 0\b/.test(await (await fetch(`${second.metrics}/metrics`)).text()));
    // The log was read once: the restart read nothing again and raised nothing.
    const metrics = await (await fetch(`${second.metrics}/metrics`)).text();
    expect(metrics).toContain("opskit_agent_alerts_delivered_total 40");
    expect(metrics).not.toContain('opskit_agent_events_total{source="app"');
    expect(metrics).not.toContain("opskit_agent_alerts_raised_total{");
    second.child.kill("SIGTERM");
    expect(await second.child.exited).toBe(0);
  }, 90_000);

  test("exports its metrics over OTLP when observability.otlp is configured: events by source and kind, delivered alerts and their latency", async () => {
    const otlp = await startOtlpReceiver();
    cleanups.push(() => otlp.stop());
    const server = await serve();
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), `${logAgentConfig(dir, server.url, join(server.dir, "server.token"))}observability:\n  otlp: { endpoint: ${otlp.url}, metricsInterval: 200ms }\n`);
    await writeLog(dir, ["hello", "kernel: Out of memory: Killed process 7 (java)", "bye"]);
    const agent = await startAgentProcess(dir);
    const events = await otlp.waitFor(() => otlp.metrics().findLast((m) => m.name === "opskit_agent_events_total" && m.dataPoints.some((p) => p.attributes.source === "app" && p.attributes.kind === "log" && p.value === 3)));
    expect(events).toMatchObject({ type: "sum", isMonotonic: true });
    expect(events.resource["service.instance.id"]).toBeString();
    const latency = await otlp.waitFor(() => otlp.metrics().findLast((m) => m.name === "opskit_agent_delivery_latency_seconds" && m.dataPoints.some((p) => p.count === 1)));
    expect(latency).toMatchObject({ type: "histogram", unit: "s" });
    await otlp.waitFor(() => otlp.metrics().findLast((m) => m.name === "opskit_agent_alerts_delivered_total" && m.dataPoints.some((p) => p.value === 1)));
    agent.child.kill("SIGTERM");
    expect(await agent.child.exited).toBe(0);
  }, 60_000);

  test("an alert firing when the agent is killed with kill -9 still resolves at the server after the restart", async () => {
    const server = await serve();
    const dir = tempDir();
    await Bun.write(join(dir, "opskit.yaml"), logAgentConfig(dir, server.url, join(server.dir, "server.token")));
    await writeLog(dir, []);
    const first = await startAgentProcess(dir);
    await writeLog(dir, ["kernel: Out of memory: Killed process 9 (postgres)"]);
    await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.length === 1 && body.incidents[0].status === "open");
    // The firing alert reaches the state file within a second of being raised.
    await until("the firing alert saved", async () => (await Bun.file(join(dir, "state", "alerts.json")).text().catch(() => "")).includes("postgres"));
    first.child.kill("SIGKILL");
    await first.child.exited;
    const second = await startAgentProcess(dir);
    const resolved = await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.length === 1 && body.incidents[0].status === "resolved" && body.incidents[0], 30_000);
    expect(resolved.labels.process).toBe("postgres");
    // Resolved from the saved state, not raised again from a re-read line.
    const metrics = await (await fetch(`${second.metrics}/metrics`)).text();
    expect(metrics).toContain('opskit_agent_alerts_raised_total{rule="oom",status="resolved"} 1');
    expect(metrics).not.toContain('opskit_agent_alerts_raised_total{rule="oom",status="firing"}');
    second.child.kill("SIGTERM");
    expect(await second.child.exited).toBe(0);
  }, 60_000);
});
