import { describe, expect, test } from "bun:test";
import { formatChange, formatCount, formatDuration } from "./format.ts";

describe("formatDuration", () => {
  test.each([
    [0, "0ms"],
    [850, "850ms"],
    [999.6, "1s"],
    [45_000, "45s"],
    [59_600, "1m"],
    [90_000, "1m 30s"],
    [12 * 60_000, "12m"],
    [12 * 60_000 + 20_000, "12m 20s"],
    [72 * 60_000, "1h 12m"],
    [72 * 60_000 + 29_000, "1h 12m"],
    [3_599_700, "1h"],
    [4 * 3_600_000, "4h"],
    [(3 * 24 + 4) * 3_600_000, "3d 4h"],
    [(3 * 24 + 4) * 3_600_000 + 25 * 60_000, "3d 4h"],
    [24 * 3_600_000 - 60_000, "23h 59m"],
    [24 * 3_600_000 - 20_000, "1d"],
    [40 * 24 * 3_600_000, "40d"],
  ])("formats %p ms as %p", (ms, text) => expect(formatDuration(ms)).toBe(text));

  test("keeps the sign of a negative duration (clock skew between sources)", () => {
    expect(formatDuration(-90_000)).toBe("-1m 30s");
  });

  test("says n/a rather than NaN for a value that is not a number", () => {
    expect(formatDuration(Number.NaN)).toBe("n/a");
  });
});

describe("formatChange", () => {
  test.each([
    [-0.58, "down 58%"],
    [0.12, "up 12%"],
    [-0.584, "down 58%"],
    [0.004, "no change"],
    [-0.004, "no change"],
    [0, "no change"],
    [2.5, "up 250%"],
    [-1, "down 100%"],
    [12.345, "up 1,235%"],
  ])("formats %p as %p", (ratio, text) => expect(formatChange(ratio)).toBe(text));

  test("says n/a when there was no baseline to compare with", () => {
    expect(formatChange(Number.POSITIVE_INFINITY)).toBe("n/a");
  });
});

describe("formatCount", () => {
  test.each([
    [0, "0"],
    [212, "212"],
    [9937, "9,937"],
    [1_234_567, "1,234,567"],
  ])("formats %p as %p", (count, text) => expect(formatCount(count)).toBe(text));
});
