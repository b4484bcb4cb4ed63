import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { actions } from "../src/actions/index.ts";
import { loadConfig, type Config } from "../src/config/index.ts";
import { resolveInventory } from "../src/inventory/index.ts";
import { repoRoot, runOpskit } from "./harness/cli.ts";

let root: string;
let count = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "opskit-config-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh project directory holding these files (paths may include folders). */
async function project(files: Record<string, string | string[]>): Promise<string> {
  const dir = join(root, `p${++count}`);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), Array.isArray(text) ? `${text.join("\n")}\n` : text);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

const names = (stdout: string) => stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line).name as string);

describe("finding the config", () => {
  test("opskit.d/*.yaml files merge in name order; each may hold any top-level key", async () => {
    const dir = await project({
      "opskit.d/20-workflows.yaml": ["workflows:", "  uptime:", "    targets: role=web", "    steps: [{ ssh: uptime }]"],
      "opskit.d/10-hosts.yaml": ["defaults: { user: deploy }", "inventory:", "  hosts:", "    web-1: { labels: { role: web } }", "  sources: [{ hosts: hosts.txt }]"],
      "opskit.d/30-more-hosts.yaml": ["inventory:", "  hosts:", "    web-2: { labels: { role: web } }"],
      "opskit.d/README.md": "not read",
      "hosts.txt": "worker-1\n",
    });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("ok: 3 hosts, 1 workflow, 0 rules, 0 checks (opskit.d/10-hosts.yaml, opskit.d/20-workflows.yaml, opskit.d/30-more-hosts.yaml)\n");
  });

  test("the same workflow or host in two files is an error naming both file:line:col", async () => {
    const dir = await project({
      "opskit.d/a.yaml": ["workflows:", "  deploy:", "    steps: [{ ssh: a }]"],
      "opskit.d/b.yaml": ["vars: {}", "workflows:", "  deploy:", "    steps: [{ ssh: b }]"],
    });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('opskit.d/b.yaml:3:3: workflow "deploy" is already defined at opskit.d/a.yaml:2:3');
    expect(run.stderr).toContain("hint: each workflow is defined in one file only");

    const hosts = await project({
      "opskit.d/a.yaml": ["inventory:", "  hosts:", "    web-1: {}"],
      "opskit.d/b.yaml": ["inventory: { hosts: { web-1: { port: 2 } } }"],
    });
    const dup = await runOpskit(["inventory"], { cwd: hosts });
    expect(dup.code).toBe(65);
    expect(dup.stderr).toContain('opskit.d/b.yaml:1:23: host "web-1" is already defined at opskit.d/a.yaml:3:5');
  });

  test("./opskit.yaml wins over ./opskit.d/, and -c takes a file or a directory", async () => {
    const dir = await project({
      "opskit.yaml": ["inventory: { hosts: { from-yaml: {} } }"],
      "opskit.d/a.yaml": ["inventory: { hosts: { from-d: {} } }"],
      "other/custom.yaml": ["inventory: { hosts: { from-c: {} } }"],
      "split/opskit.d/x.yaml": ["inventory: { hosts: { from-split: {} } }"],
    });
    expect(names((await runOpskit(["inventory", "--json"], { cwd: dir })).stdout)).toEqual(["from-yaml"]);
    expect(names((await runOpskit(["inventory", "--json", "-c", "other/custom.yaml"], { cwd: dir })).stdout)).toEqual(["from-c"]);
    expect(names((await runOpskit(["inventory", "--json", "--config", "split"], { cwd: dir })).stdout)).toEqual(["from-split"]);
  });

  test("no config is exit 65 with a hint to create opskit.yaml", async () => {
    const dir = await project({});
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("no opskit config in");
    expect(run.stderr).toContain("hint: create opskit.yaml");
    const missing = await runOpskit(["inventory", "-c", "nope.yaml"], { cwd: dir });
    expect(missing.code).toBe(65);
    expect(missing.stderr).toContain("config not found: nope.yaml");
  });
});

describe("environments", () => {
  const files = {
    "opskit.yaml": [
      "vars: { version: '1.0', region: eu }",
      "defaults: { user: deploy, port: 22 }",
      "inventory:",
      "  hosts:",
      "    web-1: { address: 10.0.0.1, labels: { role: web } }",
      "    web-2: { address: 10.0.0.2, labels: { role: web } }",
      "  sources: [{ hosts: base.txt }]",
      "environments:",
      "  staging:",
      "    vars: { version: '1.1-rc' }",
      "    defaults: { user: staging }",
      "    inventory:",
      "      hosts:",
      "        web-1: { address: 10.9.0.1 }",
      "        web-9: { address: 10.9.0.9 }",
      "      sources: [{ hosts: staging.txt }]",
      "  prod: {}",
    ],
    "base.txt": "worker-1\n",
    "staging.txt": "worker-s1\n",
  };

  test("--env overlays vars and defaults key by key, replaces hosts by name and appends sources", async () => {
    const dir = await project(files);
    const run = await runOpskit(["inventory", "--json", "--env", "staging"], { cwd: dir });
    expect(run.code).toBe(0);
    const targets = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(targets.map((t) => t.name)).toEqual(["web-1", "web-2", "web-9", "worker-1", "worker-s1"]);
    const web1 = targets.find((t) => t.name === "web-1");
    // The environment's entry replaces the base one whole: its labels are gone.
    expect(web1).toMatchObject({ address: "10.9.0.1", user: "staging", port: 22, labels: {} });

    const loaded = await loadConfig({ cwd: dir, env: "staging" });
    expect(loaded.environment).toBe("staging");
    expect(loaded.config.vars).toEqual({ version: "1.1-rc", region: "eu" });
    expect(loaded.config.defaults).toEqual({ user: "staging", port: 22 });
    // where() points into the environment for what it replaced, and at the base for the rest.
    expect(loaded.where(["inventory", "hosts", "web-1"])).toBe("opskit.yaml:14:9");
    expect(loaded.where(["inventory", "hosts", "web-2"])).toBe("opskit.yaml:6:5");
    expect(loaded.where(["vars", "version"])).toBe("opskit.yaml:10:22");
    expect(loaded.where(["inventory", "sources", 1, "hosts"])).toBe("opskit.yaml:16:26");
  });

  test("the loaded config carries its effective defaults, after opskit.d/ merging and the --env overlay", async () => {
    const dir = await project({
      "opskit.d/a.yaml": ["defaults: { stepTimeout: 1m30s }"],
      "opskit.d/b.yaml": ["environments:", "  fast: { defaults: { stepTimeout: 20s, concurrency: 4, connectTimeout: 2s, hostKeyChecking: accept-new } }", "  same: {}"],
    });
    const connection = { connectTimeoutMs: 10_000, authTimeoutMs: 10_000, hostKeyChecking: "strict" as const };
    expect((await loadConfig({ cwd: dir })).defaults).toEqual({ stepTimeoutMs: 90_000, concurrency: 32, ...connection });
    expect((await loadConfig({ cwd: dir, env: "fast" })).defaults).toEqual({ stepTimeoutMs: 20_000, concurrency: 4, ...connection, connectTimeoutMs: 2_000, hostKeyChecking: "accept-new" });
    expect((await loadConfig({ cwd: dir, env: "same" })).defaults).toEqual({ stepTimeoutMs: 90_000, concurrency: 32, ...connection });
    const bare = await project({ "opskit.yaml": ["vars: {}"] });
    expect((await loadConfig({ cwd: bare })).defaults).toEqual({ stepTimeoutMs: 300_000, concurrency: 32, ...connection });
  });

  test("an unknown --env is a usage error listing the defined environments", async () => {
    const dir = await project(files);
    const run = await runOpskit(["validate", "--env", "qa"], { cwd: dir });
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('unknown environment "qa"');
    expect(run.stderr).toContain("hint: use one of: staging, prod");
  });
});

describe("config errors name file:line:col, the field and the fix", () => {
  const cases: [string, string[], string[]][] = [
    ["invalid YAML", ["workflows:", "  deploy:", "    steps: [ { ssh: x }", "  other: 1"], ["opskit.yaml:4:"]],
    [
      "a step with two actions",
      ["workflows:", "  deploy:", "    steps:", "      - ssh: uptime", "        http: { url: http://x }"],
      ["opskit.yaml:4:9: workflows.deploy.steps[0]: a step takes one action, not ssh and http", "hint: split it into one step per action"],
    ],
    [
      "an unknown key, with the likely intended one",
      ["workflows:", "  deploy:", "    steps:", "      - ssh: uptime", "        retires: { attempts: 2 }"],
      ['opskit.yaml:5:9: workflows.deploy.steps[0]: unknown key "retires"', 'hint: did you mean "retries"?'],
    ],
    [
      "a bad duration",
      ["workflows:", "  deploy:", "    steps:", "      - ssh: uptime", "        timeout: 5 minutes"],
      ['opskit.yaml:5:18: workflows.deploy.steps[0].timeout: invalid value "5 minutes": expected a duration such as "500ms"', 'hint: write a duration such as "500ms"'],
    ],
    ["a workflow without steps", ["workflows:", "  deploy:", "    targets: role=web"], ['opskit.yaml:2:3: workflows.deploy: missing required key "steps"', "hint: add steps: (a list)"]],
    [
      "a strategy with a misspelt key",
      ["workflows:", "  deploy:", "    strategy: { rolling: { batch: 2, maxFailure: 1 } }", "    steps: [{ ssh: x }]"],
      ['opskit.yaml:3:38: workflows.deploy.strategy.rolling: unknown key "maxFailure"', 'did you mean "maxFailures"?'],
    ],
    ["a value of the wrong type", ["inventory:", "  hosts:", "    web-1: { port: twenty-two }"], ['opskit.yaml:3:20: inventory.hosts.web-1.port: expected a number, got "twenty-two"']],
    ["an enum value out of its set", ["defaults: { hostKeyChecking: maybe }"], ['opskit.yaml:1:30: defaults.hostKeyChecking: "maybe" is not allowed', 'hint: use one of: "strict", "accept-new", "off"']],
  ];

  test.each(cases)("%s", async (_, lines, expected) => {
    const dir = await project({ "opskit.yaml": lines });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    for (const text of expected) expect(run.stderr).toContain(text);
  });

  test("in opskit.d/, an error names the file it is in", async () => {
    const dir = await project({
      "opskit.d/a.yaml": ["inventory: { hosts: { web-1: {} } }"],
      "opskit.d/b.yaml": ["workflows:", "  deploy:", "    steps:", "      - ssh: x", "        continue: true"],
    });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('opskit.d/b.yaml:5:9: workflows.deploy.steps[0]: unknown key "continue"');
  });

  test("aliases nested into a \"billion laughs\" are refused at the first alias's file:line:col, exit 65, no stack", async () => {
    const level = (name: string, of: string) => `  ${name}: &${name} [${Array(9).fill(of).join(", ")}]`;
    const dir = await project({
      "opskit.yaml": ["vars:", level("a", '"lol"'), level("b", "*a"), level("c", "*b"), level("d", "*c"), level("e", "*d"), level("f", "*e"), level("g", "*f"), "workflows: {}"],
    });
    const run = await runOpskit(["validate"], { cwd: dir, timeoutMs: 20_000 });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit.yaml:3:");
    expect(run.stderr).toContain("aliases expand past 1000 nodes");
    expect(run.stderr).toContain("hint: write the repeated values out");
    expect(run.stderr).not.toContain("    at ");
  });
});

describe("opskit validate", () => {
  test("a good config prints hosts, workflows and files, exit 0", async () => {
    const dir = await project({
      "opskit.yaml": [
        "inventory:",
        "  hosts: { web-1: { labels: { role: web } }, web-2: { labels: { role: web } } }",
        "workflows:",
        "  restart:",
        "    targets: role=web,name in (web-*)",
        "    vars: { service: ~ }",
        "    steps:",
        "      - name: restart",
        "        ssh: systemctl restart {{ vars.service }}",
        "      - wait: { http: { url: 'http://{{ target.address }}/health', expect: 'status == 200' }, until: 'status == 200 && duration < duration(\"1s\")' }",
        "        when: steps.restart.exitCode == 0",
      ],
    });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("ok: 2 hosts, 1 workflow, 0 rules, 0 checks (opskit.yaml)\n");
    expect(run.code).toBe(0);
  });

  test("a malformed targets selector names its file:line:col and shows the caret", async () => {
    const dir = await project({ "opskit.yaml": ["workflows:", "  deploy:", "    targets: role in (web", "    steps: [{ ssh: x }]"] });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('opskit.yaml:3:14: workflows.deploy.targets: invalid selector: expected ")" to close the set');
    expect(run.stderr).toContain("  role in (web\n              ^ column 13");
  });

  test("a CEL error in when, until or expect names the expression's file:line:col", async () => {
    const cases: [string[], string][] = [
      [["      - ssh: x", "        when: exitcode == 0"], 'opskit.yaml:5:15: workflows.deploy.steps[0].when: unknown name "exitcode"'],
      [["      - wait: { ssh: x, until: 'exitCode = 0' }"], "opskit.yaml:4:32: workflows.deploy.steps[0].wait.until: invalid expression"],
      [["      - http: { url: 'http://x', expect: [status == 200, 'stat < 500'] }"], 'opskit.yaml:4:58: workflows.deploy.steps[0].http.expect[1]: unknown name "stat"'],
    ];
    for (const [step, message] of cases) {
      const dir = await project({ "opskit.yaml": ["workflows:", "  deploy:", "    steps:", ...step] });
      const run = await runOpskit(["validate"], { cwd: dir });
      expect(run.stderr).toContain(message);
      expect(run.code).toBe(65);
    }
  });

  test("a selector that matches no host is a warning, not an error", async () => {
    const dir = await project({ "opskit.yaml": ["workflows:", "  deploy:", "    targets: role=db", "    steps: [{ ssh: x }]"] });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('warning: opskit.yaml:3:14: workflows.deploy.targets "role=db" matches no hosts');
  });
});

describe("opskit schema", () => {
  test("prints a JSON Schema that accepts a real config and rejects unknown keys", async () => {
    const run = await runOpskit(["schema"]);
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout);
    expect(schema).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", title: "opskit.yaml", type: "object" });
    const { parse } = await import("yaml");
    const example = parse(await Bun.file(`${repoRoot}examples/opskit.yaml`).text());
    expect(validate(schema, example)).toEqual([]);
    expect(validate(schema, { workflows: { d: { steps: [{ ssh: "x", sleep: 1 }] } } })).toContain("/workflows/d/steps/0: unknown key sleep");
    expect(validate(schema, { defaults: { port: "22" } })).toContain("/defaults/port: expected integer");
  });

  test("writes to a file when given one", async () => {
    const dir = await project({});
    const run = await runOpskit(["schema", "opskit.schema.json"], { cwd: dir });
    expect(run.code).toBe(0);
    expect(JSON.parse(await Bun.file(join(dir, "opskit.schema.json")).text()).title).toBe("opskit.yaml");
  });
});

describe("examples/opskit.yaml", () => {
  test("loads, resolves its inventory and validates; it uses every action kind, both strategies and every hook", async () => {
    const loaded = await loadConfig({ cwd: repoRoot, path: "examples" });
    const targets = await resolveInventory(loaded);
    expect(targets.length).toBeGreaterThan(5);
    const config: Config = loaded.config;
    const steps = Object.values(config.workflows).flatMap((w) => [...w.steps, ...Object.values(w.hooks).flat()]);
    const kinds = new Set(steps.flatMap((s) => Object.keys(actions).filter((k) => (s as Record<string, unknown>)[k] !== undefined)));
    expect([...kinds].sort()).toEqual(Object.keys(actions).sort());
    expect([...new Set(Object.values(config.workflows).map((w) => Object.keys(w.strategy)[0]))].sort()).toEqual(["parallel", "rolling"]);
    expect(Object.values(config.workflows).some((w) => Object.values(w.hooks).every((h) => h.length > 0))).toBe(true);
    expect(Object.keys(config.environments).length).toBeGreaterThan(0);
    expect(config.inventory.sources.length).toBeGreaterThan(0);

    // Its notify steps read webhook URLs from the environment, and validate checks that they are set.
    const secrets = { SLACK_WEBHOOK_URL: "https://hooks.example.com/slack", PAGER_WEBHOOK_URL: "https://hooks.example.com/pager" };
    const run = await runOpskit(["validate", "-c", "examples"], { env: secrets });
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^ok: \d+ hosts, 4 workflows, 0 rules, 0 checks \(examples\/opskit\.yaml\)\n$/);
    expect(run.code).toBe(0);
    const staging = await runOpskit(["validate", "-c", "examples", "--env", "staging"], { env: secrets });
    expect(staging.code).toBe(0);
  });
});

/**
 * The subset of JSON Schema (2020-12) that z.toJSONSchema emits for this
 * config: enough to check the schema says what the zod schema means.
 */
function validate(schema: any, value: unknown, path = ""): string[] {
  const errors: string[] = [];
  const at = path || "/";
  if (schema === true || schema === undefined || Object.keys(schema).length === 0) return errors;
  if (schema.anyOf) {
    const branches = (schema.anyOf as unknown[]).map((s) => validate(s, value, path));
    if (branches.every((b) => b.length > 0)) errors.push(...branches.reduce((a, b) => (a.length <= b.length ? a : b)));
    return errors;
  }
  const type = Array.isArray(value) ? "array" : value === null ? "null" : typeof value === "number" && Number.isInteger(value) ? "integer" : typeof value;
  const types = schema.type === undefined ? undefined : [schema.type].flat();
  if (types && !types.includes(type) && !(type === "integer" && types.includes("number"))) return [`${at}: expected ${types.join("|")}`];
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: not one of ${schema.enum.join(", ")}`);
  if (schema.const !== undefined && schema.const !== value) errors.push(`${at}: expected ${schema.const}`);
  if (typeof value === "string") {
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: too short`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: too few items`);
    value.forEach((item, i) => errors.push(...validate(schema.items, item, `${path}/${i}`)));
  }
  if (type === "object") {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in object)) errors.push(`${at}: missing ${key}`);
    for (const [key, item] of Object.entries(object)) {
      if (schema.propertyNames) errors.push(...validate(schema.propertyNames, key, `${path}/${key}`));
      if (schema.properties?.[key]) errors.push(...validate(schema.properties[key], item, `${path}/${key}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unknown key ${key}`);
      else if (typeof schema.additionalProperties === "object") errors.push(...validate(schema.additionalProperties, item, `${path}/${key}`));
    }
  }
  return errors;
}

describe("server, checks and rules in the config", () => {
  const workflow = ["workflows:", "  restart:", "    steps: [{ exec: 'true' }]"];

  test("rules and checks validate, and split across opskit.d/ files", async () => {
    const dir = await project({
      "opskit.d/10-workflows.yaml": workflow,
      "opskit.d/20-rules.yaml": ["rules:", "  - name: restart-api", "    match: { alertname: ApiDown }", "    matchRe: { instance: 'api-.*' }", "    run: restart", "    vars: { service: '{{ alert.labels.service }}' }"],
      "opskit.d/30-checks.yaml": ["server: { listen: '127.0.0.1:9999' }", "checks:", "  - name: api", "    probe: http://127.0.0.1:8080/health", "    expect: ['status == 200']"],
    });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.stdout).toStartWith("ok: 0 hosts, 1 workflow, 1 rule, 1 check (");
    const loaded = await loadConfig({ cwd: dir });
    expect(loaded.config.server).toEqual({ listen: "127.0.0.1:9999" });
    expect(loaded.config.rules[0]).toMatchObject({ cooldown: "10m", maxAttempts: 2, circuitBreaker: 3, onInterrupted: "retry", approval: false });
    expect(loaded.config.checks[0]).toMatchObject({ interval: "10s", failureThreshold: 3, successThreshold: 2 });
  });

  test("a rule name used twice across files names both places", async () => {
    const rule = ["rules:", "  - name: restart-api", "    run: restart"];
    const dir = await project({ "opskit.d/10.yaml": [...workflow, ...rule], "opskit.d/20.yaml": rule });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('opskit.d/20.yaml:2:11: rule "restart-api" is already defined at opskit.d/10.yaml:5:11');
  });

  test("a rule's unknown workflow, bad regex, bad CEL and bad template point at the rule's file:line:col", async () => {
    const cases: [string[], string][] = [
      [["    run: restrat"], 'opskit.yaml:6:10: rule "r" runs workflow "restrat", which is not defined'],
      [["    run: restart", "    matchRe: { host: 'web-(' }"], "opskit.yaml:5:5.matchRe.host: invalid regular expression"],
      [["    run: restart", "    when: alrt.labels.x == 'y'"], 'unknown name "alrt"'],
      [["    run: restart", "    vars: { s: '{{ alert.labels.service' }"], "opskit.yaml:7:"],
    ];
    for (const [lines, message] of cases) {
      const dir = await project({ "opskit.yaml": [...workflow, "rules:", "  - name: r", ...lines] });
      const run = await runOpskit(["validate"], { cwd: dir });
      expect({ code: run.code, has: run.stderr.includes(message), stderr: run.stderr }).toMatchObject({ code: 65, has: true });
    }
  });

  test("a check with a bad probe URL or expectation names the check's place", async () => {
    const dir = await project({ "opskit.yaml": ["checks:", "  - name: api", "    probe: htp://x", "    interval: 5s"] });
    const run = await runOpskit(["validate"], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit.yaml:");
    expect(run.stderr).toContain("htp://x");
  });
});

describe("shadow and permissions in the config", () => {
  test("validate checks a shadow's compared step and normalize patterns, and the policy file", async () => {
    const base = ["workflows:", "  report:", "    shadow:", "      legacy: ./old.sh"];
    const steps = ["    steps: [{ name: scan, exec: 'true' }]"];
    const badStep = await project({ "opskit.yaml": [...base, "      step: scna", ...steps] });
    const step = await runOpskit(["validate"], { cwd: badStep });
    expect(step.code).toBe(65);
    expect(step.stderr).toContain("scna");
    const badPattern = await project({ "opskit.yaml": [...base, "      normalize: [{ pattern: '(unclosed' }]", ...steps] });
    const pattern = await runOpskit(["validate"], { cwd: badPattern });
    expect(pattern.code).toBe(65);
    expect(pattern.stderr).toContain("opskit.yaml:5:");
    expect(pattern.stderr).toContain("invalid regular expression");
    const missingPolicy = await project({ "opskit.yaml": ["policy: ./nowhere.yaml", ...base.slice(0, 2), ...steps] });
    const policy = await runOpskit(["validate"], { cwd: missingPolicy });
    expect(policy.code).not.toBe(0);
    expect(policy.stderr).toContain("nowhere.yaml");
    const good = await project({ "opskit.yaml": [...base, "      step: scan", "      normalize: [{ pattern: '\\d+s' }]", ...steps] });
    expect((await runOpskit(["validate"], { cwd: good })).code).toBe(0);
  });
});
