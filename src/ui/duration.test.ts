import { describe, expect, test } from "bun:test";
import { formatMs, parseDuration } from "./duration.ts";

describe("durations", () => {
  test.each([
    ["250ms", 250],
    ["5s", 5000],
    ["1m30s", 90_000],
    ["2h", 7_200_000],
    ["1.5s", 1500],
    ["3", 3000],
  ])("parses %p", (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each(["", "5 s", "fast", "5x", "s5", "1m30"])("rejects %p with a usage error", (text) => {
    expect(() => parseDuration(text, "--timeout")).toThrow(expect.objectContaining({ code: "E_DURATION", exitCode: 64 }));
  });

  test.each([
    [0.42, "0.42ms"],
    [3.14159, "3.1ms"],
    [42.4, "42ms"],
    [1250, "1.25s"],
    [185_000, "3m05s"],
    [299.9134, "300ms"],
    [999.7, "1.00s"],
    [59_999, "1m00s"],
    [119_600, "2m00s"],
  ])("formats %p ms as %p", (ms, text) => expect(formatMs(ms)).toBe(text));
});
