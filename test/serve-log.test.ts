import { afterEach, describe, expect, test } from "bun:test";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// `opskit serve --log-format json`: the server's log as one JSON object a
// line on stderr, at the level asked for, with no secret in it.

const SERVER_TOKEN = `log-test-token-${crypto.randomUUID()}`;
const DB_PASSWORD = `log-test-db-${crypto.randomUUID()}`;

const running: ServeProcess[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});

async function serve(yaml: string, args: string[], env: Record<string, string> = {}, token?: string) {
  const server = await startServe(writeConfig(yaml), { args, env, ...(token ? { token } : {}) });
  running.push(server);
  return server;
}

type Line = Record<string, unknown> & { level: string; time: string; msg: string };

/** Every JSON line of the output; anything else on it fails the test, naming the line. */
function jsonLines(output: string): Line[] {
  return output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as Line;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

const failingFix = `
workflows:
  fix:
    targets: local
    steps:
      - name: fix
        exec:
          command: 'echo "cannot reach db with $DB_PASSWORD" >&2; exit 3'
          env: { DB_PASSWORD: "env:LOG_TEST_DB_PASSWORD" }
rules:
  - name: fix-it
    match: { alertname: Broken }
    run: fix
server: { token: env:LOG_TEST_TOKEN }
`;

describe("opskit serve --log-format json", () => {
  test("every line is JSON with level, time and msg; incidents, notices and debug lines are there; registered secrets never appear", async () => {
    const server = await serve(failingFix, ["--log-format", "json", "--log-level", "debug"], { LOG_TEST_TOKEN: SERVER_TOKEN, LOG_TEST_DB_PASSWORD: DB_PASSWORD }, SERVER_TOKEN);
    // Alerts carrying the secrets, as a careless sender's might: the server's token, then (once
    // the workflow has resolved it) the database password its step references.
    const first = await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", leaked: SERVER_TOKEN } }]));
    expect(first.status).toBe(200);
    await server.waitFor("/api/v1/incidents/1", (v) => (v.attempts?.[0]?.status === "failed" ? v : false));
    const second = await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", leaked: DB_PASSWORD } }]));
    expect(second.status).toBe(200);
    await server.waitFor("/api/v1/incidents/2", (v) => v);
    expect(await server.stop()).toBe(0);

    const output = server.output();
    const lines = jsonLines(output);
    for (const line of lines) {
      expect(typeof line.level).toBe("string");
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
      expect(typeof line.msg).toBe("string");
    }
    const levels = new Set(lines.map((l) => l.level));
    expect(levels.has("info")).toBe(true);
    expect(levels.has("debug")).toBe(true);
    expect(lines.find((l) => l.type === "server.started")?.url).toBe(server.url);
    const opened = lines.filter((l) => l.type === "incident.opened");
    expect(opened.map((l) => [l.level, l.incidentId, l.rule, l.labels])).toEqual([
      ["info", 1, "fix-it", { alertname: "Broken", leaked: "***" }],
      ["info", 2, "fix-it", { alertname: "Broken", leaked: "***" }],
    ]);
    expect(opened[0]!.msg).toStartWith("incident 1 opened: Broken");
    // The incident's trace: its lines carry trace_id, the OpenTelemetry log data model's name, as a log pipeline links it to the trace.
    const traceId = opened[0]!.traceId as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(opened.map((l) => l.trace_id)).toEqual([traceId, opened[1]!.traceId]);
    expect(opened[1]!.trace_id).not.toBe(traceId);
    const started = lines.find((l) => l.type === "remediation.started" && l.incidentId === 1)!;
    expect(started.trace_id).toBe(traceId);
    expect(started.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(started.span_id).toBe(started.spanId);
    expect(lines.find((l) => l.type === "remediation.finished")).toMatchObject({ level: "info", incidentId: 1, status: "failed" });
    expect(lines.some((l) => l.type === "server.stopped")).toBe(true);
    expect(output).not.toContain(SERVER_TOKEN);
    expect(output).not.toContain(DB_PASSWORD);
  }, 60_000);

  test("at level warn (observability.logLevel) warnings stay and info lines go; --json's events on stdout are not filtered", async () => {
    const verbose = await serve("server: { auth: none }\n", ["--log-format", "json", "--log-level", "info"]);
    expect(await verbose.stop()).toBe(0);
    const all = jsonLines(verbose.output());
    expect(all.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([expect.stringContaining("server.auth is none")]);
    expect(all.some((l) => l.level === "info")).toBe(true);

    const quiet = await serve("server: { auth: none }\nobservability: { logLevel: warn }\n", ["--log-format", "json", "--json"]);
    expect(await quiet.stop()).toBe(0);
    const lines: Record<string, unknown>[] = jsonLines(quiet.output());
    // --json's events (no level) on stdout, the log's lines (with one) on stderr.
    const log = lines.filter((l) => "level" in l);
    const events = lines.filter((l) => !("level" in l));
    expect(log.map((l) => [l.level, l.msg])).toEqual([["warn", expect.stringContaining("server.auth is none")]]);
    expect(events.map((e) => e.type)).toEqual(["server.started", "server.stopping", "server.stopped"]);
  }, 60_000);

  test("text, the default: --log-level warn drops the info lines and keeps the warning", async () => {
    const server = await serve("server: { auth: none }\n", ["--log-level", "warn", "--json"]);
    expect(await server.stop()).toBe(0);
    const text = server.output().split("\n").filter((line) => line !== "" && !line.startsWith("{"));
    expect(text).toEqual([expect.stringMatching(/^opskit serve: WARNING: server\.auth is none/)]);
  }, 60_000);
});
