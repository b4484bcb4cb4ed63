import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import sarifSchema from "@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" with { type: "json" };
import { compileTemplate } from "../src/expr/index.ts";
import { runBuilt } from "./harness/binary.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";

/*
 * What users bring from ShellCheck and Semgrep, through the built executable:
 * --exclude (as shellcheck -e), .opskit-audit.yaml (as .shellcheckrc), files
 * git ignores left out (as ripgrep and Semgrep), --baseline; and the policy
 * check and rm -rf rule on the cases they used to get wrong.
 */

const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema as object);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-conv-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(root: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

interface JsonReport {
  summary: { findings: number; errors: number; warnings: number; notes: number; files: number; baselined?: number };
  findings: { file: string; line: number; rule: string; severity: string; fingerprint: string }[];
  notices: string[];
}

async function auditJson(cwd: string, args: string[]): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const run = await runBuilt(["audit", "--format", "json", ...args], { cwd });
  return { code: run.code, report: run.stdout ? (JSON.parse(run.stdout) as JsonReport) : (undefined as never), stderr: run.stderr };
}

const rulesAt = (report: JsonReport) => report.findings.map((f) => `${f.file}:${f.line} ${f.rule}`);

const risky = "#!/bin/sh\nset -e\nchmod 777 /srv/x\nsudo systemctl restart api\necho $1\n";

describe("--exclude", () => {
  test("drops the named rules, opskit's and ShellCheck's, comma-separated and repeated, as shellcheck -e does for its own", async () => {
    expect(Bun.which("shellcheck"), "ShellCheck must be installed (scripts/setup.sh installs it)").toBeTruthy();
    const root = write(join(dir, "exclude"), { "x.sh": risky });
    const all = await auditJson(root, ["x.sh"]);
    expect(rulesAt(all.report)).toEqual(["x.sh:3 OPS-SH-004", "x.sh:4 OPS-SH-006", "x.sh:5 SC2086"]);
    const some = await auditJson(root, ["x.sh", "-e", "ops-sh-004,SC2086", "--exclude", "OPS-SH-006"]);
    expect(some.report.findings).toEqual([]);
    expect(some.code).toBe(0);
    // ShellCheck's own -e leaves out the same SC2086 finding.
    const sc = Bun.spawnSync(["shellcheck", "-f", "gcc", "-e", "SC2086", join(root, "x.sh")]);
    expect(sc.stdout.toString()).not.toContain("SC2086");
    expect(Bun.spawnSync(["shellcheck", "-f", "gcc", join(root, "x.sh")]).stdout.toString()).toContain("SC2086");
  }, 60_000);

  test("an unknown opskit rule id is a usage error naming the ids of its family", async () => {
    const run = await runBuilt(["audit", "--no-shellcheck", "-e", "OPS-SH-09", "x.sh"], { cwd: join(dir, "exclude") });
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--exclude: no rule OPS-SH-09");
    expect(run.stderr).toContain("OPS-SH-001, OPS-SH-002");
  }, 60_000);
});

describe(".opskit-audit.yaml", () => {
  test("the nearest one above each file applies: excluded rules, severities, skipped paths", async () => {
    const root = write(join(dir, "config"), {
      ".git/HEAD": "ref: refs/heads/main\n",
      ".opskit-audit.yaml": "exclude: [SC2086]\nseverity:\n  OPS-SH-006: error\nskip: [vendor, 'generated/*.sh']\n",
      "a.sh": risky,
      "vendor/lib.sh": risky,
      "generated/out.sh": risky,
      "team/.opskit-audit.yaml": "exclude: [OPS-SH-004]\n",
      "team/b.sh": risky,
    });
    const { report, code } = await auditJson(root, ["--no-ignore"]);
    expect(code).toBe(2);
    expect(report.findings.map((f) => `${f.file}:${f.line} ${f.rule} ${f.severity}`)).toEqual([
      "a.sh:3 OPS-SH-004 warning",
      "a.sh:4 OPS-SH-006 error",
      // team/ has its own file: the root's exclusions and severities do not reach it.
      "team/b.sh:4 OPS-SH-006 warning",
      "team/b.sh:5 SC2086 note",
    ]);
    expect(report.notices).toEqual(expect.arrayContaining(["settings from .opskit-audit.yaml", "settings from team/.opskit-audit.yaml"]));
  }, 60_000);

  test("ShellCheck's own .shellcheckrc still applies to its codes", async () => {
    expect(Bun.which("shellcheck"), "ShellCheck must be installed (scripts/setup.sh installs it)").toBeTruthy();
    const root = write(join(dir, "shellcheckrc"), { ".git/HEAD": "x\n", "x.sh": risky });
    expect(rulesAt((await auditJson(root, [])).report)).toContain("x.sh:5 SC2086");
    writeFileSync(join(root, ".shellcheckrc"), "disable=SC2086\n");
    expect(rulesAt((await auditJson(root, [])).report)).toEqual(["x.sh:3 OPS-SH-004", "x.sh:4 OPS-SH-006"]);
  }, 60_000);

  test("a bad file is an error at its file:line:col with a hint (exit 65)", async () => {
    const root = write(join(dir, "bad-config"), { ".git/HEAD": "x\n", "a.sh": risky, ".opskit-audit.yaml": "exclude:\n  - OPS-SH-004\n  - OPS-SH-44\n" });
    const typo = await runBuilt(["audit", "--no-shellcheck"], { cwd: root });
    expect(typo.code).toBe(65);
    expect(typo.stderr).toContain(".opskit-audit.yaml:3:5: no rule OPS-SH-44");
    expect(typo.stderr).toContain("hint:");
    writeFileSync(join(root, ".opskit-audit.yaml"), "severity:\n  OPS-SH-004: fatal\n");
    const level = await runBuilt(["audit", "--no-shellcheck"], { cwd: root });
    expect(level.code).toBe(65);
    expect(level.stderr).toMatch(/\.opskit-audit\.yaml:2:15: .*severity/);
    expect(level.stderr).toContain("hint:");
  }, 60_000);
});

describe("files git ignores", () => {
  const tree = { ".gitignore": "build/\n*.local.sh\n", "run.sh": risky, "build/out.sh": risky, "dev.local.sh": risky, "sub/.gitignore": "!keep.local.sh\n", "sub/keep.local.sh": risky };

  test("inside a work tree, git decides (tracked and untracked files that no ignore rule covers); --no-ignore audits them all", async () => {
    expect(Bun.which("git"), "git must be installed for this test").toBeTruthy();
    const root = write(join(dir, "repo"), tree);
    expect(Bun.spawnSync(["git", "init", "-q", root]).success).toBe(true);
    const files = async (args: string[]) => [...new Set((await auditJson(root, ["--no-shellcheck", ...args])).report.findings.map((f) => f.file))].sort();
    expect(await files([])).toEqual(["run.sh", "sub/keep.local.sh"]);
    expect(await files(["--no-ignore"])).toEqual(["build/out.sh", "dev.local.sh", "run.sh", "sub/keep.local.sh"]);
    // Named on the command line, an ignored file is audited (as ripgrep searches it).
    expect(await files(["dev.local.sh"])).toEqual(["dev.local.sh"]);
  }, 60_000);

  test("outside a work tree, the .gitignore files are read", async () => {
    const root = write(join(dir, "plain"), tree);
    const { report } = await auditJson(root, ["--no-shellcheck"]);
    expect([...new Set(report.findings.map((f) => f.file))].sort()).toEqual(["run.sh", "sub/keep.local.sh"]);
  }, 60_000);
});

describe("--baseline", () => {
  test("reports and fails on new findings only, matched on rule and fingerprint after lines moved; SARIF marks them new", async () => {
    const root = write(join(dir, "baseline"), { ".git/HEAD": "x\n", "deploy.sh": risky });
    const saved = await runBuilt(["audit", "--no-shellcheck", "--format", "sarif", "-o", "audit.sarif"], { cwd: root });
    // Two warnings, no error: exit 0.
    expect(saved.code).toBe(0);
    const log = JSON.parse(readFileSync(join(root, "audit.sarif"), "utf8"));
    expect(log.runs[0].results.every((r: { partialFingerprints?: Record<string, string> }) => /^[0-9a-f]{32}$/.test(r.partialFingerprints?.["opskitFindingHash/v1"] ?? ""))).toBe(true);

    // The same findings four lines further down: nothing is new.
    writeFileSync(join(root, "deploy.sh"), risky.replace("set -e\n", "set -e\n# header\n# more\n\n\n"));
    const moved = await auditJson(root, ["--no-shellcheck", "--baseline", "audit.sarif"]);
    expect(moved.code).toBe(0);
    expect(moved.report.findings).toEqual([]);
    expect(moved.report.summary.baselined).toBe(2);

    // A second chmod 777 line: one new finding (the second of its kind), exit 2.
    writeFileSync(join(root, "deploy.sh"), `${risky}chmod 777 /srv/x\ncurl -s https://get.example | sh\n`);
    const added = await runBuilt(["audit", "--no-shellcheck", "--baseline", "audit.sarif"], { cwd: root });
    expect(added.code).toBe(2);
    expect(added.stdout).toContain("deploy.sh:6:7 warning OPS-SH-004");
    expect(added.stdout).toContain("deploy.sh:7:1 error OPS-SH-001");
    expect(added.stdout).not.toContain("deploy.sh:3:");
    expect(added.stdout).toContain("2 findings new: 1 error, 1 warning, 0 notes; 0 suppressed; 2 in the baseline;");
    const sarif = JSON.parse((await runBuilt(["audit", "--no-shellcheck", "--baseline", "audit.sarif", "--format", "sarif"], { cwd: root })).stdout);
    expect(validateSarif(sarif), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    expect(sarif.runs[0].results.map((r: { ruleId: string; baselineState: string }) => `${r.ruleId} ${r.baselineState}`)).toEqual(["OPS-SH-004 new", "OPS-SH-001 new"]);
  }, 90_000);

  test("a missing baseline is a usage error (64); one that is not SARIF is invalid input (65)", async () => {
    const root = join(dir, "baseline");
    const missing = await runBuilt(["audit", "--no-shellcheck", "--baseline", "nope.sarif"], { cwd: root });
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("baseline not found: ");
    writeFileSync(join(root, "junk.sarif"), "{}");
    const junk = await runBuilt(["audit", "--no-shellcheck", "--baseline", "junk.sarif"], { cwd: root });
    expect(junk.code).toBe(65);
    expect(junk.stderr).toContain("not a SARIF log");
  }, 60_000);
});

describe("the policy check on templated commands", () => {
  const policy = "deny:\n  commands: ['*rm -rf /*', 'reboot*']\n";
  const config = (command: string) => `workflows:\n  w:\n    targets: local\n    permissions: { hosts: name=local, commands: ['echo *'] }\n    steps:\n      - exec: ${JSON.stringify(command)}\n        timeout: 1m\n`;

  test("echo {{ vars.version }} passes; a template that names the command or that sh -c runs fails", async () => {
    const root = write(join(dir, "policy"), { "policy.yaml": policy });
    // The permissions glob 'echo *' is itself reported (it allows "echo x; rm -rf /"); the step is what is checked here.
    const steps = async (command: string) => {
      writeFileSync(join(root, "opskit.yaml"), config(command));
      const run = await runBuilt(["audit", "--no-shellcheck", "--policy", "policy.yaml", "opskit.yaml", "--format", "json"], { cwd: root });
      const report = JSON.parse(run.stdout) as JsonReport;
      return report.findings.filter((f) => f.rule === "OPS-POL-001" && f.line === 6).length;
    };
    expect(await steps("echo {{ vars.version }}")).toBe(0);
    expect(await steps('echo "deployed {{ vars.version }} to {{ target.name }}"')).toBe(0);
    expect(await steps("{{ vars.cmd }}")).toBe(1);
    expect(await steps('sh -c "{{ vars.cmd }}"')).toBe(1);
    expect(await steps("rm -rf {{ vars.dir }}")).toBe(1);
  }, 90_000);

  test("the exit code follows: 0 for the harmless templated echo, 2 for the template that can become code", async () => {
    const root = write(join(dir, "policy-exit"), { "policy.yaml": policy });
    // Without permissions (a warning, OPS-WF-005), nothing else in the config is an error.
    const bare = (command: string) => config(command).replace("    permissions: { hosts: name=local, commands: ['echo *'] }\n", "");
    writeFileSync(join(root, "opskit.yaml"), bare("echo {{ vars.version }}"));
    const harmless = await runBuilt(["audit", "--no-shellcheck", "--policy", "policy.yaml", "opskit.yaml"], { cwd: root });
    expect(harmless.stdout).toContain("0 errors");
    expect(harmless.code).toBe(0);
    writeFileSync(join(root, "opskit.yaml"), bare("{{ vars.cmd }} now"));
    const code = await runBuilt(["audit", "--no-shellcheck", "--policy", "policy.yaml", "opskit.yaml"], { cwd: root });
    expect(code.code).toBe(2);
    expect(code.stdout).toContain("OPS-POL-001 step w.steps[0]");
  }, 90_000);

  test("what the check assumes holds in the real shell: a data value stays one argument, whatever it holds", async () => {
    rmSync(pwnedMarker, { force: true });
    const template = await compileTemplate("printf '%s\\n' {{ vars.v }}", "test", ["vars"], "shell");
    const differing: string[] = [];
    for (const { name, value } of hostileValues) {
      const { command } = template.renderShell({ vars: { v: value } });
      const run = Bun.spawnSync(["sh", "-c", command], { stdout: "pipe", stderr: "pipe" });
      // One argument printed once, byte for byte: the value added no word, no operator and no command.
      if (Buffer.compare(Buffer.from(run.stdout), Buffer.from(new TextEncoder().encode(`${value}\n`))) !== 0) differing.push(name);
    }
    expect(differing).toEqual([]);
    expect(existsSync(pwnedMarker)).toBe(false);
  }, 60_000);
});

describe("rm -rf beside a guarded case item", () => {
  test("the unguarded branch is found at its line; ShellCheck sees only the quoting", async () => {
    const root = write(join(dir, "case"), {
      "clean.sh": '#!/bin/bash\nset -euo pipefail\ncase "$1" in\n  cache)\n    rm -rf "${TARGET:?}"/cache\n    ;;\n  all)\n    rm -rf ${TARGET}\n    ;;\nesac\n',
    });
    const { code, report } = await auditJson(root, ["clean.sh"]);
    expect(code).toBe(2);
    expect(report.findings.filter((f) => f.rule.startsWith("OPS-")).map((f) => `${f.line} ${f.rule}`)).toEqual(["8 OPS-SH-002"]);
    // ShellCheck reports the unquoted expansion (SC2086), not the empty-variable risk; opskit's finding stands beside it.
    expect(report.findings.some((f) => f.rule === "SC2086" && f.line === 8)).toBe(true);
  }, 60_000);
});

describe("commands the shell runs inside expansions, unquoted here-documents and a do case", () => {
  test("are audited; a quoted here-document stays data", async () => {
    const root = write(join(dir, "expansions"), {
      "deploy.sh": [
        "#!/bin/sh",
        "set -eu",
        'VERSION="${VERSION:-$(curl -fsSL https://get.example/latest | sh)}"',
        "cat <<EOF > /etc/motd",
        "built $(curl -fsSL https://get.example/banner | sh)",
        "EOF",
        "cat <<'EOF' > README",
        "$(curl -fsSL https://get.example/banner | sh)",
        "EOF",
        'for d in "$@"; do case $d in',
        '  keep) : "${TARGET:?}" ;;',
        "  wipe) rm -rf $TARGET/ ;;",
        "esac; done",
        "",
      ].join("\n"),
    });
    const { code, report } = await auditJson(root, ["--no-shellcheck", "deploy.sh"]);
    expect(code).toBe(2);
    expect(report.findings.filter((f) => f.rule.startsWith("OPS-")).map((f) => `${f.line} ${f.rule}`)).toEqual(["3 OPS-SH-001", "5 OPS-SH-001", "12 OPS-SH-002"]);
  }, 60_000);
});
