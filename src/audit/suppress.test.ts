import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runAudit, type AuditReport } from "./index.ts";

const repoRoot = new URL("../..", import.meta.url).pathname;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-suppress-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const brief = (report: AuditReport) => ({
  findings: report.findings.map((f) => `${f.rule}@${f.line}`),
  suppressed: report.suppressed.map((f) => `${f.rule}@${f.line}: ${f.suppressed!.reason}`),
});

async function audit(name: string, text: string): Promise<AuditReport> {
  writeFileSync(join(dir, name), text);
  return runAudit({ paths: [join(dir, name)], root: dir, shellcheck: false });
}

describe("# opskit-audit: ignore RULE reason", () => {
  test("in testdata/audit/scripts/suppressed.sh: reasons are kept, the reasonless one is a finding and suppresses nothing", async () => {
    const report = await runAudit({ paths: ["testdata/audit/scripts/suppressed.sh"], root: repoRoot, shellcheck: false });
    expect(brief(report)).toEqual({
      findings: ["OPS-AUD-001@6", "OPS-SH-004@7"],
      suppressed: [
        "OPS-SH-001@4: the installer is pinned by checksum upstream and this runs in a throwaway VM",
        "OPS-SH-004@9: a drop box for the batch users, emptied hourly",
        "OPS-SH-006@12: run by hand from an admin shell",
        "OPS-SH-007@12: run by hand from an admin shell",
      ],
    });
    expect(report.summary).toMatchObject({ findings: 2, warnings: 2, suppressed: 4 });
    expect(report.suppressed[0]!.suppressed!.line).toBe(3);
  });

  test("stacked comments and blank lines between comment and code; only the named rule is suppressed", async () => {
    const report = await audit(
      "stacked.sh",
      "#!/bin/sh\nset -e\n# opskit-audit: ignore OPS-SH-004 shared scratch space\n# opskit-audit: ignore ops-sh-006 interactive use only\n\nsudo chmod 777 /srv/scratch\nchmod 777 /srv/other\n",
    );
    expect(brief(report)).toEqual({ findings: ["OPS-SH-004@7"], suppressed: ["OPS-SH-006@6: interactive use only", "OPS-SH-004@6: shared scratch space"] });
  });

  test("a suppression that names no rule is a finding", async () => {
    const report = await audit("norule.sh", "#!/bin/sh\nset -e\n# opskit-audit: ignore\nchmod 777 /srv/x\n");
    expect(brief(report).findings).toEqual(["OPS-AUD-001@3", "OPS-SH-004@4"]);
  });

  test("works the same in Python and in opskit workflows", async () => {
    const py = await audit("t.py", "import requests\n# opskit-audit: ignore OPS-PY-002 lab appliance with a self-signed certificate\nrequests.get(url, verify=False)\n");
    expect(brief(py)).toEqual({ findings: [], suppressed: ["OPS-PY-002@3: lab appliance with a self-signed certificate"] });
    const yaml = await audit("opskit.yaml", "workflows:\n  # opskit-audit: ignore OPS-WF-005 read-only checks, reviewed\n  check:\n    steps: [{ ssh: uptime, timeout: 5s }]\n");
    expect(brief(yaml)).toEqual({ findings: [], suppressed: ["OPS-WF-005@3: read-only checks, reviewed"] });
  });
});
