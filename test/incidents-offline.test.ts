// opskit incidents list and show without a server: the journal a real
// `opskit serve` wrote, read with --journal, or found through the config when
// the server does not answer; the output is the server's, byte for byte.
// SQLite (read beside the running server, then after it stopped) and PostgreSQL.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";
import { createTestDatabase, type TestDatabase } from "./harness/postgres.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const workflows = `
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

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

interface Scenario {
  server: ServeProcess;
  env: Record<string, string>;
  ids: number[];
}

/** Three incidents: one a rule remediated and its alert resolved, one resolved by hand, one still open (no rule: it waits for a person). */
async function record(server: ServeProcess, env: Record<string, string>): Promise<number[]> {
  const startsAt = new Date(Date.now() - 600_000).toISOString();
  const fire = (alertname: string, service: string, status: "firing" | "resolved" = "firing") =>
    server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname, service }, startsAt, status }]));
  const idOf = (service: string) => server.waitFor("/api/v1/incidents?limit=100", (v) => v.incidents.find((i: any) => i.labels.service === service)?.id as number | undefined);
  expect((await fire("Fixable", "checkout")).status).toBe(200);
  const fixed = await idOf("checkout");
  await server.waitFor(`/api/v1/incidents/${fixed}`, (v) => v.attempts[0]?.status === "succeeded");
  expect((await fire("Fixable", "checkout", "resolved")).status).toBe(200);
  await server.waitFor(`/api/v1/incidents/${fixed}`, (v) => v.incident.status === "resolved");
  expect((await fire("Unrouted", "search")).status).toBe(200);
  const byHand = await idOf("search");
  expect((await runBuilt(["incidents", "resolve", String(byHand), "--note", "restarted by hand"], { cwd: server.dir, env })).code).toBe(0);
  expect((await fire("Unrouted", "billing")).status).toBe(200);
  const open = await idOf("billing");
  return [fixed, byHand, open];
}

/** What the CLI prints for list and show, text and JSON; an open incident's running duration (list) is masked. */
async function outputs(ids: number[], run: (args: string[]) => ReturnType<typeof runBuilt>): Promise<Record<string, string>> {
  const printed: Record<string, string> = {};
  const commands = [["incidents", "list"], ["incidents", "list", "--json"], ["incidents", "list", "--status", "resolved", "--limit", "1"], ...ids.flatMap((id) => [["incidents", "show", String(id)], ["incidents", "show", String(id), "--json"]])];
  for (const args of commands) {
    const result = await run(args);
    expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: expect.any(String) });
    printed[args.join(" ")] = result.stdout.replace(/^(\d+ +open +.{24}.{25})\S+ */gm, "$1<running> ");
  }
  return printed;
}

async function scenario(journalFor: (dir: string) => Promise<{ journal: string; yaml: string; env?: Record<string, string>; token?: string }>): Promise<Scenario & { dir: string; journal: string }> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-offline-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const { journal, yaml, env: extra = {}, token } = await journalFor(dir);
  const server = await startServe(writeConfig(`${yaml}\n${workflows}`, dir), { journal, ...(Object.keys(extra).length ? { env: extra } : {}), ...(token ? { token } : {}) });
  cleanup.push(async () => server.child.exitCode === null && (await server.kill()));
  const env = { ...extra, OPSKIT_JOURNAL: "", XDG_STATE_HOME: join(dir, "state"), OPSKIT_SERVER: server.url, OPSKIT_TOKEN: server.token ?? "" };
  return { server, env, ids: await record(server, env), dir, journal };
}

describe("opskit incidents list and show from a SQLite journal", () => {
  let s: Awaited<ReturnType<typeof scenario>>;
  let fromServer: Record<string, string>;

  test("read with --journal beside the running server: the server's output, and the server goes on taking alerts", async () => {
    s = await scenario(async (dir) => ({ journal: join(dir, "journal.db"), yaml: "journal: journal.db" }));
    fromServer = await outputs(s.ids, (args) => runBuilt(args, { cwd: s.dir, env: s.env }));
    expect(fromServer["incidents list"]).toContain("3 of 3 incidents");
    expect(JSON.parse(fromServer[`incidents show ${s.ids[2]} --json`]!).gate.state).toBe("unmatched");
    const whileRunning = await outputs(s.ids, (args) => runBuilt([...args, "--journal", s.journal], { cwd: s.dir, env: { ...s.env, OPSKIT_SERVER: "http://127.0.0.1:9" } }));
    expect(whileRunning).toEqual(fromServer);
    // The reader wrote nothing and holds no lock: the server still commits a notification and opens its incident.
    expect((await s.server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Unrouted", service: "late" } }]))).status).toBe(200);
    const late = await s.server.waitFor("/api/v1/incidents?limit=100", (v) => v.incidents.find((i: any) => i.labels.service === "late")?.id as number | undefined);
    const shown = await runBuilt(["incidents", "show", String(late), "--json", "--journal", s.journal], { cwd: s.dir, env: s.env });
    expect(JSON.parse(shown.stdout).incident.labels.service).toBe("late");
    // Back to the three incidents the outputs above were taken with.
    expect((await runBuilt(["incidents", "resolve", String(late)], { cwd: s.dir, env: s.env })).code).toBe(0);
    fromServer = await outputs(s.ids, (args) => runBuilt(args, { cwd: s.dir, env: s.env }));
  }, 120_000);

  test("after the server stopped: --journal, and the config's journal with a notice when the server does not answer, print what the server printed", async () => {
    expect(await s.server.stop()).toBe(0);
    const viaFlag = await outputs(s.ids, (args) => runBuilt([...args, "--journal", s.journal], { cwd: s.dir, env: s.env }));
    expect(viaFlag).toEqual(fromServer);
    const viaConfig = await outputs(s.ids, (args) => runBuilt(args, { cwd: s.dir, env: s.env }));
    expect(viaConfig).toEqual(fromServer);
    const listed = await runBuilt(["incidents", "list"], { cwd: s.dir, env: s.env });
    expect(listed.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^opskit: cannot reach the opskit server at http:\/\/127\.0\.0\.1:\d+: .*; reading the journal the config names \(.*journal\.db\) instead$/)]);
  }, 120_000);

  test("no server and no journal in the config: the connection error, with a hint naming --journal", async () => {
    const bare = writeConfig(workflows);
    cleanup.push(() => rmSync(bare, { recursive: true, force: true }));
    const result = await runBuilt(["incidents", "list"], { cwd: bare, env: s.env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("cannot reach the opskit server");
    expect(result.stderr).toContain("--journal PATH");
    const missing = await runBuilt(["incidents", "show", "1", "--journal", join(bare, "none.db")], { cwd: bare, env: s.env });
    expect(missing.code).toBe(65);
    expect(missing.stderr).toContain(`there is no journal at ${join(bare, "none.db")}`);
    const unknown = await runBuilt(["incidents", "show", "999", "--journal", s.journal], { cwd: bare, env: s.env });
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain("no incident 999");
  }, 60_000);
});

describe("opskit incidents list and show from a PostgreSQL journal", () => {
  test("after the server stopped, --journal URL and the config's journal print what the server printed", async () => {
    let database: TestDatabase | undefined;
    const token = "offline-test-token-0123456789abcdef";
    const s = await scenario(async () => {
      database = await createTestDatabase();
      cleanup.push(() => database!.drop());
      return { journal: database.url, yaml: `journal: ${database.url}\nserver: { token: env:OPSKIT_TOKEN }`, env: { OPSKIT_TOKEN: token }, token };
    });
    const fromServer = await outputs(s.ids, (args) => runBuilt(args, { cwd: s.dir, env: s.env }));
    expect(fromServer["incidents list"]).toContain("3 of 3 incidents");
    expect(await s.server.stop()).toBe(0);
    expect(await outputs(s.ids, (args) => runBuilt([...args, "--journal", database!.url], { cwd: s.dir, env: s.env }))).toEqual(fromServer);
    const viaConfig = await runBuilt(["incidents", "list", "--json"], { cwd: s.dir, env: s.env });
    expect(viaConfig.stdout).toBe(fromServer["incidents list --json"]!);
    expect(viaConfig.stderr).toContain(`reading the journal the config names (${database!.url})`);
  }, 120_000);
});
