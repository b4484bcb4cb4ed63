import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import sarifSchema from "@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" with { type: "json" };
import { classify, renderSarif, runAudit, type AuditReport } from "../src/audit/index.ts";
import { repoRoot } from "./harness/cli.ts";

/*
 * opskit audit over scripts nobody here wrote: the maintainer scripts Debian
 * installed on this machine and the shell scripts in /usr/bin and /usr/sbin.
 * They are copied to a temporary directory first (nothing is written where
 * they live), audited with ShellCheck, and the report must be sane.
 */

const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema as object);

const maintainerScripts = /\.(postinst|prerm|postrm)$/;

function corpusFiles(): { from: string; to: string }[] {
  const files: { from: string; to: string }[] = [];
  const list = (dir: string) => {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  };
  for (const name of list("/var/lib/dpkg/info")) if (maintainerScripts.test(name)) files.push({ from: join("/var/lib/dpkg/info", name), to: join("dpkg-info", name) });
  // A script linked under several names (bzcmp, bzdiff) counts once.
  const seen = new Set<string>();
  for (const dir of ["/usr/bin", "/usr/sbin"]) {
    for (const name of list(dir)) {
      const from = join(dir, name);
      try {
        const real = realpathSync(from);
        if (!statSync(real).isFile() || seen.has(real)) continue;
        seen.add(real);
      } catch {
        continue;
      }
      if (classify(from)?.language === "shell") files.push({ from, to: join(dir.slice(1).replace("/", "-"), name) });
    }
  }
  return files;
}

let dir: string;
let corpus: { from: string; to: string }[];
let report: AuditReport;
let wallMs: number;

beforeAll(async () => {
  corpus = corpusFiles();
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-corpus-"));
  for (const { from, to } of corpus) {
    mkdirSync(join(dir, to, ".."), { recursive: true });
    copyFileSync(from, join(dir, to));
  }
  const started = performance.now();
  report = await runAudit({ paths: [dir], root: dir });
  wallMs = performance.now() - started;
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the Debian corpus", () => {
  test("exists: maintainer scripts and shell scripts in /usr/bin and /usr/sbin", () => {
    const maintainers = corpus.filter((f) => f.to.startsWith("dpkg-info/")).length;
    const shell = corpus.length - maintainers;
    expect(maintainers, "no /var/lib/dpkg/info/*.postinst|prerm|postrm on this machine: the corpus test needs a Debian system with packages installed").toBeGreaterThan(50);
    expect(shell, "no shell scripts (by #! line) in /usr/bin and /usr/sbin: the corpus test needs a Debian system").toBeGreaterThan(20);
  });

  test("is audited without a crash, with ShellCheck, every file read", () => {
    expect(Bun.which("shellcheck"), "ShellCheck must be installed (scripts/setup.sh installs it)").toBeTruthy();
    expect(report.summary.shellcheck).toBe("ran");
    // Maintainer scripts that are not shell or Python (a few are Perl) are not read.
    expect(report.summary.files).toBeGreaterThan(corpus.length * 0.9);
    expect(report.summary.files).toBeLessThanOrEqual(corpus.length);
    expect(report.summary.lines).toBeGreaterThan(10_000);
    console.log(`corpus: ${report.summary.files} files, ${report.summary.lines} lines, ${report.findings.length} findings in ${(wallMs / 1000).toFixed(1)} s`);
  });

  test("gives a valid SARIF 2.1.0 log", () => {
    const log = JSON.parse(renderSarif(report));
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    expect(log.runs[0].results.length).toBe(report.findings.length + report.suppressed.length);
  });

  test("gives a sane number of findings, each inside its file", () => {
    const ours = report.findings.filter((f) => f.rule.startsWith("OPS-"));
    const perThousandLines = (ours.length / report.summary.lines) * 1000;
    // Debian's scripts are reviewed: opskit's rules find a few risks per thousand lines, not dozens.
    expect(perThousandLines).toBeGreaterThan(0);
    expect(perThousandLines).toBeLessThan(10);
    // Nobody ships an AWS key or a private key in a maintainer script.
    expect(ours.filter((f) => f.rule === "OPS-SEC-001" || f.rule === "OPS-SEC-002")).toEqual([]);
    // ShellCheck finds more than opskit: it checks general shell correctness.
    expect(report.findings.filter((f) => f.rule.startsWith("SC")).length).toBeGreaterThan(ours.length);
    expect(report.findings.filter((f) => !(f.line >= 1 && f.column >= 1))).toEqual([]);
    const counts = new Map<string, number>();
    for (const f of ours) counts.set(f.rule, (counts.get(f.rule) ?? 0) + 1);
    console.log(`corpus findings by opskit rule: ${[...counts].sort().map(([rule, n]) => `${rule} ${n}`).join(", ")}`);
  });
});

describe("the fixtures", () => {
  test("every planted finding in testdata/audit is found, at its line, and nothing else of opskit's", async () => {
    const fixtures = await runAudit({ paths: ["testdata/audit"], root: repoRoot, shellcheck: false });
    const found = fixtures.findings.map((f) => `${f.file.replace("testdata/audit/", "")}:${f.line} ${f.rule}`);
    expect(found).toEqual([
      "opskit.yaml:4 OPS-WF-003",
      "opskit.yaml:9 OPS-WF-004",
      "opskit.yaml:18 OPS-WF-005",
      "opskit.yaml:22 OPS-WF-001",
      "opskit.yaml:23 OPS-WF-002",
      "opskit.yaml:25 OPS-WF-002",
      "opskit.yaml:40 OPS-WF-002",
      "opskit.yaml:42 OPS-WF-003",
      "opskit.yaml:48 OPS-WF-003",
      "scripts/backup:6 OPS-SH-008",
      "scripts/deploy.sh:6 OPS-SEC-001",
      "scripts/deploy.sh:7 OPS-SEC-003",
      "scripts/deploy.sh:8 OPS-SEC-004",
      "scripts/deploy.sh:10 OPS-SH-001",
      "scripts/deploy.sh:10 OPS-SH-006",
      "scripts/deploy.sh:10 OPS-SH-005",
      "scripts/deploy.sh:11 OPS-SH-002",
      "scripts/deploy.sh:12 OPS-SH-002",
      "scripts/deploy.sh:13 OPS-SH-004",
      "scripts/deploy.sh:14 OPS-SH-007",
      "scripts/deploy.sh:17 OPS-SH-008",
      "scripts/deploy.sh:17 OPS-SH-003",
      "scripts/deploy.sh:18 OPS-SH-008",
      "scripts/rotate_logs.py:12 OPS-SEC-003",
      "scripts/rotate_logs.py:13 OPS-SEC-003",
      "scripts/rotate_logs.py:17 OPS-PY-001",
      "scripts/rotate_logs.py:18 OPS-PY-001",
      "scripts/rotate_logs.py:19 OPS-PY-002",
      "scripts/rotate_logs.py:21 OPS-PY-003",
      "scripts/suppressed.sh:6 OPS-AUD-001",
      "scripts/suppressed.sh:7 OPS-SH-004",
    ]);
  });
});
