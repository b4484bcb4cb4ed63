import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import sarifSchema from "@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" with { type: "json" };
import pkg from "../package.json" with { type: "json" };
import { knownRules, loadPolicy, renderSarif, ruleDocPath, runAudit } from "../src/audit/index.ts";
import { repoRoot } from "./harness/cli.ts";

/*
 * Every opskit rule has its page in docs/audit/, SARIF's helpUri points at it,
 * and each page's examples are true: its bad example is reported under the
 * rule, its fixed one is not.
 */

const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema as object);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-docs-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ids = [...knownRules()].sort();

/** The first fenced block after a heading. */
function blockAfter(page: string, heading: string): string | undefined {
  const at = page.indexOf(`\n${heading}\n`);
  if (at < 0) return undefined;
  return /```\w*\n([\s\S]*?)```/.exec(page.slice(at))?.[1];
}

describe("rule documentation", () => {
  test("every registered rule has its page with the sections users look for", () => {
    expect(ids.length).toBeGreaterThan(25);
    for (const id of ids) {
      const path = join(repoRoot, ruleDocPath(id));
      expect(existsSync(path), `${ruleDocPath(id)} is missing`).toBe(true);
      const page = readFileSync(path, "utf8");
      expect(page.startsWith(`# ${id}: `), id).toBe(true);
      for (const heading of ["## What it finds", "## Why it matters", "## Bad", "## Fixed", "## Suppress or exclude"]) expect(page, `${id}: ${heading}`).toContain(`\n${heading}\n`);
      expect(page).toContain(`--exclude ${id}`);
    }
  });

  test("SARIF names each rule's page as its helpUri, from package.json's homepage, and stays valid SARIF 2.1.0", async () => {
    const report = await runAudit({ paths: ["testdata/audit/scripts/deploy.sh"], root: repoRoot, shellcheck: false });
    const log = JSON.parse(renderSarif(report));
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    const rules = log.runs[0].tool.driver.rules as { id: string; helpUri: string }[];
    for (const id of ids) expect(rules.find((r) => r.id === id)?.helpUri).toBe(`${pkg.homepage}/blob/main/docs/audit/${id}.md`);
  });

  test.each(ids)("%s: the bad example is reported, the fixed one is not", async (id) => {
    const page = readFileSync(join(repoRoot, ruleDocPath(id)), "utf8");
    const policyText = /```yaml\n(# policy\.yaml\n[\s\S]*?)```/.exec(page)?.[1];
    const found = async (example: string | undefined, label: string) => {
      expect(example, `${id}: ${label} example`).toBeDefined();
      const where = join(dir, `${id}-${label}`);
      mkdirSync(where, { recursive: true });
      const name = example!.startsWith("#!") ? "deploy.sh" : /^# (\S+)\n/.exec(example!)![1]!;
      writeFileSync(join(where, name), example!);
      if (policyText) writeFileSync(join(where, "policy.yaml"), policyText);
      // A config naming its own policy: is checked against that one (OPS-POL-006's case); else the page's policy is given.
      const policy = policyText && !/^policy:/m.test(example!) ? await loadPolicy(join(where, "policy.yaml")) : undefined;
      const report = await runAudit({ paths: [join(where, name)], root: where, shellcheck: false, ...(policy ? { policy } : {}) });
      return report.findings.filter((f) => f.rule === id).map((f) => `${f.line}: ${f.message}`);
    };
    expect((await found(blockAfter(page, "## Bad"), "bad")).length, `${id}: the bad example is not reported`).toBeGreaterThan(0);
    expect(await found(blockAfter(page, "## Fixed"), "fixed")).toEqual([]);
  });
});
