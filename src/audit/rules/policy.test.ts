import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPolicy, runAudit } from "../index.ts";
import { isOpsError } from "../../errors.ts";

const repoRoot = new URL("../../..", import.meta.url).pathname;

const fixtures = join(repoRoot, "testdata/audit");
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-policy-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<{ exitCode: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isOpsError(error)) return { exitCode: error.exitCode, message: error.message };
    throw error;
  }
  throw new Error("expected an OpsError");
}

describe("loadPolicy", () => {
  test("reads deny and require, and knows where each rule sits in the file", async () => {
    const policy = await loadPolicy(join(fixtures, "policy.yaml"));
    expect(policy.deny.commands).toEqual(["rm -rf *", "*DROP TABLE*"]);
    expect(policy.deny.hosts).toBe("env=prod,role=db");
    expect(policy.deny.sudo).toBe(true);
    expect(policy.require.permissions).toBe(true);
    expect(policy.where(["deny", "commands", 1])).toMatch(/policy\.yaml:5:7$/);
  });

  test("a missing file is a usage error (64); an unknown key is an invalid-config error (65) at file:line:col", async () => {
    expect(await failure(loadPolicy(join(dir, "nope.yaml")))).toMatchObject({ exitCode: 64, message: expect.stringContaining("policy file not found") });
    writeFileSync(join(dir, "bad.yaml"), "deny:\n  comands: ['rm *']\n");
    expect(await failure(loadPolicy(join(dir, "bad.yaml")))).toMatchObject({ exitCode: 65, message: expect.stringMatching(/bad\.yaml:2:3: .*comands/) });
  });
});

describe("workflows against a policy", () => {
  test("the planted violations in testdata/audit/opskit.yaml are found exactly, each naming its policy rule", async () => {
    const policy = await loadPolicy(join(fixtures, "policy.yaml"));
    const report = await runAudit({ paths: [join(fixtures, "opskit.yaml")], root: repoRoot, shellcheck: false, policy });
    const found = report.findings.filter((f) => f.rule.startsWith("OPS-POL")).map((f) => `${f.rule}@${f.line}`);
    expect(found).toEqual(["OPS-POL-005@18", "OPS-POL-003@23", "OPS-POL-001@25", "OPS-POL-004@29", "OPS-POL-001@34", "OPS-POL-003@36", "OPS-POL-001@40", "OPS-POL-002@46"]);
    const drop = report.findings.find((f) => f.rule === "OPS-POL-001" && f.line === 40)!;
    expect(drop.message).toContain('deny.commands[1] ("*DROP TABLE*", ');
    expect(drop.message).toContain("policy.yaml:5:7");
    expect(report.findings.find((f) => f.rule === "OPS-POL-004")!.message).toContain("targets db-1,");
  });

  test("without --policy, a config's own policy: applies; one that cannot be read is a note", async () => {
    writeFileSync(join(dir, "org.yaml"), "deny:\n  sudo: true\n");
    writeFileSync(join(dir, "opskit.yaml"), "policy: org.yaml\nworkflows:\n  w:\n    steps:\n      - ssh: sudo reboot\n        timeout: 1m\n");
    const report = await runAudit({ paths: [join(dir, "opskit.yaml")], root: dir, shellcheck: false });
    expect(report.findings.filter((f) => f.rule.startsWith("OPS-POL")).map((f) => `${f.rule}@${f.line}`)).toEqual(["OPS-POL-003@5"]);

    writeFileSync(join(dir, "opskit.yaml"), "policy: missing.yaml\nworkflows:\n  w:\n    steps: [{ ssh: uptime, timeout: 1m }]\n");
    const missing = await runAudit({ paths: [join(dir, "opskit.yaml")], root: dir, shellcheck: false });
    expect(missing.findings.filter((f) => f.rule.startsWith("OPS-POL")).map((f) => `${f.rule}@${f.line}:${f.severity}`)).toEqual(["OPS-POL-006@1:note"]);
  });
});

describe("templated commands against deny.commands", () => {
  const steps = [
    "echo {{ vars.version }}", // 5: data: one argument of echo
    'echo "release {{ vars.version }}; done" && printf %s \'{{ vars.note }}\'', // 7: data, in quotes
    "rm -rf {{ vars.dir }}", // 9: data, but rm -rf of a value that may be /
    '"{{ vars.cmd }}"', // 11: the value names the command
    "sudo -n {{ vars.cmd }} now", // 13: behind a wrapper, the command word
    'sh -c "{{ vars.cmd }}"', // 15: a script sh parses again
    "eval {{ vars.cmd }}", // 17: eval
    "psql -c {{ vars.sql }}", // 19: a query psql runs
    "kubectl exec -n shop api-0 -- {{ vars.cmd }} --force", // 21: a command run in the pod
    "systemctl restart {{ vars.unit }}", // 23: data
  ];

  test("a value that stays data is flagged only where it really can complete a denied command; one that can become code always is", async () => {
    writeFileSync(join(dir, "deny.yaml"), "deny:\n  commands: ['*rm -rf /*', 'reboot*', '*DROP TABLE*']\n");
    const yaml = `workflows:\n  w:\n    targets: local\n    steps:\n${steps.map((command) => `      - exec: ${JSON.stringify(command)}\n        timeout: 1m\n`).join("")}`;
    writeFileSync(join(dir, "templated.yaml"), yaml);
    const policy = await loadPolicy(join(dir, "deny.yaml"));
    const report = await runAudit({ paths: [join(dir, "templated.yaml")], root: dir, shellcheck: false, policy });
    expect(report.findings.filter((f) => f.rule === "OPS-POL-001").map((f) => f.line)).toEqual([9, 11, 13, 15, 17, 19, 21]);
  });
});
