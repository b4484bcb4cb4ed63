import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";

// Values the user writes (--var, --var-json, vars: in the config) and the
// checks that validate and --dry-run make before anything runs, through the
// real CLI on this machine (targets: local) or on hosts that a dry run never
// contacts.
let dir: string;
let journal: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-run-checks-"));
  journal = join(dir, "journal.db");
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes a config (and any other files) into a fresh directory and returns it. */
async function project(files: Record<string, string[]>): Promise<string> {
  const at = await mkdtemp(join(dir, "p-"));
  for (const [name, lines] of Object.entries(files)) await writeFile(join(at, name), `${lines.join("\n")}\n`);
  return at;
}

const opskit = (args: string[], cwd: string, env: Record<string, string> = {}) => runOpskit([args[0]!, ...(args[0] === "run" ? ["--journal", journal] : []), ...args.slice(1)], { cwd, env });

function events(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

const stepOutput = (stdout: string, name: string) => events(stdout).find((e) => e.type === "step.finished" && e.name === name)?.result.stdout as string | undefined;

const inventory = [
  "inventory:",
  "  hosts:",
  "    web-1: { address: 10.255.0.1, labels: { role: web } }",
  "    web-2: { address: 10.255.0.2, labels: { role: web } }",
  "    web-3: { address: 10.255.0.3, labels: { role: web } }",
];

describe("vars from the command line", () => {
  const config = [
    "vars:",
    "  replicas: 3",
    '  quoted: "1.10"',
    "  bare: 1.10",
    "workflows:",
    "  deploy:",
    "    targets: local",
    "    steps:",
    "      - { name: version, exec: 'echo {{ vars.version }}' }",
    "      - { name: mode, exec: 'echo {{ vars.mode }}' }",
  ];

  test("--var version=1.10 renders 1.10 and --var mode=0755 renders 0755: text stays text", async () => {
    const at = await project({ "opskit.yaml": config });
    const run = await opskit(["run", "deploy", "--json", "--var", "version=1.10", "--var", "mode=0755"], at);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(stepOutput(run.stdout, "version")).toBe("1.10\n");
    expect(stepOutput(run.stdout, "mode")).toBe("0755\n");
    expect(events(run.stdout).find((e) => e.type === "run.started")!.vars).toMatchObject({ version: "1.10", mode: "0755" });
  });

  test("--var-json n=3 is a number in CEL (vars.n + 1 == 4); YAML vars keep YAML typing, quotes give text", async () => {
    const at = await project({
      "opskit.yaml": [
        ...config.slice(0, 8),
        "      - { name: sum, when: 'vars.n + 1 == 4', exec: 'echo {{ vars.n + 1 }}' }",
        "      - { name: list, when: 'vars.zones.size() == 2 && vars.on', exec: 'echo {{ vars.zones[1] }}' }",
        "      - { name: yaml, when: 'vars.replicas * 2 == 6', exec: 'echo {{ vars.quoted }} {{ vars.bare }}' }",
      ],
    });
    const run = await opskit(["run", "deploy", "--json", "--var-json", "n=3", "--var-json", 'zones=["a","b"]', "--var-json", "on=true"], at);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const finished = events(run.stdout).filter((e) => e.type === "step.finished");
    expect(finished.map((e) => [e.name, e.status])).toEqual([
      ["sum", "changed"],
      ["list", "changed"],
      ["yaml", "changed"],
    ]);
    expect(stepOutput(run.stdout, "sum")).toBe("4\n");
    expect(stepOutput(run.stdout, "list")).toBe("b\n");
    // YAML's own typing: "1.10" quoted is text, 1.10 bare is the number 1.1.
    expect(stepOutput(run.stdout, "yaml")).toBe("1.10 1.1\n");
  });

  test("invalid JSON in --var-json names the flag and the position in the value (exit 64)", async () => {
    const at = await project({ "opskit.yaml": config });
    const run = await opskit(["run", "deploy", "--var-json", 'zones=["a",]'], at);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('invalid JSON in --var-json zones=["a",]: unexpected "]" at position 6 of the value');
    expect(run.stderr).toContain('  zones=["a",]\n             ^');
  });

  test("shadow's workflow candidate reads --var as text too", async () => {
    const at = await project({ "opskit.yaml": config.slice(0, 9) });
    const run = await runOpskit(["shadow", "version-check", "--journal", join(dir, "shadow.db"), "--legacy", "echo 1.10", "--candidate", "workflow:deploy", "--var", "version=1.10"], { cwd: at });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });
});

describe("vars that nothing gives", () => {
  test("validate reports a var no vars: declares, at its file:line:col with a fix (exit 65); a parameter declared with no value, or given by a rule, is fine", async () => {
    const at = await project({
      "opskit.yaml": [
        "vars:",
        "  app: shop",
        "environments:",
        "  prod: { vars: { region: eu } }",
        "workflows:",
        "  deploy:",
        "    targets: local",
        "    vars: { release: ~ }",
        "    steps:",
        "      - exec: 'echo {{ vars.app }} {{ vars.release }} {{ vars.version }}'",
        "      - { exec: 'echo {{ vars.region }}', when: 'has(vars.flag) && vars.flag' }",
        "  restart:",
        "    targets: local",
        "    steps:",
        "      - exec: 'echo {{ vars.service }}'",
        "rules:",
        "  - { name: restart, match: { alertname: Down }, run: restart, vars: { service: '{{ alert.labels.service }}' } }",
      ],
    });
    const run = await opskit(["validate"], at);
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit: 2 problems in opskit.yaml:");
    expect(run.stderr).toContain("opskit.yaml:10:15: workflows.deploy.steps[0].exec: {{ vars.version }} at column 40 reads vars.version, which no vars: declares and no --var gives");
    expect(run.stderr).toContain('fix: declare it under workflows.deploy.vars with a default (version: "..."), or with no value (version: ~)');
    expect(run.stderr).toContain("opskit.yaml:11:17: workflows.deploy.steps[1].exec: {{ vars.region }} at column 6 reads vars.region");
    expect(run.stderr).toContain("fix: region is declared only under environments (prod): validate and run with --env prod");
    expect(run.stderr).not.toContain("vars.release");
    expect(run.stderr).not.toContain("vars.service");
    expect(run.stderr).not.toContain("vars.flag");
    const withEnv = await opskit(["validate", "--env", "prod", "deploy"], at);
    expect(withEnv.stderr).not.toContain("vars.region");
    expect(withEnv.stderr).toContain("vars.version");
  });

  test("a run checks its vars before it starts: a var nothing gives, or a parameter not given, stops it before any step (exit 65)", async () => {
    const marker = join(dir, `ran-${Date.now()}`);
    const at = await project({
      "opskit.yaml": ["workflows:", "  deploy:", "    targets: local", "    vars: { release: ~ }", "    steps:", `      - exec: 'touch ${marker}'`, "      - { when: 'vars.channel == \"beta\"', exec: 'echo {{ vars.release }}' }"],
    });
    const missing = await opskit(["run", "deploy"], at);
    expect(missing.code).toBe(65);
    expect(missing.stderr).toContain("opskit.yaml:7:17: workflows.deploy.steps[1].when: vars.channel == \"beta\" reads vars.channel, which no vars: declares and no --var gives");
    expect(missing.stderr).toContain("reads vars.release, a parameter declared with no value, and none was given");
    expect(missing.stderr).toContain("fix: give it with --var release=VALUE (text) or --var-json release=JSON");
    expect(existsSync(marker)).toBe(false);
    const dry = await opskit(["run", "deploy", "--dry-run", "--var", "release=1.2"], at);
    expect(dry.code).toBe(65);
    expect(dry.stderr).toContain("vars.channel");
    expect(dry.stderr).not.toContain("vars.release");
    const given = await opskit(["run", "deploy", "--json", "--var", "release=1.2", "--var", "channel=beta"], at);
    expect(given.stderr).toBe("");
    expect(given.code).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });
});

describe("permissions that deny every target", () => {
  test("validate and --dry-run report permissions.hosts that match none of the targets, and permissions without hosts", async () => {
    const at = await project({
      "opskit.yaml": [
        ...inventory,
        "workflows:",
        "  deploy:",
        "    targets: role=web",
        "    permissions: { hosts: role=api, commands: ['*'] }",
        "    steps: [ { ssh: uptime } ]",
        "  nohosts:",
        "    targets: role=web",
        "    permissions: { commands: ['*'] }",
        "    steps: [ { ssh: uptime } ]",
        "  some:",
        "    targets: role=web",
        "    permissions: { hosts: 'name in (web-1)', commands: ['*'] }",
        "    steps: [ { ssh: uptime } ]",
      ],
    });
    const run = await opskit(["validate"], at);
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit.yaml:9:27: workflow deploy may not act on all 3 of its targets: target web-1 is not in permissions.hosts of workflow deploy ('role=api')");
    expect(run.stderr).toContain('fix: permissions.hosts must match the targets ("role=web")');
    expect(run.stderr).toContain("opskit.yaml:13:5: workflow nohosts may not act on all 3 of its targets");
    expect(run.stderr).toContain('fix: permissions without hosts allow no target: add hosts: to permissions, e.g. hosts: "role=web"');
    expect(run.stderr).not.toContain("workflow some");
    const dry = await opskit(["run", "deploy", "--dry-run"], at);
    expect(dry.code).toBe(65);
    expect(dry.stderr).toContain("opskit.yaml:9:27: workflow deploy may not act on all 3 of its targets");
    expect((await opskit(["run", "some", "--dry-run"], at)).code).toBe(0);
    // --limit narrows the targets the dry run judges.
    expect((await opskit(["run", "some", "--dry-run", "--limit", "name=web-2"], at)).code).toBe(65);
  });

  test("a policy whose deny.hosts matches every target is reported at the policy file's line", async () => {
    const at = await project({
      "opskit.yaml": [...inventory, "policy: policy.yaml", "workflows:", "  deploy:", "    targets: role=web", "    steps: [ { ssh: uptime } ]"],
      "policy.yaml": ["deny:", "  commands: ['rm -rf *']", "  hosts: role=web"],
    });
    const run = await opskit(["validate"], at);
    expect(run.code).toBe(65);
    expect(run.stderr).toMatch(/\n  policy\.yaml:3:10: workflow deploy may not act on all 3 of its targets: target web-1 denied by policy\.yaml deny\.hosts 'role=web'/);
    expect(run.stderr).toContain("fix: the policy's deny.hosts wins over any workflow");
    const dry = await opskit(["run", "deploy", "--dry-run"], at);
    expect(dry.code).toBe(65);
    expect(dry.stderr).toContain("deny.hosts 'role=web'");
  });
});

describe("environment variables and secrets that are not set", () => {
  const files = {
    "opskit.yaml": [
      "workflows:",
      "  deploy:",
      "    targets: local",
      "    steps:",
      "      - { name: build, exec: { command: 'make', env: { TOKEN: env:OPSKIT_TEST_BUILD_TOKEN, AUTH: '{{ env.OPSKIT_TEST_AUTH }}' } } }",
      "    hooks:",
      "      on_failure:",
      "        - notify: { url: env:OPSKIT_TEST_HOOK }",
      "rules:",
      "  - name: page",
      "    match: { alertname: Down }",
      "    run: deploy",
      "    escalate:",
      "      - notify: { url: env:OPSKIT_TEST_ONCALL }",
    ],
  };
  const set = { OPSKIT_TEST_BUILD_TOKEN: "t0ken-value", OPSKIT_TEST_AUTH: "auth-value", OPSKIT_TEST_HOOK: "https://hooks.example.com/x", OPSKIT_TEST_ONCALL: "https://hooks.example.com/y" };

  test("validate reports unset env:NAME references and env.NAME reads in steps, hooks and escalations; set, it passes", async () => {
    const at = await project(files);
    const run = await opskit(["validate"], at);
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit.yaml:5:63: workflows.deploy.steps[0].exec.env.TOKEN: environment variable OPSKIT_TEST_BUILD_TOKEN is not set");
    expect(run.stderr).toContain("fix: export OPSKIT_TEST_BUILD_TOKEN=... before running opskit");
    expect(run.stderr).toContain("opskit.yaml:5:98: workflows.deploy.steps[0].exec.env.AUTH: {{ env.OPSKIT_TEST_AUTH }} at column 1 reads env.OPSKIT_TEST_AUTH, and environment variable OPSKIT_TEST_AUTH is not set");
    expect(run.stderr).toContain("opskit.yaml:8:26: workflows.deploy.hooks.on_failure[0].notify.url: environment variable OPSKIT_TEST_HOOK is not set");
    expect(run.stderr).toContain("opskit.yaml:14:24: rules[0].escalate[0].notify.url: environment variable OPSKIT_TEST_ONCALL is not set");
    const ok = await opskit(["validate"], at, set);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
  });

  test("--dry-run reports them too, and passes once they are set", async () => {
    const at = await project(files);
    const dry = await opskit(["run", "deploy", "--dry-run"], at);
    expect(dry.code).toBe(65);
    expect(dry.stderr).toContain("OPSKIT_TEST_BUILD_TOKEN is not set");
    expect(dry.stderr).toContain("OPSKIT_TEST_HOOK is not set");
    expect(dry.stderr).not.toContain("OPSKIT_TEST_ONCALL");
    const ok = await opskit(["run", "deploy", "--dry-run"], at, set);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
  });
});

describe("--dry-run --json", () => {
  test("prints plan.started, one plan.step per target and step in batch order, then plan.finished; nothing is contacted", async () => {
    const at = await project({
      "opskit.yaml": [
        ...inventory,
        "workflows:",
        "  deploy:",
        "    targets: role=web",
        "    vars: { version: '1.10' }",
        "    strategy: { rolling: { batch: [1, 2] } }",
        "    hooks:",
        "      rollback: [ { name: restore, ssh: 'echo back' } ]",
        "    steps:",
        "      - { name: install, ssh: 'echo {{ vars.version }}' }",
        "      - { name: report, when: 'steps.install.exitCode == 0', ssh: 'echo {{ steps.install.stdout }}' }",
      ],
    });
    const run = await opskit(["run", "deploy", "--dry-run", "--json"], at);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const stamped = events(run.stdout);
    expect(stamped.length).toBe(run.stdout.trim().split("\n").length);
    // Every line opens with when it was written, as every opskit JSON line does.
    for (const line of stamped) expect(Object.keys(line)[0]).toBe("at");
    expect(stamped.every((line) => !Number.isNaN(Date.parse(line.at as string)))).toBe(true);
    const lines = stamped.map(({ at: _at, ...rest }) => rest);
    expect(lines[0]).toEqual({ type: "plan.started", kind: "workflow", name: "deploy", targets: ["web-1", "web-2", "web-3"], batches: [["web-1"], ["web-2", "web-3"]], vars: { version: "1.10" }, dryRun: true });
    const steps = lines.filter((l) => l.type === "plan.step");
    expect(steps.map((s) => `${s.batch}:${s.target}:${s.phase}:${s.index}:${s.name}`)).toEqual([
      "1:web-1:main:0:install",
      "1:web-1:main:1:report",
      "1:web-1:rollback:0:restore",
      "2:web-2:main:0:install",
      "2:web-2:main:1:report",
      "2:web-2:rollback:0:restore",
      "2:web-3:main:0:install",
      "2:web-3:main:1:report",
      "2:web-3:rollback:0:restore",
    ]);
    const install = steps[0]!;
    expect(Object.keys(install).sort()).toEqual(["action", "batch", "deferred", "description", "index", "name", "phase", "target", "type", "when"]);
    expect(install).toMatchObject({ action: "ssh", when: null, deferred: null });
    expect(install.description).toContain("1.10");
    expect(steps[1]).toMatchObject({ when: "steps.install.exitCode == 0", description: null });
    expect(steps[1]!.deferred).toContain("steps");
    expect(lines.at(-1)).toEqual({ type: "plan.finished", kind: "workflow", name: "deploy", targets: 3, batches: 2, steps: 9 });
  });
});
