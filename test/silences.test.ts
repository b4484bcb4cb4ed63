// Silences through the built executable against a real `opskit serve` (also
// built): amtool's matchers, an incident held with no remediation and the
// timeline line that names the silence, remediation once it ends or is
// expired, who did what (--as), a restart, and the PostgreSQL journal.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { builtBinary, runBuilt } from "./harness/binary.ts";
import { createTestDatabase, type TestDatabase } from "./harness/postgres.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const running: ServeProcess[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});
afterAll(async () => {
  for (const database of databases) await database.drop();
});

/** A config whose one rule runs a workflow that leaves a file named after the alert's service label. */
function config(marks: string, extra = ""): string {
  return `
vars: { marks: ${JSON.stringify(marks)} }
workflows:
  fix:
    targets: local
    steps:
      - name: fix
        exec: "echo ran > {{ vars.marks + '/' + vars.service }}"
rules:
  - name: fix-it
    match: { alertname: ApiDown }
    run: fix
    cooldown: 1s
    vars: { service: "{{ alert.labels.service }}" }
${extra}
`;
}

async function serve(options: { dir?: string; journal?: string; extra?: string; env?: Record<string, string>; token?: string } = {}): Promise<ServeProcess & { marks: string }> {
  const dir = options.dir ?? writeConfig("");
  const marks = join(dir, "marks");
  mkdirSync(marks, { recursive: true });
  writeConfig(config(marks, options.extra), dir);
  const server = await startServe(dir, { executable: await builtBinary(), ...(options.journal ? { journal: options.journal } : {}), ...(options.env ? { env: options.env } : {}), ...(options.token ? { token: options.token } : {}) });
  running.push(server);
  return Object.assign(server, { marks });
}

const cli = (server: ServeProcess, args: string[]) => runBuilt(args, { cwd: server.dir, env: { OPSKIT_SERVER: server.url, ...(server.token ? { OPSKIT_TOKEN: server.token } : {}) } });
const fire = (server: ServeProcess, service: string, extra: Record<string, string> = {}) =>
  server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "ApiDown", service, ...extra } }]));
const byService = (server: ServeProcess, service: string) => server.waitFor("/api/v1/incidents?limit=100", (v) => v.incidents.find((i: any) => i.labels.service === service)?.id as number | undefined);
const view = (server: ServeProcess, id: number, until: (v: any) => unknown) => server.waitFor(`/api/v1/incidents/${id}`, (v) => (until(v) ? v : false));
const lines = (v: any): string[] => v.events.map((e: any) => e.message);

async function addSilence(server: ServeProcess, args: string[]): Promise<string> {
  const added = await cli(server, ["silence", "add", ...args]);
  expect(added.stderr).toBe("");
  expect(added.code).toBe(0);
  const id = added.stdout.trim();
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return id;
}

describe("opskit silence", () => {
  test("add, list (active and pending, --expired, by matcher), expire; bad matchers are refused with Alertmanager's reasons", async () => {
    const server = await serve();
    const id = await addSilence(server, ["alertname=ApiDown", 'service=~"api.*"', "--for", "2h", "--comment", "migration", "--as", "alice"]);
    const later = await addSilence(server, ['{team="db, core"}', "--start", new Date(Date.now() + 3_600_000).toISOString(), "--end", new Date(Date.now() + 7_200_000).toISOString(), "--comment", "tonight"]);
    const listed = await cli(server, ["silence", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${id}`);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+active .*alice\\s+\\{alertname="ApiDown", service=~"api\\.\\*"\\} · migration`));
    expect(listed.stdout).toMatch(new RegExp(`${later}\\s+pending .*\\{team="db, core"\\} · tonight`));
    const json = (await cli(server, ["silence", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(json.map((s) => [s.id, s.status.state, s.createdBy])).toEqual([
      [id, "active", "alice"],
      [later, "pending", expect.any(String)],
    ]);
    const filtered = await cli(server, ["silence", "list", "--json", "team=~db.*"]);
    expect(filtered.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual([later]);

    const expired = await cli(server, ["silence", "expire", id, "--as", "bob"]);
    expect(expired).toMatchObject({ code: 0, stdout: `expired ${id}\n` });
    expect((await cli(server, ["silence", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual([later]);
    const all = (await cli(server, ["silence", "list", "--expired", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(all.find((s) => s.id === id)).toMatchObject({ status: { state: "expired" }, expiredBy: "bob" });
    const again = await cli(server, ["silence", "expire", id]);
    expect(again.code).toBe(64);
    expect(again.stderr).toContain("already expired");

    for (const [args, reason] of [
      [['team=""', "--comment", "x"], "must not match the empty string"],
      [['service=~".*"', "--comment", "x"], "must not match the empty string"],
      [['service=~"(?=api)"', "--comment", "x"], "invalid or unsupported Perl syntax: `(?=`"],
      [['service="unclosed', "--comment", "x"], "unescaped double quote"],
      [["service=api"], "--comment"],
    ] as const) {
      const refused = await cli(server, ["silence", "add", ...args]);
      expect(refused.code).toBe(64);
      expect(refused.stderr).toContain(reason);
    }
    // The API: Alertmanager's v2 shapes in, the same refusals, and DELETE.
    const posted = await server.post("/api/v1/silences", { matchers: [{ name: "alertname", value: "X", isRegex: false, isEqual: true }], endsAt: new Date(Date.now() + 60_000).toISOString(), createdBy: "api-user", comment: "c" });
    expect(posted.status).toBe(200);
    expect(posted.body.silence).toMatchObject({ createdBy: "api-user", status: { state: "active" } });
    const empty = await server.post("/api/v1/silences", { matchers: [{ name: "a", value: "", isRegex: false, isEqual: true }], endsAt: Date.now() + 60_000, createdBy: "x", comment: "" });
    expect(empty.status).toBe(400);
    expect((await server.post("/api/v1/silences", { matchers: "{alertname=X}", endsAt: Date.now() + 60_000, createdBy: "x" }, "wrong-token")).status).toBe(401);
    const deleted = await fetch(`${server.url}/api/v1/silences/${posted.body.silenceID}`, { method: "DELETE", headers: { authorization: `Bearer ${server.token}` } });
    expect(deleted.status).toBe(200);
    expect(((await deleted.json()) as any).silence.status.state).toBe("expired");
  }, 120_000);

  test("a silenced alert opens its incident and runs nothing; the timeline names the silence; expiring it runs the remediation once", async () => {
    const server = await serve();
    const silence = await addSilence(server, ["alertname=ApiDown", 'service=~"api.*"', "--for", "2h", "--comment", "migration", "--as", "alice"]);
    expect((await fire(server, "api-1")).status).toBe(200);
    expect((await fire(server, "web-1")).status).toBe(200);
    const held = await byService(server, "api-1");
    const free = await byService(server, "web-1");
    // The alert the silence does not match is remediated: its run is the barrier for the held one.
    await view(server, free, (v) => v.attempts[0]?.status === "succeeded");
    const heldView = await view(server, held, (v) => lines(v).some((l) => l.startsWith("silenced:")));
    expect(heldView.attempts).toEqual([]);
    const line = heldView.events.find((e: any) => e.message.startsWith("silenced:"));
    expect(line.message).toMatch(new RegExp(`^silenced: silence ${silence} \\{alertname="ApiDown", service=~"api\\.\\*"\\} by alice \\("migration"\\) until \\d{4}-\\d\\d-\\d\\dT.*Z: no remediation runs until it ends$`));
    expect(line.data).toMatchObject({ gate: "silence", silenceId: silence, createdBy: "alice", comment: "migration" });
    // A repeat while silenced changes nothing and writes no second line.
    expect((await fire(server, "api-1")).status).toBe(200);
    await server.waitFor(`/api/v1/incidents/${held}`, (v) => v.incident.notifications >= 2);
    expect(readdirSync(server.marks)).toEqual(["web-1"]);
    // The incident list (the dashboard's) says where it stands; the serve terminal and the metrics say it too.
    const listed = (await server.get("/api/v1/incidents?limit=100")).incidents.find((i: any) => i.id === held);
    expect(listed.gate).toMatchObject({ state: "suppressed", reason: `silenced by silence ${silence} (alice)`, until: expect.any(Number) });
    expect(server.output()).toContain(`silence ${silence} added by alice until`);
    expect(server.output()).toContain(`incident ${held}: silenced by silence ${silence} (alice)`);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/opskit_gate_decisions_total\{gate="silence"\} 1\n/);

    expect((await cli(server, ["silence", "expire", silence, "--as", "bob"])).code).toBe(0);
    const ran = await view(server, held, (v) => v.attempts[0]?.status === "succeeded");
    expect(ran.attempts).toHaveLength(1);
    expect(lines(ran).filter((l) => l.startsWith("silenced:"))).toHaveLength(1);
    expect(readdirSync(server.marks).sort()).toEqual(["api-1", "web-1"]);
    const shown = await cli(server, ["incidents", "show", String(held)]);
    expect(shown.stdout).toContain(`silenced: silence ${silence}`);
  }, 120_000);

  test("a silence that ends by itself lets the remediation run, as Alertmanager resumes notifying", async () => {
    const server = await serve();
    await addSilence(server, ["ApiDown", "--for", "3s", "--comment", "short"]);
    await fire(server, "api-2");
    const id = await byService(server, "api-2");
    const held = await view(server, id, (v) => lines(v).some((l) => l.startsWith("silenced:")));
    expect(held.attempts).toEqual([]);
    const ran = await view(server, id, (v) => v.attempts[0]?.status === "succeeded");
    expect(ran.attempts).toHaveLength(1);
    expect(existsSync(join(server.marks, "api-2"))).toBe(true);
  }, 60_000);

  test("--as names who acknowledged, approved, resolved and paused on the timeline; the default is the local user", async () => {
    const approvalRule = `  - name: approve-it
    match: { alertname: NeedsOk }
    run: fix
    approval: true
    vars: { service: "{{ alert.labels.service }}" }`;
    const server = await serve({ extra: approvalRule });
    const paused = await cli(server, ["pause", "--as", "dave"]);
    expect(paused.stdout).toContain("paused by dave");
    await fire(server, "api-3");
    const id = await byService(server, "api-3");
    await view(server, id, (v) => lines(v).includes("suppressed: automatic remediation is paused by dave (opskit resume)"));
    expect((await cli(server, ["incidents", "ack", String(id), "--as", "carol"])).code).toBe(0);
    const acked = await view(server, id, (v) => v.incident.milestones.acknowledged);
    expect(lines(acked)).toContain("acknowledged: by carol");
    const json = JSON.parse((await cli(server, ["incidents", "show", String(id), "--json"])).stdout);
    expect(json.events.map((e: any) => e.message)).toContain("acknowledged: by carol");
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "NeedsOk", service: "ok-1" } }]))).status).toBe(200);
    const waiting = await byService(server, "ok-1");
    const resumed = await cli(server, ["resume"]);
    await view(server, waiting, (v) => v.attempts[0]?.status === "awaiting_approval");
    expect((await cli(server, ["incidents", "approve", String(waiting), "--as", "carol"])).code).toBe(0);
    const approved = await view(server, waiting, (v) => v.attempts[0]?.status === "succeeded");
    expect(lines(approved)).toContain("approved: attempt 1 by carol");
    const me = (await import("node:os")).userInfo().username;
    expect(resumed.stdout).toContain(`resumed by ${me}`);
    expect((await cli(server, ["incidents", "resolve", String(id)])).code).toBe(0);
    const resolved = await view(server, id, (v) => v.incident.status === "resolved");
    expect(resolved.incident.resolution).toBe(`resolved by hand (${me})`);
  }, 60_000);

  test("a restart keeps the silence (the journal), and the remediation it held runs once after it ends", async () => {
    const first = await serve();
    const silence = await addSilence(first, ["alertname=ApiDown", "--for", "5s", "--comment", "restart"]);
    await fire(first, "api-4");
    const id = await byService(first, "api-4");
    await view(first, id, (v) => lines(v).some((l) => l.startsWith("silenced:")));
    await first.kill();
    const second = await serve({ dir: first.dir, journal: first.journal });
    const listed = (await cli(second, ["silence", "list", "--json"])).stdout;
    expect(listed).toContain(silence);
    const ran = await view(second, id, (v) => v.attempts[0]?.status === "succeeded");
    await Bun.sleep(500);
    expect((await second.get(`/api/v1/incidents/${id}`)).attempts).toHaveLength(1);
    expect(ran.attempts[0].startedAt).toBeGreaterThanOrEqual(JSON.parse(listed).endsAt);
    expect(readdirSync(second.marks)).toEqual(["api-4"]);
  }, 90_000);

  test("with no server, --journal writes the silence into the journal, and a server started on it holds the alert", async () => {
    const dir = writeConfig("");
    const journal = join(dir, "journal.db");
    const added = await runBuilt(["silence", "add", "alertname=ApiDown", "--for", "1h", "--comment", "offline", "--as", "erin", "--journal", journal, "--server", "http://127.0.0.1:9"], { cwd: dir });
    expect(added.code).toBe(0);
    expect(added.stderr).toContain("using the journal at");
    const server = await serve({ dir, journal });
    await fire(server, "api-5");
    const id = await byService(server, "api-5");
    const held = await view(server, id, (v) => lines(v).some((l) => l.startsWith("silenced:")));
    expect(lines(held).find((l) => l.startsWith("silenced:"))).toContain("by erin");
    expect(held.attempts).toEqual([]);
  }, 60_000);

  test("on the PostgreSQL journal: held while silenced, run once expired", async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const token = "silence-test-token-0123456789abcdef";
    const server = await serve({ journal: database.url, extra: "server: { token: env:OPSKIT_SILENCE_TOKEN }", env: { OPSKIT_SILENCE_TOKEN: token }, token });
    const silence = await addSilence(server, ['service=~"pg-.+"', "--for", "1h", "--comment", "pg", "--as", "frank"]);
    await fire(server, "pg-1");
    const id = await byService(server, "pg-1");
    const held = await view(server, id, (v) => lines(v).some((l) => l.startsWith("silenced:")));
    expect(held.attempts).toEqual([]);
    expect((await cli(server, ["silence", "expire", silence])).code).toBe(0);
    const ran = await view(server, id, (v) => v.attempts[0]?.status === "succeeded");
    expect(ran.attempts).toHaveLength(1);
    expect(readdirSync(server.marks)).toEqual(["pg-1"]);
  }, 90_000);
});
