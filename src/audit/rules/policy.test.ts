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
