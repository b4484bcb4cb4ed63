import { describe, expect, test } from "bun:test";
import { parseDuration } from "./index.ts";

describe("parseDuration", () => {
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
});
