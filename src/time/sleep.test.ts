import { describe, expect, test } from "bun:test";
import { sleep } from "./index.ts";

describe("sleep", () => {
  test("resolves true once the full time has passed", async () => {
    const started = performance.now();
    expect(await sleep(30, new AbortController().signal)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  test("resolves false as soon as the signal aborts, long before the time is up", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 10);
    expect(await sleep(10_000, controller.signal)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test("an already aborted signal resolves false at once", async () => {
    const controller = new AbortController();
    controller.abort();
    const started = performance.now();
    expect(await sleep(10_000, controller.signal)).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });
});
