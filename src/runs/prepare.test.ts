import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadTestConfig } from "../../test/harness/config.ts";
import type { LoadedConfig } from "../config/index.ts";
import { localTarget } from "../inventory/index.ts";
import { adHocWorkflow, prepareAdHoc, prepareCompiled, prepareExec, prepareWorkflow } from "./index.ts";

let dir: string;
let loaded: LoadedConfig;
let remove: () => void;

beforeAll(async () => {
  ({ dir, loaded, remove } = await loadTestConfig(
    `vars: { who: config, region: eu }
defaults: { concurrency: 7, stepTimeout: 40s }
inventory:
  hosts:
    web-1: { address: 10.0.0.1, labels: { role: web, zone: a } }
    web-2: { address: 10.0.0.2, labels: { role: web, zone: b } }
    db-1: { address: 10.0.0.3, labels: { role: db, zone: a } }
workflows:
  deploy:
    targets: role=web
    vars: { who: workflow, version: "1.0" }
    steps:
      - name: restart
        ssh: systemctl restart app-{{ vars.version }}
`,
    { "policy.yaml": "deny:\n  commands: ['rm -rf /*']\n" },
  ));
});

afterAll(() => remove());

describe("prepareWorkflow", () => {
  test("given vars win over the workflow's, which win over the config's; --limit narrows the targets and is recorded", async () => {
    const prepared = await prepareWorkflow(loaded, { name: "deploy", limit: "zone=b", vars: { version: "2.0" }, configPath: "opskit.yaml", env: "prod", dryRun: true });
    expect(prepared.kind).toBe("workflow");
    expect(prepared.targets.map((t) => t.name)).toEqual(["web-2"]);
    expect(prepared.vars).toEqual({ who: "workflow", region: "eu", version: "2.0" });
    expect(prepared.compiled.steps.map((s) => [s.name, s.timeoutMs])).toEqual([["restart", 40_000]]);
    expect(prepared.params).toMatchObject({ configFiles: loaded.files, configPath: "opskit.yaml", cwd: process.cwd(), workflow: "deploy", env: "prod", limit: "zone=b", vars: prepared.vars, dryRun: true });
    expect(prepared.params.trigger).toBeUndefined();
  });

  test("a policy file is applied and recorded as an absolute path, so a resume from elsewhere finds it", async () => {
    const prepared = await prepareWorkflow(loaded, { name: "deploy", policyPath: join(dir, "policy.yaml") });
    expect(prepared.policy).toBeDefined();
    expect(prepared.params.policy).toBe(join(dir, "policy.yaml"));
  });

  test("a workflow compiled ahead is used as it is, and targets chosen by the caller are not resolved again", async () => {
    const ahead = await prepareWorkflow(loaded, { name: "deploy" });
    const prepared = await prepareWorkflow(loaded, { name: "deploy", compiled: ahead.compiled, targets: [localTarget], trigger: { incident: 3, attempt: 2, rule: "r" } });
    expect(prepared.compiled).toBe(ahead.compiled);
    expect(prepared.targets).toEqual([localTarget]);
    expect(prepared.params.trigger).toEqual({ incident: 3, attempt: 2, rule: "r" });
  });

  test("an unknown workflow is a usage error that lists the defined ones", async () => {
    const error = await prepareWorkflow(loaded, { name: "nope" }).catch((e) => e);
    expect(error.code).toBe("E_NO_WORKFLOW");
    expect(error.hint).toContain("deploy");
  });
});

describe("ad-hoc runs", () => {
  test("exec is one ssh step named command on the selector's targets, at the config's concurrency unless given", async () => {
    const prepared = await prepareExec(loaded, { selector: "role=web", command: "uptime", timeout: "9s" });
    expect(prepared.kind).toBe("exec");
    expect(prepared.name).toBe("uptime");
    expect(prepared.targets.map((t) => t.name)).toEqual(["web-1", "web-2"]);
    expect(prepared.compiled.workflow).toEqual(adHocWorkflow([{ name: "command", ssh: "uptime", timeout: "9s", continueOnError: false }], { targets: "role=web", concurrency: 7 }));
    expect(prepared.compiled.steps[0]!.timeoutMs).toBe(9_000);
    expect(prepared.vars).toEqual({ who: "config", region: "eu" });
    expect(prepared.params).toMatchObject({ command: "uptime", selector: "role=web", concurrency: 7, dryRun: false });
    const given = await prepareExec(loaded, { selector: "role=web", command: "uptime", concurrency: 2 });
    expect(given.params.concurrency).toBe(2);
  });

  test("exec without a selector or a command is a usage error", async () => {
    expect((await prepareExec(loaded, { selector: "role=web", command: "" }).catch((e) => e)).code).toBe("E_USAGE_EXEC");
    expect((await prepareExec(loaded, { selector: "", command: "uptime" }).catch((e) => e)).code).toBe("E_USAGE_EXEC");
  });

  test("without a selector an ad-hoc run is on this machine; one that is not replayable does not record its selector", async () => {
    const step = { name: "s", exec: "true", continueOnError: false };
    const local = await prepareAdHoc(loaded, { name: "wrap:x", command: "./x", steps: [step], replayable: false, timeoutMs: 1000, compiledAs: { name: "wrap", where: "opskit wrap" }, localEnvironment: "inherit" });
    expect(local.targets).toEqual([localTarget]);
    expect(local.compiled.workflow.targets).toBe("local");
    expect(local.localEnvironment).toBe("inherit");
    const on = await prepareAdHoc(loaded, { name: "wrap:x", command: "./x", steps: [step], on: { selector: "role=db", where: "opskit wrap --on" }, replayable: false, timeoutMs: 1000, compiledAs: { name: "wrap", where: "opskit wrap" } });
    expect(on.targets.map((t) => t.name)).toEqual(["db-1"]);
    expect(on.params.selector).toBeUndefined();
    expect(on.params.command).toBe("./x");
  });

  test("a workflow compiled ahead runs on the targets given, recorded as a workflow run", async () => {
    const { compiled } = await prepareExec(loaded, { selector: "role=web", command: "true" });
    const prepared = prepareCompiled(loaded, { name: "escalate:r", compiled, targets: [localTarget], vars: { reason: "x" }, trigger: { incident: 1, attempt: 0, rule: "r" } });
    expect(prepared).toMatchObject({ kind: "workflow", name: "escalate:r", targets: [localTarget], vars: { reason: "x" } });
    expect(prepared.params).toMatchObject({ workflow: "escalate:r", vars: { reason: "x" }, dryRun: false, trigger: { incident: 1, attempt: 0, rule: "r" } });
  });
});
