import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileExcludes, compilePathPattern, expandPathPattern } from "./path-globs.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-path-globs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// A small tree: names with dots, dashes, spaces and a leading dot.
const tree = ["a/app.log", "a/app.log.1", "a/app.log.2.gz", "a/.hidden.log", "a/b c.log", "b/app.log", "b/err.log", "b/x/app.log", "c-1/svc-1.log", "c-1/svc-22.log", "top.log"];
for (const path of tree) {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), "");
}

/** bash's own expansion of the pattern (dotglob: a * matches a leading dot, as here), as the oracle; a word without wildcards comes back as written, so only what exists counts. */
function bashGlob(pattern: string): string[] {
  const result = Bun.spawnSync(["bash", "-c", 'shopt -s nullglob dotglob; IFS=; for f in $1; do printf "%s\\n" "$f"; done', "bash", pattern]);
  return result.stdout.toString().split("\n").filter((path) => path && existsSync(path)).sort();
}

describe("path patterns", () => {
  test("the base directory is the deepest one named without a wildcard", () => {
    expect(compilePathPattern("/var/log/app/*.log").base).toBe("/var/log/app");
    expect(compilePathPattern("/var/log/syslog").base).toBe("/var/log");
    expect(compilePathPattern("/var/*/app/x.log").base).toBe("/var");
    expect(compilePathPattern("/*.log").base).toBe("/");
  });

  test("expansion matches bash's for * and ? in any component (property, bash as the oracle)", async () => {
    const component = fc.array(fc.constantFrom("a", "b", "c", "-", "1", "2", ".", "log", "app", "svc", "*", "?", " "), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(""));
    const patterns = fc.array(component, { minLength: 1, maxLength: 3 }).filter((parts) => parts.every((part) => part !== "." && part !== ".." && !/^\.\.?$/.test(part)));
    await fc.assert(
      fc.asyncProperty(patterns, async (parts) => {
        const pattern = join(root, ...parts);
        const ours = (await expandPathPattern(compilePathPattern(pattern))).filter((path) => existsSync(path)).sort();
        expect(ours).toEqual(bashGlob(pattern));
      }),
      { numRuns: 150 },
    );
  });

  test("excludes: a pattern without / is held to the name, with / to the whole path; compressed files are always out", () => {
    const excluded = compileExcludes(["*.1", "/var/log/private/*"]);
    expect(excluded("/var/log/app.log.1")).toBe(true);
    expect(excluded("/var/log/app.log")).toBe(false);
    expect(excluded("/var/log/private/x.log")).toBe(true);
    expect(excluded("/var/log/app.log.2.gz")).toBe(true);
    expect(excluded("/var/log/app.log.zst")).toBe(true);
  });
});
