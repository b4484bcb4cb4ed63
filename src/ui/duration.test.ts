import { describe, expect, test } from "bun:test";
import { formatMs } from "./duration.ts";

describe("formatMs", () => {
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
