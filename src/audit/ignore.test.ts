import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ignoreRulesFor, parseGitignoreLine, workTreeOf } from "./ignore.ts";

/*
 * The .gitignore reader used outside git work trees, checked against git
 * itself: the same tree, once as a repository (git ls-files --others
 * --exclude-standard is the oracle) and once as a plain directory.
 */

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-ignore-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const gitignores: Record<string, string> = {
  ".gitignore": ["# build output", "build/", "*.log", "/top-only.sh", "docs/**/gen-*.sh", "!keep.log", "tmp[0-9].sh", "**/cache", "a/**/z.sh", "\\#hash.sh", "trailing.sh   ", "scratch/*", "!scratch/keep.sh"].join("\n"),
  "sub/.gitignore": ["*.bak.sh", "!important.log", "/local.sh"].join("\n"),
};
const files = [
  "run.sh", "build/x.sh", "sub/build/y.sh", "app.log", "keep.log", "top-only.sh", "sub/top-only.sh", "docs/gen-a.sh", "docs/x/y/gen-b.sh", "docs/x/keep.sh",
  "tmp1.sh", "tmpa.sh", "cache/c.sh", "sub/cache/d.sh", "a/z.sh", "a/b/c/z.sh", "#hash.sh", "trailing.sh", "scratch/one.sh", "scratch/keep.sh",
  "sub/x.bak.sh", "sub/important.log", "sub/local.sh", "sub/deeper/local.sh", "sub/ok.sh",
];

/** Every file the walk would keep, given the rules: a directory left out hides all under it. */
function kept(root: string, ignored: (path: string, isDir: boolean) => boolean): string[] {
  return files
    .filter((file) => {
      const parts = file.split("/");
      for (let i = 1; i < parts.length; i++) if (ignored(join(root, ...parts.slice(0, i)), true)) return false;
      return !ignored(join(root, file), false);
    })
    .sort();
}

function plant(root: string): void {
  for (const [name, text] of Object.entries(gitignores)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  for (const file of files) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), "#!/bin/sh\n");
  }
}

describe(".gitignore outside a work tree", () => {
  test("keeps exactly the files git keeps for the same tree (negation, anchors, **, classes, directories, nested files)", async () => {
    expect(Bun.which("git"), "git must be installed for this test").toBeTruthy();
    const repo = join(dir, "repo");
    const plain = join(dir, "plain");
    plant(repo);
    plant(plain);
    expect(Bun.spawnSync(["git", "init", "-q", repo]).success).toBe(true);
    const listed = Bun.spawnSync(["git", "-C", repo, "ls-files", "--others", "--exclude-standard"]).stdout.toString().split("\n").filter((f) => f && !f.endsWith(".gitignore"));
    expect(workTreeOf(plain)).toBeUndefined();
    const rules = await ignoreRulesFor(plain);
    expect(kept(plain, (p, d) => rules.ignored(p, d))).toEqual(listed.sort());
    // The same through git's own listing, inside the repository.
    const inRepo = await ignoreRulesFor(repo);
    expect(kept(repo, (p, d) => inRepo.ignored(p, d))).toEqual(listed.sort());
    expect(listed).toContain("scratch/keep.sh");
    expect(listed).not.toContain("sub/build/y.sh");
  });

  test("blank lines and comments are no patterns; a trailing slash means directories only", () => {
    expect(parseGitignoreLine("")).toBeUndefined();
    expect(parseGitignoreLine("# x")).toBeUndefined();
    expect(parseGitignoreLine("out/")).toMatchObject({ dirOnly: true, anchored: false, negated: false });
    expect(parseGitignoreLine("!/a/b")).toMatchObject({ dirOnly: false, anchored: true, negated: true });
  });
});
