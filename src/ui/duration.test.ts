import { describe, expect, test } from "bun:test";
import { formatMs } from "./duration.ts";

describe("formatMs, the one duration format (CLI, reports, dashboard)", () => {
  test.each([
    [0, "0.00ms"],
    [0.42, "0.42ms"],
    [3.14159, "3.1ms"],
    [42.4, "42ms"],
    [299.9134, "300ms"],
    [850, "850ms"],
    [999.7, "1s"],
    [1250, "1.25s"],
    [1500, "1.50s"],
    [45_000, "45s"],
    [59_999, "1m"],
    [90_000, "1m30s"],
    [119_600, "2m"],
    [185_000, "3m05s"],
    [72 * 60_000 + 29_000, "1h12m"],
    [3_599_700, "1h"],
    [24 * 3_600_000 - 60_000, "23h59m"],
    [48 * 3_600_000 - 20_000, "2d"],
    [(3 * 24 + 4) * 3_600_000 + 25 * 60_000, "3d4h"],
    [40 * 24 * 3_600_000, "40d"],
  ])("formats %p ms as %p", (ms, text) => expect(formatMs(ms)).toBe(text));

  test("keeps the sign of a negative duration (clock skew between sources)", () => {
    expect(formatMs(-90_000)).toBe("-1m30s");
  });

  test("says n/a rather than NaN for a value that is not a number", () => {
    expect(formatMs(Number.NaN)).toBe("n/a");
    expect(formatMs(Number.POSITIVE_INFINITY)).toBe("n/a");
  });
});
