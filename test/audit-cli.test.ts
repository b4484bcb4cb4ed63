import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
// The SARIF 2.1.0 JSON schema (draft-04) as Microsoft's SARIF SDK ships it: 2.1.0-rtm.5.
import sarifSchema from "@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" with { type: "json" };
import { renderText, runAudit } from "../src/audit/index.ts";
import { auditSpec } from "../src/cli/audit-spec.ts";
import { auditCommand } from "../src/cli/audit.ts";
import { resolveOptions, type RawOptions } from "../src/cli/options.ts";
import { isOpsError } from "../src/errors.ts";
import { paletteFor } from "../src/ui/index.ts";
import { repoRoot, runOpskit } from "./harness/cli.ts";

// The schema's own language-tag pattern ("...]?$") is not valid with the u flag.
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema as object);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `opskit audit` in-process from the repository root, its options read as the command line's are, capturing what it prints. */
async function audit(args: string[], options: RawOptions = {}): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await auditCommand(args, resolveOptions(auditSpec.options, { noShellcheck: true, ...options }), { cwd: repoRoot, write: (text) => (out += text) });
  return { code, out };
}

async function usage(args: string[], options: RawOptions): Promise<{ exitCode: number; message: string }> {
  try {
    await audit(args, options);
  } catch (error) {
    if (isOpsError(error)) return { exitCode: error.exitCode, message: error.message };
    throw error;
  }
  throw new Error("expected a usage error");
}

describe("opskit audit output", () => {
  test("text groups findings by file as file:line:col severity RULE message, with the fix, and ends with the summary", async () => {
    const { code, out } = await audit(["testdata/audit/scripts"]);
    expect(code).toBe(2);
    expect(out).toContain("testdata/audit/scripts/deploy.sh (13 findings)\n");
    expect(out).toContain("testdata/audit/scripts/deploy.sh:10:1 error OPS-SH-001 curl output piped into bash: runs whatever the server returns\n");
    expect(out).toMatch(/deploy\.sh:12:9 error OPS-SH-002 .*\n {4}\| rm -rf "\$STAGING"\/\*\n {4}fix: Quote it and fail on empty/);
    expect(out).toContain("    | DB_PASSWORD=********\n");
    expect(out).not.toContain("s3cr3t");
    const lines = out.trimEnd().split("\n");
    expect(lines.at(-1)).toBe("22 findings: 13 errors, 9 warnings, 0 notes; 4 suppressed; 4 files, 75 lines");
  });

  test("json is one object: summary, findings with stable fields, suppressed findings with their reasons", async () => {
    const { out } = await audit(["testdata/audit/scripts/suppressed.sh"], { format: "json" });
    const report = JSON.parse(out);
    expect(report.summary).toMatchObject({ findings: 2, errors: 0, warnings: 2, notes: 0, suppressed: 4, files: 1, lines: 12, shellcheck: "disabled" });
    expect(Object.keys(report.findings[0]).sort()).toEqual(["column", "file", "fingerprint", "fix", "line", "message", "rule", "severity", "source"]);
    expect(report.suppressed[0]).toMatchObject({ rule: "OPS-SH-001", line: 4, reason: "the installer is pinned by checksum upstream and this runs in a throwaway VM", suppressedAt: 3 });
  });

  test("sarif is valid SARIF 2.1.0 with rules, relative locations and in-source suppressions", async () => {
    const { out } = await audit(["testdata/audit"], { format: "sarif", failOn: "never" });
    const log = JSON.parse(out);
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    expect(log.version).toBe("2.1.0");
    const run = log.runs[0];
    expect(run.tool.driver.name).toBe("opskit");
    const rule = run.tool.driver.rules.find((r: { id: string }) => r.id === "OPS-SH-001");
    expect(rule).toMatchObject({ shortDescription: { text: "download piped to a shell" }, defaultConfiguration: { level: "error" } });
    expect(rule.fullDescription.text).toContain("unreviewed");
    expect(rule.help.text).toContain("Fix: Download to a file");
    const pipe = run.results.find((r: { ruleId: string; suppressions: unknown[] }) => r.ruleId === "OPS-SH-001" && r.suppressions.length === 0);
    expect(pipe).toMatchObject({
      level: "error",
      locations: [{ physicalLocation: { artifactLocation: { uri: "testdata/audit/scripts/deploy.sh", uriBaseId: "SRCROOT" }, region: { startLine: 10, startColumn: 1 } } }],
    });
    expect(run.tool.driver.rules[pipe.ruleIndex].id).toBe("OPS-SH-001");
    expect(run.originalUriBaseIds.SRCROOT.uri).toBe(`file://${repoRoot}`);
    const suppressed = run.results.filter((r: { suppressions: unknown[] }) => r.suppressions.length > 0);
    expect(suppressed).toHaveLength(4);
    expect(suppressed[0].suppressions).toEqual([{ kind: "inSource", justification: "the installer is pinned by checksum upstream and this runs in a throwaway VM" }]);
  });

  test("-o writes the report to a file and prints nothing", async () => {
    const file = join(dir, "audit.sarif");
    const { out } = await audit(["testdata/audit/opskit.yaml"], { format: "sarif", output: file });
    expect(out).toBe("");
    expect(validateSarif(JSON.parse(readFileSync(file, "utf8")))).toBe(true);
  });
});

describe("opskit audit exit codes", () => {
  test("--fail-on: 2 when a finding at or above the severity remains, else 0", async () => {
    expect((await audit(["testdata/audit/scripts/deploy.sh"])).code).toBe(2);
    expect((await audit(["testdata/audit/scripts/deploy.sh"], { failOn: "never" })).code).toBe(0);
    // suppressed.sh keeps two warnings and no error.
    expect((await audit(["testdata/audit/scripts/suppressed.sh"])).code).toBe(0);
    expect((await audit(["testdata/audit/scripts/suppressed.sh"], { failOn: "warning" })).code).toBe(2);
  });

  test("a clean tree exits 0 with a summary of what was read", async () => {
    writeFileSync(join(dir, "ok.sh"), "#!/bin/sh\nset -eu\necho hello\n");
    let out = "";
    expect(await auditCommand([dir], resolveOptions(auditSpec.options, { noShellcheck: true }), { write: (t) => (out += t) })).toBe(0);
    expect(out).toBe("0 findings: 0 errors, 0 warnings, 0 notes; 0 suppressed; 1 file, 3 lines\n");
  });

  test("a bad format, a bad threshold, an unknown path and a missing policy are usage errors (64)", async () => {
    expect(await usage([], { format: "xml" })).toMatchObject({ exitCode: 64, message: expect.stringContaining('--format "xml"') });
    expect(await usage([], { failOn: "info" })).toMatchObject({ exitCode: 64, message: expect.stringContaining('--fail-on "info"') });
    expect(await usage(["no/such/dir"], {})).toMatchObject({ exitCode: 64, message: "no such file or directory: no/such/dir" });
    expect(await usage(["testdata/audit"], { policy: "no-policy.yaml" })).toMatchObject({ exitCode: 64, message: expect.stringContaining("no-policy.yaml") });
  });
});

describe("ShellCheck", () => {
  test("when it is not installed, text output says so once and the audit still runs", async () => {
    const report = await runAudit({ paths: ["testdata/audit/scripts/deploy.sh"], root: repoRoot, shellcheckBin: join(dir, "no-shellcheck") });
    expect(report.summary.shellcheck).toBe("not installed");
    const text = renderText(report, paletteFor({}, {}));
    expect(text.match(/ShellCheck is not installed/g)).toHaveLength(1);
    expect(report.summary.errors).toBeGreaterThan(0);
  });

  test("its findings merge with their own ids and wiki links; where opskit's rule says the same, opskit's stands", async () => {
    expect(Bun.which("shellcheck"), "ShellCheck must be installed for this test (scripts/setup.sh installs it)").toBeTruthy();
    writeFileSync(join(dir, "sc.sh"), "#!/bin/sh\nset -e\n# opskit-audit: ignore SC2086 the id is always numeric\necho $id\necho $name\n");
    const report = await runAudit({ paths: ["testdata/audit/scripts/deploy.sh", join(dir, "sc.sh")], root: repoRoot });
    expect(report.summary.shellcheck).toBe("ran");
    const sc = report.findings.filter((f) => f.rule.startsWith("SC"));
    expect(sc.find((f) => f.rule === "SC2086" && f.line === 11)).toMatchObject({ file: "testdata/audit/scripts/deploy.sh", column: 8, severity: "note", fix: "see https://www.shellcheck.net/wiki/SC2086", source: "rm -rf $STAGING/" });
    // SC2115 (use ${var:?}) is what OPS-SH-002 reports on lines 11 and 12.
    expect(sc.filter((f) => f.rule === "SC2115")).toEqual([]);
    expect(report.findings.filter((f) => f.rule === "OPS-SH-002").map((f) => f.line)).toEqual([11, 12]);
    expect(report.suppressed.map((f) => `${f.rule}@${f.line}`)).toEqual(["SC2086@4"]);
    expect(report.findings.some((f) => f.rule === "SC2086" && f.line === 5 && f.file.endsWith("sc.sh"))).toBe(true);
    expect(report.rules.find((r) => r.id === "SC2086")?.helpUri).toBe("https://www.shellcheck.net/wiki/SC2086");
    // ShellCheck's SC2034 on the secrets' lines shows them masked like opskit's own findings.
    expect(report.findings.find((f) => f.rule === "SC2034" && f.line === 7)?.source).toBe("DB_PASSWORD=********");
    const everything = JSON.stringify(report);
    for (const secret of ["AKIAOPSKITFAKEKEY001", "s3cr3t-Passw0rd", "q8Zt3LwX9vPa7RkN2mYc4HbJ"]) expect(everything).not.toContain(secret);
  });
});

describe("files that are not regular files", () => {
  test("a FIFO, /dev/zero and a .sh link to /dev/zero given by name are skipped at once with a notice", async () => {
    const fifo = join(dir, "pipe.sh");
    expect(Bun.spawnSync(["mkfifo", fifo]).success).toBe(true);
    const link = join(dir, "zero.sh");
    symlinkSync("/dev/zero", link);
    const started = Date.now();
    // A child process: a blocked open() of the FIFO would stall the test runner itself.
    const run = await runOpskit(["audit", "--no-shellcheck", "--format", "json", fifo, "/dev/zero", link], { timeoutMs: 15_000 });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.notices).toEqual([`skipped ${fifo}: a FIFO, not a regular file`, "skipped /dev/zero: a character device, not a regular file", `skipped ${link}: a character device, not a regular file`]);
    expect(report.summary.files).toBe(0);
  }, 30_000);

  test("a script over the size limit is skipped with a notice, and the bytes read stop at the limit", async () => {
    const big = join(dir, "big.sh");
    writeFileSync(big, `#!/bin/sh\necho hi\n${"#".repeat(4 * 1024 * 1024)}\n`);
    const { out } = await audit([big], { format: "json" });
    const report = JSON.parse(out);
    expect(report.notices).toContain(`skipped ${big}: larger than 4 MiB`);
    expect(report.summary.files).toBe(0);
  });
});
