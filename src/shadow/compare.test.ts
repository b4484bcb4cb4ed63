import { describe, expect, test } from "bun:test";
import { canonicalJson, compareOutcomes, compileNormalizers, parseAspects, parseNormalizeOption, type SideOutcome } from "./compare.ts";
import { fallbackReason } from "./fallback.ts";
import { inShare } from "./share.ts";

const side = (stdout: string, exitCode: number | null = 0, error?: string): SideOutcome => ({ stdout, exitCode, stderr: "", durationMs: 1, ...(error ? { error } : {}) });
const timestamps = compileNormalizers([parseNormalizeOption("\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z=>TS")], () => "test");

describe("compareOutcomes", () => {
  test("stdout ignores trailing whitespace per line and trailing blank lines", () => {
    expect(compareOutcomes(side("a  \nb\n\n"), side("a\nb"), ["stdout"], []).equal).toBe(true);
    const differ = compareOutcomes(side("a\nb\n"), side("a\nc\n"), ["stdout", "exit"], []);
    expect(differ).toMatchObject({ equal: false, differs: ["stdout"] });
    expect(differ.diff).toContain("-b\n+c");
  });

  test("normalizers apply to both sides before comparing", () => {
    const legacy = side("report at 2026-11-25T10:00:00.123Z: 3 hosts\n");
    const candidate = side("report at 2026-11-25T10:00:07Z: 3 hosts\n");
    expect(compareOutcomes(legacy, candidate, ["stdout"], []).equal).toBe(false);
    expect(compareOutcomes(legacy, candidate, ["stdout"], timestamps).equal).toBe(true);
  });

  test("json compares structure: key order and formatting ignored, array order kept", () => {
    expect(compareOutcomes(side('{"a":1,"b":{"x":[1,2],"y":null}}'), side('{\n  "b": { "y": null, "x": [1, 2] },\n  "a": 1\n}\n'), ["json"], []).equal).toBe(true);
    const swapped = compareOutcomes(side('{"x":[1,2]}'), side('{"x":[2,1]}'), ["json"], []);
    expect(swapped.differs).toEqual(["json"]);
    expect(swapped.diff).toContain("-    1,");
    expect(compareOutcomes(side("not json"), side("not json"), ["json"], []).equal).toBe(false);
  });

  test("json lines are compared document by document", () => {
    expect(canonicalJson('{"b":1,"a":2}\n{"c":3}\n')).toBe('{"a":2,"b":1}\n{"c":3}');
  });

  test("exit compares exit codes only", () => {
    expect(compareOutcomes(side("same", 0), side("same", 3), ["exit"], [])).toMatchObject({ equal: false, differs: ["exit"], diff: "" });
    expect(compareOutcomes(side("one", 1), side("two", 1), ["exit"], []).equal).toBe(true);
  });

  test("a side that could not run agrees with nothing", () => {
    expect(compareOutcomes(side("", null, "timed out"), side("", null, "timed out"), ["stdout", "exit"], []).equal).toBe(false);
  });
});

describe("options", () => {
  test("--normalize splits at the last =>, and bad input is a usage error", () => {
    expect(parseNormalizeOption("a=>b=>c")).toEqual({ pattern: "a=>b", replace: "c" });
    expect(parseNormalizeOption("\\d+ms=>")).toEqual({ pattern: "\\d+ms", replace: "" });
    expect(() => parseNormalizeOption("no-arrow")).toThrow("invalid --normalize");
    expect(() => compileNormalizers([{ pattern: "(", replace: "" }], () => "--normalize 1")).toThrow("--normalize 1: invalid regular expression");
    expect(parseAspects("stdout, exit,stdout")).toEqual(["stdout", "exit"]);
    expect(() => parseAspects("stderr")).toThrow("invalid --compare");
  });
});

describe("policy", () => {
  test("the share is decided by run id: stable for one id, close to the share over many", () => {
    expect(inShare("20261125T120102-3fa9c2d1", 10)).toBe(inShare("20261125T120102-3fa9c2d1", 10));
    const ids = Array.from({ length: 20_000 }, (_, i) => `20261125T120102-${(i * 2654435761 >>> 0).toString(16).padStart(8, "0")}`);
    const share = ids.filter((id) => inShare(id, 10)).length / ids.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(inShare("any", 100)).toBe(true);
    expect(inShare("any", 0)).toBe(false);
  });

  test("falls back only past minComparisons, on the mismatch or the candidate failure rate", () => {
    const stats = (comparisons: number, mismatched: number, candidateFailures = 0, legacyFailures = 0) => ({ name: "w", comparisons, agreed: comparisons - mismatched - legacyFailures, mismatched, legacyFailures, candidateFailures, firstAt: 0, lastAt: 0 });
    const policy = { maxMismatchPercent: 2, minComparisons: 20 };
    expect(fallbackReason(stats(19, 19), policy)).toBeUndefined();
    expect(fallbackReason(stats(100, 2), policy)).toBeUndefined();
    expect(fallbackReason(stats(100, 3), policy)).toBe("mismatch rate 3% (3 of 100 comparisons) exceeds maxMismatch 2%");
    expect(fallbackReason(stats(50, 1, 2), policy)).toBe("candidate failure rate 4% (2 of 50 comparisons) exceeds maxMismatch 2%");
    // Comparisons where the legacy could not run count for neither side.
    expect(fallbackReason(stats(25, 0, 0, 10), policy)).toBeUndefined();
  });
});
