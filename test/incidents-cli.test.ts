import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { jsonLine } from "../src/ui/index.ts";
import { runOpskit } from "./harness/cli.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// opskit serve --json with one rule (a local workflow) and alerts no rule matches,
// driven through its API and the opskit incidents CLI.
let server: ServeProcess;

const yaml = `
workflows:
  fix:
    targets: local
    steps:
      - name: fix
        exec: "true"
rules:
  - name: fix-it
    match: { alertname: Fixable }
    run: fix
`;

beforeAll(async () => {
  const dir = writeConfig(yaml);
  server = await startServe(dir, { journal: join(dir, "journal.db"), args: ["--json"] });
}, 60_000);

afterAll(async () => {
  if (server?.child.exitCode === null) await server.kill();
});

const cli = (args: string[]) => runOpskit(args, { cwd: server.dir, env: { OPSKIT_SERVER: server.url, ...(server.token ? { OPSKIT_TOKEN: server.token } : {}) } });
const fire = (alertname: string, service: string, startsAt?: string) =>
  server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname, service }, ...(startsAt ? { startsAt } : {}) }]));

async function openIncident(alertname: string, service: string, startsAt?: string): Promise<number> {
  expect((await fire(alertname, service, startsAt)).status).toBe(200);
  return server.waitFor("/api/v1/incidents?limit=100", (v) => v.incidents.find((i: any) => i.labels.service === service)?.id);
}

describe("opskit incidents", () => {
  test("ack of a resolved incident is refused: 409 from the server, a non-zero exit and the reason from the CLI", async () => {
    const id = await openIncident("Unrouted", "ack-after-resolve");
    expect((await cli(["incidents", "resolve", String(id)])).code).toBe(0);
    const answer = await server.post(`/api/v1/incidents/${id}/ack`, { by: "test" });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: "E_INCIDENT_RESOLVED", message: expect.stringContaining(`incident ${id} is already resolved`) });
    const ack = await cli(["incidents", "ack", String(id)]);
    expect(ack.code).toBe(64);
    expect(ack.stderr).toContain(`incident ${id} is already resolved (resolved by hand`);
    const view = await server.get(`/api/v1/incidents/${id}`);
    expect(view.incident.milestones.acknowledged).toBeUndefined();
  });

  test("ack of an open incident is still accepted", async () => {
    const id = await openIncident("Unrouted", "ack-open");
    const ack = await cli(["incidents", "ack", String(id)]);
    expect(ack.code).toBe(0);
    expect(ack.stdout).toMatch(/acknowledged\s+\d{4}-\d\d-\d\d/);
  });

  test("the timeline of incidents show is in time order, also when the alert started before it arrived", async () => {
    const startsAt = new Date(Date.now() - 3_600_000).toISOString();
    const id = await openIncident("Unrouted", "late-arrival", startsAt);
    const shown = await cli(["incidents", "show", String(id), "--json"]);
    expect(shown.code).toBe(0);
    const events: { at: number; message: string }[] = JSON.parse(shown.stdout).events;
    expect(events[0]!.message).toBe("started");
    expect(events.map((e) => e.at)).toEqual(events.map((e) => e.at).sort((a, b) => a - b));
    const text = (await cli(["incidents", "show", String(id)])).stdout;
    const stamps = [...(text.slice(text.indexOf("timeline:")).match(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/gm) ?? [])];
    expect(stamps.length).toBe(events.length);
    expect(stamps).toEqual([...stamps].sort());
  });
});

describe("opskit incidents list beyond one page", () => {
  test("--limit above the API's page of 500 reads page after page, newest first, each incident once", async () => {
    const alerts = Array.from({ length: 520 }, (_, i) => ({ labels: { alertname: "Paged", service: `paged-${i}` } }));
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification(alerts))).status).toBe(200);
    await server.waitFor("/api/v1/incidents?q=paged-&limit=1", (v) => (v.total >= 520 ? true : undefined));
    const listed = await cli(["incidents", "list", "--limit", "1000", "--json"]);
    expect(listed.code).toBe(0);
    const ids: number[] = listed.stdout.trim().split("\n").map((line) => JSON.parse(line).id);
    expect(ids.length).toBeGreaterThan(520);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const some = await cli(["incidents", "list", "--limit", "510", "--json"]);
    expect(some.stdout.trim().split("\n").length).toBe(510);
  });
});

describe("opskit serve --json and /metrics", () => {
  test("every event's at is ISO 8601, incident.milestone included, and durations have at most three decimals", async () => {
    const id = await openIncident("Fixable", "json-events");
    await server.waitFor(`/api/v1/incidents/${id}`, (v) => v.attempts[0]?.status === "succeeded");
    await server.waitFor("/healthz", () => server.output().includes('"type":"remediation.finished"'));
    const lines = server
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.type === "incident.milestone")).toBe(true);
    for (const line of lines) expect({ type: line.type, at: line.at }).toEqual({ type: line.type, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    const finished = lines.find((l) => l.type === "remediation.finished");
    expect(String(finished.durationMs)).toMatch(/^\d+(\.\d{1,3})?$/);
  });

  test("process metrics carry prom-client's standard names under the opskit_ prefix", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain("\nopskit_process_cpu_seconds_total ");
    expect(text).toContain("\nopskit_process_resident_memory_bytes ");
    expect(text).not.toContain("opskit_process_process_");
    expect(text).not.toContain("opskit_process_nodejs_");
  });
});

describe("JSON lines", () => {
  test("durations are rounded to whole microseconds; other numbers are left as they are", () => {
    const line = jsonLine({ durationMs: 12.340000000000002, lagMs: 3, timings: { connect: 0.30000000000000004, total: 1.23456789 }, body: { json: { ratio: 0.1234567 } } });
    expect(line).toBe('{"durationMs":12.34,"lagMs":3,"timings":{"connect":0.3,"total":1.235},"body":{"json":{"ratio":0.1234567}}}');
  });
});
