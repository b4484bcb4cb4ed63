import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registry, runAudit, type AuditContext, type Hit } from "../index.ts";

const repoRoot = new URL("../../..", import.meta.url).pathname;

const context: AuditContext = { stepTimeoutOf: () => undefined };

async function check(yaml: string, ctx: AuditContext = context): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (const set of registry.workflow) hits.push(...(await set.check({ path: "/x/opskit.yaml", display: "opskit.yaml", language: "workflow", text: yaml }, ctx)));
  return hits.sort((a, b) => a.line - b.line || a.column - b.column);
}

const at = (hits: Hit[], rule: string) => hits.filter((h) => h.rule === rule).map((h) => `${h.line}:${h.column}`);

const permitted = "    permissions: { commands: ['*'], hosts: 'role=web' }\n";

describe("OPS-WF-001 step without a timeout", () => {
  test("each step and hook step without timeout is found at the step", async () => {
    const yaml = "workflows:\n  w:\n" + permitted + "    steps:\n      - ssh: uptime\n      - ssh: uptime\n        timeout: 5s\n    hooks:\n      rollback:\n        - exec: ./undo\n";
    expect(at(await check(yaml), "OPS-WF-001")).toEqual(["5:9", "10:11"]);
  });

  test("defaults.stepTimeout (here or in a sibling opskit.d file) and wait steps are not", async () => {
    expect(at(await check("defaults:\n  stepTimeout: 2m\nworkflows:\n  w:\n    steps:\n      - ssh: uptime\n"), "OPS-WF-001")).toEqual([]);
    expect(at(await check("workflows:\n  w:\n    steps:\n      - wait: { probe: 'https://x.example/', until: 'ok' }\n"), "OPS-WF-001")).toEqual([]);
    expect(at(await check("workflows:\n  w:\n    steps:\n      - ssh: uptime\n", { stepTimeoutOf: () => "1m" }), "OPS-WF-001")).toEqual([]);
  });
});

describe("OPS-WF-002 destructive command fleet-wide without a failure budget", () => {
  const workflow = (strategy: string, command: string, targets = "role=web") => `workflows:\n  w:\n    targets: ${targets}\n${strategy}    steps:\n      - ssh: ${command}\n        timeout: 1m\n`;

  test("restarts, deletes, reboots, kills and DROPs on every target at once, or rolling without maxFailures, are found at the command", async () => {
    for (const command of ["systemctl restart shop", "sudo rm -rf /var/cache/shop", "reboot", "pkill -f shop", "psql -c 'drop table sessions'", "service nginx stop"]) {
      expect(at(await check(workflow("", command)), "OPS-WF-002")).toEqual(["5:14"]);
    }
    expect(at(await check(workflow("    strategy: { rolling: { batch: 1 } }\n", "systemctl restart shop")), "OPS-WF-002")).toEqual(["6:14"]);
  });

  test("rolling with maxFailures, local targets, liveness checks and reboot-required tests are not", async () => {
    expect(at(await check(workflow("    strategy: { rolling: { batch: [1, '25%'], maxFailures: 0 } }\n", "systemctl restart shop")), "OPS-WF-002")).toEqual([]);
    expect(at(await check(workflow("", "systemctl restart shop", "local")), "OPS-WF-002")).toEqual([]);
    for (const command of ["kill -0 $(cat /run/shop.pid)", "test -f /var/run/reboot-required", "systemctl status shop", "rmdir /tmp/x"]) {
      expect(at(await check(workflow("", `"${command}"`)), "OPS-WF-002")).toEqual([]);
    }
  });
});

describe("OPS-WF-003 inline secret", () => {
  test("literal secrets in vars, step env, headers and URLs are found at the value", async () => {
    const yaml = [
      "vars:",
      "  db_password: hunter2hunter2",
      "workflows:",
      "  w:",
      "    vars: { api_token: abcdef123456 }",
      "    steps:",
      "      - exec: { command: migrate, env: { PGPASSWORD: hunter2hunter2 } }",
      "      - http: { url: 'https://x.example/', headers: { Authorization: 'Basic dXNlcjpwYXNz' } }",
      "      - notify: { url: 'https://hooks.example/send?token=abcdef1234567890' }",
      "      - http: { url: 'https://admin:s3cret@x.example/' }",
    ].join("\n");
    expect(at(await check(yaml), "OPS-WF-003")).toEqual(["2:16", "5:24", "7:54", "8:70", "9:24", "10:22"]);
  });

  test("the report masks the secret's value in every finding's source line", async () => {
    const report = await runAudit({ paths: ["testdata/audit/opskit.yaml"], root: repoRoot, shellcheck: false });
    expect(report.findings.find((f) => f.rule === "OPS-WF-003" && f.line === 42)?.source).toBe("            PGPASSWORD: ********");
    const everything = JSON.stringify(report);
    for (const secret of ["plain-text-pass", "hunter2hunter2", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"]) expect(everything).not.toContain(secret);
  });

  test("env: and file: references, templates, placeholders and non-secret names are not", async () => {
    const yaml = [
      "vars:",
      "  db_password: env:DB_PASSWORD",
      "  api_key: file:/run/secrets/api_key",
      "  ssh_key: ~/.ssh/id_ed25519",
      "  public_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
      "  token_name: deploy",
      "workflows:",
      "  w:",
      "    steps:",
      "      - http: { url: 'https://x.example/', headers: { Authorization: 'Bearer {{ vars.token }}', Accept: application/json } }",
      "      - notify: { url: env:SLACK_WEBHOOK_URL }",
    ].join("\n");
    expect(at(await check(yaml), "OPS-WF-003")).toEqual([]);
  });
});

describe("OPS-WF-004 host key checking off, OPS-WF-005 permissions, OPS-WF-006 syntax", () => {
  test("hostKeyChecking: off in defaults or an environment's defaults is found; strict and accept-new are not", async () => {
    const yaml = "defaults:\n  hostKeyChecking: off\nenvironments:\n  lab:\n    defaults: { hostKeyChecking: off }\n  prod:\n    defaults: { hostKeyChecking: strict }\nworkflows: {}\n";
    expect(at(await check(yaml), "OPS-WF-004")).toEqual(["2:20", "5:34"]);
    expect(at(await check("defaults:\n  hostKeyChecking: accept-new\nworkflows: {}\n"), "OPS-WF-004")).toEqual([]);
  });

  test("a workflow without permissions is found at its name; one with them is not", async () => {
    const yaml = "workflows:\n  open:\n    steps: [{ ssh: uptime, timeout: 5s }]\n  closed:\n" + permitted + "    steps: [{ ssh: uptime, timeout: 5s }]\n";
    expect(at(await check(yaml), "OPS-WF-005")).toEqual(["2:3"]);
  });

  test("a config that does not parse is one finding at the syntax error", async () => {
    const hits = await check("workflows:\n  w:\n    steps: [\n");
    expect(hits.map((h) => h.rule)).toEqual(["OPS-WF-006"]);
    expect(hits[0]!.line).toBeGreaterThanOrEqual(3);
  });
});

describe("workflow files on disk", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "opskit-audit-wf-"));
    mkdirSync(join(dir, "opskit.d"));
    writeFileSync(join(dir, "opskit.d", "00-defaults.yaml"), "defaults:\n  stepTimeout: 2m\n");
    writeFileSync(join(dir, "opskit.d", "10-web.yaml"), "workflows:\n  w:\n    steps:\n      - ssh: uptime\n");
    writeFileSync(join(dir, "values.yaml"), "replicas: 3\nworkflow: not-ours\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("an opskit.d file shares its siblings' defaults.stepTimeout; YAML without top-level workflows: is not read", async () => {
    const report = await runAudit({ paths: [dir], root: dir, shellcheck: false });
    expect(report.summary.files).toBe(1);
    expect(report.findings.map((f) => `${f.file}:${f.rule}`)).toEqual(["opskit.d/10-web.yaml:OPS-WF-005"]);
  });
});

describe("OPS-WF-007 template value where the shell would parse it again", () => {
  test("arithmetic, eval and sh -c scripts are found at the command; a quoted or here-document value is not", async () => {
    const yaml = [
      "workflows:",
      "  w:",
      permitted.trimEnd(),
      "    steps:",
      "      - exec: echo $(( {{ vars.n }} + 1 ))",
      "        timeout: 5s",
      `      - ssh: sh -c "systemctl restart {{ vars.unit }}"`,
      "        timeout: 5s",
      `      - ssh: systemctl restart "{{ vars.unit }}"`,
      "        timeout: 5s",
      "      - exec: |",
      "          cat <<EOF",
      "          {{ vars.unit }}",
      "          EOF",
      "        timeout: 5s",
      "",
    ].join("\n");
    const hits = await check(yaml);
    expect(at(hits, "OPS-WF-007")).toEqual(["5:15", "7:14"]);
    expect(hits.find((h) => h.rule === "OPS-WF-007")!.message).toContain("arithmetic");
    expect(hits.filter((h) => h.rule === "OPS-WF-007")[1]!.message).toContain("sh -c");
  });
});
