import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unifiedDiff } from "./diff.ts";

describe("unifiedDiff", () => {
  test("prints hunks as diff -u does, three lines of context, nearby changes merged", () => {
    const a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    const b = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n";
    expect(unifiedDiff(a, b)).toBe(
      ["--- legacy", "+++ candidate", "@@ -1,5 +1,5 @@", " a", "-b", "+B", " c", " d", " e", "@@ -9,3 +9,4 @@", " i", " j", " k", "+l"].join("\n"),
    );
    expect(unifiedDiff("x\ny\n", "x\nY\n", { context: 0 })).toBe(["--- legacy", "+++ candidate", "@@ -2,1 +2,1 @@", "-y", "+Y"].join("\n"));
  });

  test("an empty side is numbered by the line before it; equal texts give no diff", () => {
    expect(unifiedDiff("", "x\n")).toContain("@@ -0,0 +1,1 @@");
    expect(unifiedDiff("same\n", "same\n")).toBe("");
  });

  test("is bounded: lines past maxLines are counted, not printed", () => {
    const a = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const b = Array.from({ length: 100 }, (_, i) => `LINE ${i}`).join("\n");
    const diff = unifiedDiff(`${a}\n`, `${b}\n`, { maxLines: 20 }).split("\n");
    expect(diff.length).toBe(21);
    expect(diff[20]).toBe("… 183 more diff lines");
  });

  test("past maxEdits the differing middle is one replaced block, with context, that patch(1) still applies", () => {
    const a = ["same", ...Array.from({ length: 50 }, (_, i) => `a${i}`), "end"].join("\n") + "\n";
    const b = ["same", ...Array.from({ length: 50 }, (_, i) => `b${i}`), "end"].join("\n") + "\n";
    const diff = unifiedDiff(a, b, { maxEdits: 10, maxLines: 1000 });
    const lines = diff.split("\n");
    expect(lines[2]).toBe("@@ -1,52 +1,52 @@");
    expect(lines.filter((l) => l.startsWith("-") && !l.startsWith("---")).length).toBe(50);
    expect(lines.filter((l) => l.startsWith("+") && !l.startsWith("+++")).length).toBe(50);
    expect(patched(a, diff)).toBe(b);
  });
});

/** `a` with `diff` applied by GNU patch: the anchor that reads unified diffs. */
function patched(a: string, diff: string): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-diff-"));
  try {
    writeFileSync(join(dir, "file"), a);
    writeFileSync(join(dir, "change.diff"), `${diff}\n`);
    const run = Bun.spawnSync(["patch", "--quiet", "--batch", join(dir, "file"), join(dir, "change.diff")], { stderr: "pipe", stdout: "pipe" });
    if (!run.success) throw new Error(`patch failed: ${run.stdout.toString()}${run.stderr.toString()}`);
    return readFileSync(join(dir, "file"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("against GNU diff and patch", () => {
  // Small random texts over a tiny alphabet: many repeated lines, the hard case for a line diff.
  const random = (seed: number) => {
    let s = seed;
    const next = () => (s = (s * 1103515245 + 12345) & 0x7fffffff);
    return Array.from({ length: next() % 12 }, () => "abcd"[next() % 4]!).map((l) => `${l}\n`).join("");
  };

  test("patch(1) turns a into b with our diff, and the change is as small as diff -u's", () => {
    const dir = mkdtempSync(join(tmpdir(), "opskit-diff-"));
    try {
      for (let seed = 1; seed <= 200; seed++) {
        const a = random(seed);
        const b = random(seed * 7919);
        const ours = unifiedDiff(a, b, { maxLines: 10_000 });
        if (a === b) {
          expect(ours).toBe("");
          continue;
        }
        expect(patched(a, ours)).toBe(b);
        writeFileSync(join(dir, "a"), a);
        writeFileSync(join(dir, "b"), b);
        const gnu = Bun.spawnSync(["diff", "-u", join(dir, "a"), join(dir, "b")]).stdout.toString();
        const changes = (text: string) => text.split("\n").filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+) /.test(l)).length;
        expect(changes(ours)).toBe(changes(gnu));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("hunk headers are diff -u's, counts written out", () => {
  const dir = mkdtempSync(join(tmpdir(), "opskit-diff-"));
  try {
    const cases: [string, string][] = [["", "x\n"], ["x\n", ""], ["a\nb\n", "a\nx\nb\n"], ["a\nx\nb\n", "a\nb\n"], ["a\nb\nc\n", "a\nc\nd\n"]];
    for (const [a, b] of cases) {
      writeFileSync(join(dir, "a"), a);
      writeFileSync(join(dir, "b"), b);
      const headers = (text: string) => text.split("\n").filter((l) => l.startsWith("@@"));
      // GNU diff leaves out a count of 1.
      const gnu = headers(Bun.spawnSync(["diff", "-U0", join(dir, "a"), join(dir, "b")]).stdout.toString()).map((h) => h.replace(/([-+]\d+)( |$)/g, "$1,1$2").replace(/ @@.*$/, " @@"));
      expect(headers(unifiedDiff(a, b, { context: 0 }))).toEqual(gnu);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
