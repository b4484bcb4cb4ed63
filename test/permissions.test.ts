import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";

// Workflow permissions and the org policy file, through `opskit run` and
// `opskit exec` on this machine and against a loopback HTTP server.
const testdata = new URL("../testdata/permissions/", import.meta.url).pathname;
let http: Server<undefined>;
let dir: string;

beforeAll(async () => {
  http = startHttpServer();
  dir = await mkdtemp(join(tmpdir(), "opskit-permissions-"));
});

afterAll(async () => {
  http.stop(true);
  await rm(dir, { recursive: true, force: true });
});

const journal = () => join(dir, "journal.db");

async function opskit(args: string[]) {
  const run = await runOpskit([args[0]!, "--journal", journal(), ...args.slice(1)], { cwd: dir });
  const events = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);
  const steps = events.filter((e) => e.type === "step.finished");
  return { ...run, events, steps, runId: events.find((e) => e.type === "run.started")?.runId as string | undefined };
}

async function runWorkflow(yaml: string[], args: string[] = []) {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, yaml.join("\n"));
  return opskit(["run", "-c", file, "deploy", "--json", ...args]);
}

const policy = (name: string) => ["--policy", join(testdata, name)];

/** A workflow on this machine that may echo, and runs `command` as its second step. */
const echoing = (command: string, extra: string[] = []) => [
  "workflows:",
  "  deploy:",
  "    permissions:",
  "      commands: ['echo *']",
  "      hosts: name=local",
  ...extra,
  "    hooks:",
  "      on_failure: [{ name: cleanup, exec: 'echo cleaning up' }]",
  "    steps:",
  "      - { name: before, exec: 'echo before' }",
  `      - { name: act, exec: ${JSON.stringify(command)} }`,
  "      - { name: after, exec: 'echo after' }",
];

describe("workflow permissions", () => {
  test("allowed commands run as usual", async () => {
    const { code, steps } = await runWorkflow(echoing("echo restarted"));
    expect(code).toBe(0);
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["before", "changed"],
      ["act", "changed"],
      ["after", "changed"],
    ]);
  });

  test("a command outside permissions.commands fails its step with the rule, exits 2, is journaled, and on_failure runs", async () => {
    const { code, steps, runId } = await runWorkflow(echoing("rm -rf /var/tmp/opskit-nothing-here"));
    expect(code).toBe(2);
    expect(steps.map((s) => [s.phase, s.name, s.status])).toEqual([
      ["main", "before", "changed"],
      ["main", "act", "failed"],
      ["on_failure", "cleanup", "changed"],
    ]);
    const error = steps[1]!.result.error;
    expect(error).toMatchObject({ code: "E_POLICY_DENIED", hint: expect.stringContaining("permissions.commands") });
    expect(error.message).toBe(`exec command "rm -rf /var/tmp/opskit-nothing-here" is not in permissions.commands of workflow deploy (allowed: 'echo *')`);
    expect(steps[1]!.attempts).toBe(0);
    expect(steps[1]!.result.data.denial).toEqual({ workflow: "deploy", kind: "commands", by: "workflow", rule: "permissions.commands" });

    const shown = await opskit(["runs", "show", runId!, "--json"]);
    const recorded = JSON.parse(shown.stdout) as { steps: { name: string; status: string; error?: string }[] };
    expect(recorded.steps.find((s) => s.name === "act")).toMatchObject({ status: "failed", error: error.message });
  });

  test("a denied step with continueOnError lets the run go on", async () => {
    const yaml = echoing("rm -rf /var/tmp/opskit-nothing-here").map((line) => line.replace("{ name: act,", "{ name: act, continueOnError: true,"));
    const { code, steps } = await runWorkflow(yaml);
    expect(code).toBe(0);
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["before", "changed"],
      ["act", "failed"],
      ["after", "changed"],
    ]);
  });

  test("a templated command is checked as rendered", async () => {
    const yaml = [
      "workflows:",
      "  deploy:",
      "    vars: { service: api }",
      "    permissions: { commands: ['echo restart api'], hosts: name=local }",
      "    steps: [{ name: restart, exec: 'echo restart {{ vars.service }}' }]",
    ];
    const allowed = await runWorkflow(yaml);
    expect(allowed.code).toBe(0);
    expect(allowed.steps[0]!.result.stdout).toBe("restart api\n");

    const denied = await runWorkflow(yaml, ["--var", "service=db; rm -rf /"]);
    expect(denied.code).toBe(2);
    expect(denied.steps[0]!.result.error.message).toBe(`exec command "echo restart 'db; rm -rf /'" is not in permissions.commands of workflow deploy (allowed: 'echo restart api')`);
  });

  test("sudo is denied unless permissions.sudo is true", async () => {
    // `true ||` keeps sudo from running when it is allowed.
    const command = "true || sudo -n systemctl restart api";
    const denied = await runWorkflow(echoing(command).map((l) => l.replace("['echo *']", "['echo *', 'true || sudo *']")));
    expect(denied.code).toBe(2);
    expect(denied.steps[1]!.result.error.message).toBe(`exec command "${command}" uses sudo, and workflow deploy does not allow it (permissions.sudo is not true)`);

    const allowed = await runWorkflow(echoing(command, ["      sudo: true"]).map((l) => l.replace("['echo *']", "['echo *', 'true || sudo *']")));
    expect(allowed.code).toBe(0);
  });

  test("an http URL outside permissions.http is denied; one inside is called", async () => {
    const base = `http://127.0.0.1:${http.port}`;
    const yaml = [
      "workflows:",
      "  deploy:",
      `    permissions: { http: ['${base}/ok'], hosts: name=local }`,
      "    steps:",
      `      - { name: health, http: { url: "${base}/ok" } }`,
      `      - { name: data, probe: "${base}/json" }`,
    ];
    const { code, steps } = await runWorkflow(yaml);
    expect(code).toBe(2);
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["health", "ok"],
      ["data", "failed"],
    ]);
    expect(steps[1]!.result.error.message).toBe(`probe URL "${base}/json" is not in permissions.http of workflow deploy (allowed: '${base}/ok')`);
  });

  test("a target outside permissions.hosts is denied, the others run", async () => {
    const yaml = [
      "inventory:",
      "  hosts:",
      "    api-1: { labels: { role: api } }",
      "    web-1: { labels: { role: web } }",
      "workflows:",
      "  deploy:",
      "    targets: 'role in (api,web)'",
      "    permissions: { http: ['*'], hosts: role=api }",
      `    steps: [{ name: health, http: { url: "http://127.0.0.1:${http.port}/ok" } }]`,
    ];
    const { code, steps } = await runWorkflow(yaml);
    expect(code).toBe(2);
    const byTarget = Object.fromEntries(steps.map((s) => [s.target, s]));
    expect(byTarget["api-1"]!.status).toBe("ok");
    expect(byTarget["web-1"]!.status).toBe("failed");
    expect(byTarget["web-1"]!.result.error.message).toBe("target web-1 is not in permissions.hosts of workflow deploy ('role=api')");
  });
});

describe("shadowed workflows", () => {
  test("the legacy command of a shadowed run is checked against the workflow's permissions too", async () => {
    const yaml = [
      "workflows:",
      "  deploy:",
      "    permissions: { commands: ['printf candidate'], hosts: name=local }",
      "    shadow: { legacy: 'printf legacy', share: 100%, minComparisons: 5 }",
      "    steps: [{ name: report, exec: 'printf candidate' }]",
    ];
    const run = await runWorkflow(yaml);
    expect(run.code).toBe(0);
    const { Database } = await import("bun:sqlite");
    const db = new Database(journal(), { readonly: true });
    const row = db.query("SELECT legacy_error FROM shadow_comparisons ORDER BY id DESC LIMIT 1").get() as { legacy_error: string };
    db.close();
    expect(row.legacy_error).toContain('"printf legacy" is not in permissions.commands');
  });
});

describe("the policy file", () => {
  test("its denials win even when the workflow allows the command", async () => {
    const { code, steps } = await runWorkflow(echoing("echo rm -rf /srv"), policy("deny.yaml"));
    expect(code).toBe(2);
    expect(steps[1]!.result.error).toMatchObject({ code: "E_POLICY_DENIED", message: expect.stringMatching(/^exec command "echo rm -rf \/srv" denied by .*deny\.yaml deny\.commands '\*rm -rf \*'$/) });
    expect(steps[1]!.result.data.denial).toMatchObject({ by: "policy", kind: "commands" });
  });

  test("the config's policy: key applies it without --policy, relative to the config", async () => {
    const { code, steps } = await runWorkflow([`policy: ${JSON.stringify(join(testdata, "deny.yaml"))}`, ...echoing("echo rm -rf /srv")]);
    expect(code).toBe(2);
    expect(steps[1]!.result.error.code).toBe("E_POLICY_DENIED");
  });

  test("a resumed run is checked against the policy its first run had", async () => {
    const config = join(dir, "empty.yaml");
    await writeFile(config, "vars: {}\n");
    const first = await opskit(["exec", "-c", config, "local", "--json", ...policy("deny.yaml"), "--", "echo rm -rf /srv"]);
    expect(first.code).toBe(2);
    const resumed = await runOpskit(["runs", "resume", first.runId!, "--journal", journal(), "--json"], { cwd: dir });
    expect(resumed.code).toBe(2);
    const step = resumed.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((e) => e.type === "step.finished");
    expect(step.result.error.code).toBe("E_POLICY_DENIED");
  });

  test("deny.sudo applies to workflows without permissions", async () => {
    const yaml = ["workflows:", "  deploy:", "    steps: [{ exec: 'true || sudo reboot' }]"];
    const { code, steps } = await runWorkflow(yaml, policy("deny.yaml"));
    expect(code).toBe(2);
    expect(steps[0]!.result.error.message).toContain("uses sudo, denied by");
  });

  test("require.permissions refuses a workflow without permissions", async () => {
    const yaml = ["workflows:", "  deploy:", "    steps: [{ exec: 'echo hi' }]"];
    const { code, steps } = await runWorkflow(yaml, policy("require.yaml"));
    expect(code).toBe(2);
    expect(steps[0]!.result.error.message).toMatch(/^workflow deploy declares no permissions, and .*require\.yaml require\.permissions requires every workflow to$/);
    expect(steps[0]!.result.data.denial.kind).toBe("require");

    const declared = await runWorkflow(echoing("echo hi"), policy("require.yaml"));
    expect(declared.code).toBe(0);
  });

  test("opskit exec is checked against its denials", async () => {
    const file = join(dir, "exec.yaml");
    await writeFile(file, "vars: {}\n");
    const denied = await opskit(["exec", "-c", file, "--json", ...policy("deny.yaml"), "local", "--", "echo", "rm", "-rf", "/srv"]);
    expect(denied.code).toBe(2);
    expect(denied.steps[0]!.result.error.message).toContain("denied by");
    const allowed = await opskit(["exec", "-c", file, "--json", ...policy("require.yaml"), "local", "--", "echo", "hi"]);
    expect(allowed.code).toBe(0);
  });

  test("a policy file with an unknown key is a config error at its position", async () => {
    const yaml = ["workflows:", "  deploy:", "    steps: [{ exec: 'echo hi' }]"];
    const { code, stderr } = await runWorkflow(yaml, policy("invalid.yaml"));
    expect(code).toBe(65);
    expect(stderr).toMatch(/invalid\.yaml:2:3/);
  });
});

describe("metrics", () => {
  test("denials are counted by workflow and kind", async () => {
    const { serverMetrics } = await import("../src/server/index.ts");
    const metrics = serverMetrics({ openIncidents: () => 0, runningRemediations: () => 0, paused: () => false, checks: () => [] });
    const finished = (error: { code: string; message: string }, data?: Record<string, unknown>) =>
      metrics.run({
        type: "step.finished",
        runId: "r1",
        target: "local",
        phase: "main",
        index: 0,
        name: "act",
        action: "exec",
        description: "exec: rm -rf /",
        status: "failed",
        attempts: 0,
        result: { ok: false, changed: false, exitCode: null, stdout: "", stderr: "", durationMs: 0, error, ...(data ? { data } : {}) },
        startedAt: new Date().toISOString(),
      });
    finished({ code: "E_POLICY_DENIED", message: "denied" }, { denial: { workflow: "deploy", kind: "commands", by: "policy", rule: "deny.commands 'rm -rf *'" } });
    finished({ code: "E_POLICY_DENIED", message: "denied" }, { denial: { workflow: "deploy", kind: "commands", by: "workflow", rule: "permissions.commands" } });
    finished({ code: "E_COMMAND_TIMEOUT", message: "timed out" });
    const text = await metrics.registry.metrics();
    expect(text).toContain('opskit_policy_denials_total{workflow="deploy",kind="commands"} 2');
    expect(text).not.toContain('kind="unknown"');
  });
});
