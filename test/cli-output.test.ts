// `-o json` and `-o yaml` on every command that prints data, through the
// built executable: both parse, and they say the same (fields that change
// from one run to the next, such as times and ids, are compared by name only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { builtBinary, runBuilt } from "./harness/binary.ts";
import { repoRoot, type CliOptions } from "./harness/cli.ts";
import { hostileValues } from "./harness/hostile.ts";
import { startHttpServer } from "./harness/http.ts";
import { alertmanagerNotification, startServe, type ServeProcess } from "./harness/serve.ts";

let dir: string;
let http: Server<undefined>;
let server: ServeProcess;

const config = `
inventory:
  hosts:
    web-1: { address: 192.0.2.10, labels: { role: web } }
    web-2: { address: 192.0.2.11, labels: { role: web } }
workflows:
  uptime:
    targets: role=web
    schedule: { cron: "0 3 * * *" }
    steps:
      - name: uptime
        ssh: uptime
  restart:
    targets: role=web
    steps:
      - ssh: "true"
rules:
  - name: restart-web
    match: { alertname: WebDown }
    run: restart
    approval: true
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-output-"));
  http = startHttpServer();
  await writeFile(join(dir, "opskit.yaml"), config);
  await writeFile(join(dir, "job.sh"), "#!/bin/sh\necho done\n", { mode: 0o755 });
  await writeFile(join(dir, "pager.csv"), "id,title,service,started,resolved\nP1,api down,api,2026-11-01T10:00:00Z,2026-11-01T10:30:00Z\n");
  // The agent's shipped example, reading a log in this directory.
  mkdirSync(join(dir, "agent", "logs"), { recursive: true });
  const agent = readFileSync(join(repoRoot, "examples/agent/opskit.yaml"), "utf8").replace("/var/lib/opskit-agent", join(dir, "agent", "state")).replace("/var/log/app/*.log", join(dir, "agent", "logs/*.log"));
  await writeFile(join(dir, "agent", "opskit.yaml"), agent);
  await writeFile(join(dir, "agent", "logs", "app.log"), "2026-12-06 10:00:00 error Out of memory: killed worker\n2026-12-06 10:00:01 info ok\n");
  // A server for the client commands, with one incident held for approval.
  const serveDir = join(dir, "serve");
  await mkdir(serveDir);
  await writeFile(join(serveDir, "opskit.yaml"), config);
  server = await startServe(serveDir, { executable: await builtBinary() });
  await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "WebDown", host: "web-1" } }]));
  await server.waitFor("/api/v1/incidents", (v) => v.incidents.length === 1);
}, 120_000);

afterAll(async () => {
  http?.stop(true);
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const journal = () => join(dir, "journal.db");
const clientEnv = () => ({ OPSKIT_SERVER: server.url, ...(server.token ? { OPSKIT_TOKEN: server.token } : {}) });

/** Keys whose values differ between two runs of the same command line. */
const volatile = /^(at|startedAt|finishedAt|runId|id|traceId|spanId|parentSpanId|commit|owner|cwd|next|last|ip|date)$|Ms$|At$/;

function stable(value: unknown, key = ""): unknown {
  if (volatile.test(key) || key === "timings") return `<${typeof value}>`;
  // The agent's events read per source: the kernel's count is whatever the machine did meanwhile.
  if (key === "events" && value !== null && typeof value === "object") return Object.keys(value).sort();
  if (Array.isArray(value)) return value.map((item) => stable(item));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stable(v, k)]));
  return value;
}

/** The command line with -o json, then with -o yaml (right after the command: a command's own arguments may follow --). */
async function both(args: string[] | ((format: string) => string[]), options: CliOptions = {}): Promise<{ json: unknown[]; yaml: unknown[]; yamlText: string }> {
  const argv = (format: string) => {
    const [command, ...rest] = typeof args === "function" ? args(format) : args;
    return [command!, "-o", format, ...rest];
  };
  const json = await runBuilt(argv("json"), { cwd: dir, ...options });
  const yaml = await runBuilt(argv("yaml"), { cwd: dir, ...options });
  expect({ args, code: json.code, stderr: json.stderr }).toEqual({ args, code: yaml.code, stderr: yaml.stderr });
  const lines = json.stdout.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as unknown);
  const documents = parseAllDocuments(yaml.stdout);
  for (const document of documents) expect(document.errors).toEqual([]);
  return { json: lines, yaml: documents.map((document) => document.toJS() as unknown), yamlText: yaml.stdout };
}

describe("-o json and -o yaml parse and agree", () => {
  test.each([
    ["probe", () => ["probe", `http://127.0.0.1:${http.port}/ok`, `http://127.0.0.1:${http.port}/json`]],
    ["inventory", () => ["inventory", "role=web"]],
    ["run --dry-run", () => ["run", "uptime", "--dry-run"]],
    ["exec --dry-run", () => ["exec", "role=web", "--dry-run", "--", "uptime"]],
    ["wrap", () => ["wrap", "--journal", journal(), "--", "./job.sh"]],
    ["shadow", () => ["shadow", "same", "--legacy", "echo a", "--candidate", "echo a", "--journal", journal()]],
    ["shadow report", () => ["shadow", "report", "--journal", journal()]],
    ["runs", () => ["runs", "--journal", journal()]],
    ["schedules", () => ["schedules", "--journal", journal()]],
    // A journal each: the second import of the same rows would update rather than insert.
    ["incidents import", () => (format: string) => ["incidents", "import", "pager.csv", "--journal", join(dir, `imported-${format}.db`)]],
    ["version", () => ["version"]],
    ["validate", () => ["validate"]],
    ["agent --once", () => ["agent", "-c", join(dir, "agent"), "--once"]],
  ] as const)("%s", async (_name, args) => {
    const given = args();
    const { json, yaml, yamlText } = await both(typeof given === "function" ? given : [...given]);
    expect(json.length).toBeGreaterThan(0);
    expect(yamlText).toStartWith("---\n");
    expect(yaml.map((value) => stable(value))).toEqual(json.map((value) => stable(value)));
  }, 60_000);

  test("runs show: one run's record", async () => {
    const list = await runBuilt(["runs", "--journal", journal(), "-o", "json"], { cwd: dir });
    const id = (JSON.parse(list.stdout.split("\n")[0]!) as { id: string }).id;
    const { json, yaml } = await both(["runs", "show", id, "--journal", journal()]);
    expect(json).toHaveLength(1);
    expect(yaml).toEqual(json);
  });

  test.each([
    ["incidents list", ["incidents", "list"]],
    ["incidents show", ["incidents", "show", "1"]],
    ["pause", ["pause"]],
    ["resume", ["resume"]],
  ])("%s (from the server)", async (_name, args) => {
    const { json, yaml } = await both(args, { cwd: server.dir, env: clientEnv() });
    expect(json.length).toBeGreaterThan(0);
    expect(yaml.map((value) => stable(value))).toEqual(json.map((value) => stable(value)));
  }, 60_000);

  test("values YAML would read as another type stay strings", async () => {
    await writeFile(join(dir, "quoted.yaml"), "inventory:\n  hosts:\n    'yes': { address: 192.0.2.1, labels: { version: '1.10', zone: 'null', port: '0022' } }\n");
    const { json, yaml } = await both(["inventory", "-c", join(dir, "quoted.yaml")]);
    expect(yaml).toEqual(json);
    expect(yaml[0]).toMatchObject({ name: "yes", labels: { version: "1.10", zone: "null", port: "0022" } });
  });

  test("hostile label values come out of -o yaml as the same strings -o json gives", async () => {
    // JSON is YAML: the config carries each value JSON-quoted.
    const labels = Object.fromEntries(hostileValues.map(({ value }, i) => [`l${i}`, value]));
    await writeFile(join(dir, "hostile.yaml"), `inventory:\n  hosts:\n    web-1: ${JSON.stringify({ address: "192.0.2.1", labels })}\n`);
    const { json, yaml } = await both(["inventory", "-c", join(dir, "hostile.yaml")]);
    expect(yaml).toEqual(json);
    expect((yaml[0] as { labels: Record<string, string> }).labels).toEqual(labels);
  });

  test("--json is -o json", async () => {
    const json = await runBuilt(["inventory", "--json"], { cwd: dir });
    const output = await runBuilt(["inventory", "-o", "json"], { cwd: dir });
    expect(output).toEqual(json);
    expect((await runBuilt(["inventory", "--json", "-o", "json"], { cwd: dir })).stdout).toBe(json.stdout);
    expect((await runBuilt(["inventory", "-o", "text"], { cwd: dir })).stdout).toBe((await runBuilt(["inventory"], { cwd: dir })).stdout);
  });
});
