import { describe, expect, test } from "bun:test";
import { StreamCapture } from "./output.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("StreamCapture", () => {
  test("keeps everything under the limit", () => {
    const capture = new StreamCapture(100);
    capture.push(bytes("one\n"));
    capture.push(bytes("two\n"));
    expect(capture.finish()).toBe("one\ntwo\n");
    expect(capture.truncated).toBe(false);
  });

  test("keeps the last maxBytes bytes over many chunks", () => {
    const capture = new StreamCapture(10);
    for (let i = 0; i < 1000; i++) capture.push(bytes(`line ${i}\n`));
    expect(capture.finish()).toBe("\nline 999\n");
    expect(capture.truncated).toBe(true);
  });

  test("a cut inside a UTF-8 sequence drops the partial character, and live text decodes across chunks", () => {
    const live: string[] = [];
    const capture = new StreamCapture(5, (text) => live.push(text));
    const all = bytes("ab€€"); // € is three bytes
    capture.push(all.subarray(0, 3));
    capture.push(all.subarray(3));
    expect(live.join("")).toBe("ab€€");
    expect(capture.finish()).toBe("€");
  });

  test("a zero limit keeps nothing but reports truncation", () => {
    const capture = new StreamCapture(0);
    capture.push(bytes("x"));
    expect(capture.finish()).toBe("");
    expect(capture.truncated).toBe(true);
  });
});
