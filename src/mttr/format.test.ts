import { describe, expect, test } from "bun:test";
import { formatChange, formatCount } from "./format.ts";

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
