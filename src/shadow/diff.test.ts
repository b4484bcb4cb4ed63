import { describe, expect, test } from "bun:test";
import { diffLines, unifiedDiff } from "./diff.ts";

const script = (a: string[], b: string[]) => diffLines(a, b).map((e) => `${e.op}${e.line}`);

describe("diffLines", () => {
  test("finds a shortest edit script (Myers' example: ABCABBA to CBABAC in 5 edits)", () => {
    const edits = diffLines([..."ABCABBA"], [..."CBABAC"]);
    expect(edits.filter((e) => e.op !== " ").length).toBe(5);
    // Applying the script to a gives b.
    expect(edits.filter((e) => e.op !== "-").map((e) => e.line)).toEqual([..."CBABAC"]);
    expect(edits.filter((e) => e.op !== "+").map((e) => e.line)).toEqual([..."ABCABBA"]);
  });

  test("equal, empty and one-sided inputs", () => {
    expect(script(["a", "b"], ["a", "b"])).toEqual([" a", " b"]);
    expect(script([], [])).toEqual([]);
    expect(script([], ["x"])).toEqual(["+x"]);
    expect(script(["x"], [])).toEqual(["-x"]);
  });

  test("past maxEdits the middle is one replaced block, still a correct script", () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 50 }, (_, i) => `b${i}`);
    const edits = diffLines(["same", ...a, "end"], ["same", ...b, "end"], 10);
    expect(edits[0]).toEqual({ op: " ", line: "same" });
    expect(edits.filter((e) => e.op === "-").length).toBe(50);
    expect(edits.filter((e) => e.op === "+").length).toBe(50);
    expect(edits[edits.length - 1]).toEqual({ op: " ", line: "end" });
  });
});

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
    const diff = unifiedDiff(a, b, { maxLines: 20 }).split("\n");
    expect(diff.length).toBe(21);
    expect(diff[20]).toBe("… 183 more diff lines");
  });
});
