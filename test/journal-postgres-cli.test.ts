// The commands that read or write the journal, through the CLI, on a
// PostgreSQL journal: chosen by --journal, OPSKIT_JOURNAL or journal: in the
// config (in that order), with the password never printed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { createTestDatabase, queryDatabase, type TestDatabase } from "./harness/postgres.ts";

let dir: string;
let configured: TestDatabase;
let other: TestDatabase;
/** The shared server trusts the user: a password is sent all the same, and must never be shown. */
const password = "Pg-Passw0rd-x9";
const withPassword = (url: string) => url.replace("postgres@", `postgres:${password}@`);
const masked = (url: string) => url.replace("postgres@", "postgres:***@");
const env = { OPSKIT_JOURNAL: "", XDG_STATE_HOME: "" };

beforeAll(async () => {
  [configured, other] = [await createTestDatabase(), await createTestDatabase()];
  dir = mkdtempSync(join(tmpdir(), "opskit-pg-cli-"));
  env.XDG_STATE_HOME = join(dir, "state");
  writeFileSync(
    join(dir, "opskit.yaml"),
    `journal: ${configured.url}
workflows:
  hello:
    targets: local
    steps:
      - exec: echo hello
`,
  );
});

afterAll(async () => {
  await configured.drop();
  await other.drop();
  rmSync(dir, { recursive: true, force: true });
});

const runNames = async (url: string) => (await queryDatabase<{ name: string }>(url, "SELECT name FROM runs ORDER BY started_at")).map((r) => r.name);

describe("a PostgreSQL journal through the CLI", () => {
  test("journal: in the config is where runs go and where opskit runs reads them", async () => {
    const run = await runOpskit(["run", "hello"], { cwd: dir, env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`journal: ${configured.url}`);
    expect(await runNames(configured.url)).toEqual(["hello"]);
    const runs = await runOpskit(["runs", "--json"], { cwd: dir, env });
    expect(runs.code).toBe(0);
    expect(runs.stdout.trim().split("\n").map((line) => JSON.parse(line).name)).toEqual(["hello"]);
  });

  test("OPSKIT_JOURNAL wins over the config, and --journal over both; the password is never printed", async () => {
    const viaEnv = await runOpskit(["exec", "local", "--", "echo", "from-env"], { cwd: dir, env: { ...env, OPSKIT_JOURNAL: withPassword(other.url) } });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toContain(`journal: ${masked(other.url)}`);
    const viaFlag = await runOpskit(["exec", "local", "--journal", withPassword(other.url), "--", "echo", "from-flag"], { cwd: dir, env: { ...env, OPSKIT_JOURNAL: configured.url } });
    expect(viaFlag.code).toBe(0);
    expect(await runNames(other.url)).toEqual(["echo from-env", "echo from-flag"]);
    const listed = await runOpskit(["runs", "--journal", withPassword(other.url)], { cwd: dir, env });
    expect(listed.stdout).toContain(`2 runs in ${masked(other.url)}`);
    for (const output of [viaEnv, viaFlag, listed]) expect(output.stdout + output.stderr).not.toContain(password);
  });

  test("history imported into it is what opskit mttr reports, and shadow report reads it", async () => {
    const csv = join(dir, "pagerduty.csv");
    const day = 86_400_000;
    const at = (ms: number) => new Date(Date.now() - ms).toISOString();
    writeFileSync(csv, `id,title,service,created,resolved\nP1,Checkout down,checkout,${at(2 * day)},${at(2 * day - 30 * 60_000)}\nP2,Checkout down,checkout,${at(day)},${at(day - 90 * 60_000)}\n`);
    const imported = await runOpskit(["incidents", "import", csv, "--json", "--map", "started=created"], { cwd: dir, env });
    expect(imported.stderr).toBe("");
    expect(JSON.parse(imported.stdout)).toMatchObject({ inserted: 2, updated: 0 });
    const mttr = await runOpskit(["mttr", "--format", "json", "--by", "service"], { cwd: dir, env });
    expect(mttr.code).toBe(0);
    expect(JSON.stringify(JSON.parse(mttr.stdout))).toContain("checkout");
    const shadow = await runOpskit(["shadow", "report"], { cwd: dir, env });
    expect(shadow.stdout).toContain(`no shadow comparisons in ${configured.url}`);
  });

  test("PostgreSQL unreachable: the command fails with E_JOURNAL_UNAVAILABLE, the masked URL and the fix", async () => {
    const run = await runOpskit(["runs", "--journal", `postgres://opskit:${password}@127.0.0.1:1/journal`], { cwd: dir, env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the journal at postgres://opskit:***@127.0.0.1:1/journal is unavailable");
    expect(run.stderr).toContain("pg_isready");
    expect(run.stderr).not.toContain(password);
  });

  test("a password written into the config's journal: is refused, pointing at PGPASSWORD", async () => {
    const bad = mkdtempSync(join(dir, "bad-"));
    writeFileSync(join(bad, "opskit.yaml"), `journal: ${withPassword(configured.url)}\n`);
    const run = await runOpskit(["runs"], { cwd: bad, env });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("PGPASSWORD");
    expect(run.stderr).toContain("opskit.yaml:1");
  });
});
