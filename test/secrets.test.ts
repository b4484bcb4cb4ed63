import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// Workflow commands get a clean environment, and every resolved secret is
// masked (***) wherever output, events and errors leave opskit: the journal,
// the API, --json, the terminal and error messages.

const API_TOKEN = "api-token-7f3a9c21e8";
const HOOK_TOKEN = "hook-token-b41d02ee6a";
const DB_PASSWORD = "db-pass-Qx81-zz93-Lm07";
const CANARY = "canary-value-5d2e";
/** The minimal base every command starts from (src/actions/environment.ts), and what /bin/sh sets itself. */
const BASE = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|TZ|TERM|TMPDIR|LC_[A-Z_]+|PWD|OLDPWD|SHLVL|_)$/;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-secrets-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const running: ServeProcess[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});

/** NAME=value lines of `env` output. */
const variableNames = (stdout: string) =>
  stdout
    .split("\n")
    .map((line) => /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);

/** Every file of a journal (the database and its write-ahead log) as text. */
async function journalBytes(journal: string): Promise<string> {
  const folder = join(journal, "..");
  const names = (await readdir(folder)).filter((name) => name.startsWith(journal.slice(folder.length + 1)));
  return (await Promise.all(names.map((name) => readFile(join(folder, name), "latin1")))).join("\n");
}

describe("opskit serve: what a workflow's commands see", () => {
  test("a step that prints its environment sees neither the server's tokens nor the rest of its environment, and a declared secret reads *** everywhere", async () => {
    const config = `
workflows:
  fix:
    targets: local
    steps:
      - name: show-env
        exec: { command: env, env: { DECLARED: plain-value } }
      - name: use-secret
        exec:
          command: 'echo "password is $DB_PASSWORD"'
          env: { DB_PASSWORD: "env:SECRETS_TEST_DB_PASSWORD" }
rules:
  - name: fix-it
    match: { alertname: Broken }
    run: fix
server: { token: env:OPSKIT_TOKEN, webhookToken: env:OPSKIT_WEBHOOK_TOKEN }
`;
    const server = await startServe(writeConfig(config), {
      token: API_TOKEN,
      env: { OPSKIT_TOKEN: API_TOKEN, OPSKIT_WEBHOOK_TOKEN: HOOK_TOKEN, SECRETS_TEST_CANARY: CANARY, SECRETS_TEST_DB_PASSWORD: DB_PASSWORD },
    });
    running.push(server);
    const accepted = await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken" } }]), HOOK_TOKEN);
    expect(accepted.status).toBe(200);
    const view = await server.waitFor("/api/v1/incidents/1", (v) => (v.attempts?.[0]?.runId && ["succeeded", "failed"].includes(v.attempts[0].status) ? v : false));
    const run = await server.get(`/api/v1/runs/${view.attempts[0].runId}`);
    const text = JSON.stringify(run);
    const shown = run.steps.find((s: any) => s.name === "show-env");
    expect(shown.status).toBe("changed");
    const names = variableNames(shown.stdout);
    expect(names).toContain("PATH");
    expect(names).toContain("DECLARED");
    expect(names.filter((name) => !BASE.test(name) && name !== "DECLARED")).toEqual([]);
    for (const value of [API_TOKEN, HOOK_TOKEN, CANARY, DB_PASSWORD]) expect(text).not.toContain(value);

    const used = run.steps.find((s: any) => s.name === "use-secret");
    expect(used.stdout).toBe("password is ***\n");
    await server.stop();
    const stored = await journalBytes(server.journal);
    expect(stored).toContain("password is ***");
    for (const value of [API_TOKEN, HOOK_TOKEN, DB_PASSWORD]) expect(stored).not.toContain(value);
    expect(server.output()).not.toContain(DB_PASSWORD);
  }, 60_000);
});

describe("opskit serve: a referenced secret is masked from the start", () => {
  test("an alert carrying a secret the config references, before any step resolved it, shows *** in the API, the --json events and the journal", async () => {
    const config = `
workflows:
  later:
    targets: local
    steps:
      - name: use-secret
        exec: { command: 'true', env: { DB_PASSWORD: "env:SECRETS_TEST_DB_PASSWORD" } }
rules:
  - name: never
    match: { alertname: NotThisOne }
    run: later
`;
    const server = await startServe(writeConfig(config), { args: ["--json"], env: { SECRETS_TEST_DB_PASSWORD: DB_PASSWORD } });
    running.push(server);
    const labels = { alertname: "Leaky", dsn: `postgres://app:${DB_PASSWORD}@db/app` };
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels, annotations: { summary: `password ${DB_PASSWORD}` } }]))).status).toBe(200);
    const view = await server.waitFor("/api/v1/incidents/1", (v) => (v.incident ? v : false));
    expect(view.incident.labels.dsn).toBe("postgres://app:***@db/app");
    expect(JSON.stringify(view)).not.toContain(DB_PASSWORD);
    await server.stop();
    expect(server.output()).not.toContain(DB_PASSWORD);
    expect(await journalBytes(server.journal)).not.toContain(DB_PASSWORD);
  }, 60_000);
});

describe("opskit run: a resolved secret is masked", () => {
  const config = `
workflows:
  leak:
    targets: local
    steps:
      - name: echo
        exec:
          command: 'echo "password is $DB_PASSWORD"; printf %s "$HEAD" >&2; sleep 0.3; printf "%s\\n" "$TAIL" >&2'
          env: { DB_PASSWORD: "env:SECRETS_TEST_DB_PASSWORD", HEAD: "db-pass-Qx81-", TAIL: "zz93-Lm07" }
      - name: remote-shell
        ssh: { command: 'echo "again $P"', env: { P: "env:SECRETS_TEST_DB_PASSWORD" } }
`;
  const env = { SECRETS_TEST_DB_PASSWORD: DB_PASSWORD };
  const run = async (args: string[]) => {
    await writeFile(join(dir, "opskit.yaml"), config);
    return runOpskit(["run", "leak", "-c", dir, "--journal", join(dir, "run-journal.db"), ...args], { env, cwd: dir });
  };

  test("in --json output, streamed or not, and in the journal", async () => {
    for (const args of [["--json"], ["--json", "--stream"]]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout).not.toContain(DB_PASSWORD);
      expect(result.stdout).not.toContain("zz93-Lm07\\n");
      const events = result.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      const finished = events.filter((e) => e.type === "step.finished");
      expect(finished.map((e) => e.result.stdout)).toEqual(["password is ***\n", "again ***\n"]);
      // The secret printed in two pieces, 300 ms apart, is masked whole.
      expect(finished[0].result.stderr).toBe("***\n");
      if (args.includes("--stream")) {
        const streamed = events.filter((e) => e.type === "step.output" && e.step === "echo" && e.stream === "stderr").map((e) => e.text).join("");
        expect(streamed).toBe("***\n");
      }
    }
    const stored = await journalBytes(join(dir, "run-journal.db"));
    expect(stored).toContain("password is ***");
    expect(stored).not.toContain(DB_PASSWORD);
  }, 60_000);

  test("on the terminal, with and without --stream, and in a dry run's plan", async () => {
    for (const args of [[], ["--stream"], ["--dry-run"]]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(DB_PASSWORD);
      if (args.includes("--stream")) expect(result.stdout).toContain("password is ***");
    }
  }, 60_000);
});

describe("commands on this machine", () => {
  test("opskit exec local passes on only the minimal environment", async () => {
    const result = await runOpskit(["exec", "local", "--json", "--journal", join(dir, "exec-journal.db"), "--", "env"], {
      env: { OPSKIT_TOKEN: API_TOKEN, SECRETS_TEST_CANARY: CANARY },
      cwd: dir,
    });
    expect(result.code).toBe(0);
    const step = result.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((e) => e.type === "step.finished");
    const names = variableNames(step.result.stdout);
    expect(names).toContain("PATH");
    expect(names.filter((name) => !BASE.test(name))).toEqual([]);
  }, 30_000);

  test("opskit wrap keeps its caller's environment for the legacy script, minus opskit's own tokens", async () => {
    const script = join(dir, "legacy.sh");
    await writeFile(script, "#!/bin/sh\nenv\n");
    await chmod(script, 0o755);
    const result = await runOpskit(["wrap", "--json", "--journal", join(dir, "wrap-journal.db"), "--", "./legacy.sh"], {
      env: { OPSKIT_TOKEN: API_TOKEN, OPSKIT_WEBHOOK_TOKEN: HOOK_TOKEN, SECRETS_TEST_CANARY: CANARY },
      cwd: dir,
    });
    expect(result.code).toBe(0);
    const step = result.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((e) => e.type === "step.finished");
    expect(step.result.stdout).toContain(`SECRETS_TEST_CANARY=${CANARY}`);
    expect(variableNames(step.result.stdout).filter((name) => name.startsWith("OPSKIT_"))).toEqual([]);
    expect(result.stdout).not.toContain(API_TOKEN);
  }, 30_000);
});

describe("errors do not print secrets", () => {
  test("a token written where a secret reference belongs is not echoed by the config error", async () => {
    const literal = "tok-literal-0123456789abcdef";
    for (const server of [`{ token: "${literal}" }`, `{ webhookToken: ${JSON.stringify(literal + " with spaces")} }`, "{ token: 98765432101 }"]) {
      const folder = writeConfig(`server: ${server}\n`);
      const result = await runOpskit(["validate", "-c", folder], { cwd: folder });
      expect(result.code).toBe(65);
      expect(result.stderr).toMatch(/server\.(token|webhookToken)/);
      expect(result.stderr).toContain("not shown");
      expect(result.stderr).not.toContain("tok-literal");
      expect(result.stderr).not.toContain("98765432101");
    }
    const folder = writeConfig(`workflows:\n  w:\n    steps:\n      - notify: { url: "hooks.example/${literal}" }\n`);
    const result = await runOpskit(["validate", "-c", folder], { cwd: folder });
    expect(result.code).toBe(65);
    expect(result.stderr).not.toContain(literal);
  }, 30_000);
});
