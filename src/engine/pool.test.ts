import { describe, expect, test } from "bun:test";
import { runPool } from "./pool.ts";

describe("runPool", () => {
  test("never runs more than `concurrency` items at once and runs them all", async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    for await (const outcome of runPool(
      Array.from({ length: 50 }, (_, i) => i),
      async (item) => {
        running++;
        peak = Math.max(peak, running);
        await Bun.sleep(item % 5);
        running--;
        return item * 2;
      },
      { concurrency: 7 },
    )) {
      if ("value" in outcome) seen.push(outcome.value);
    }
    expect(peak).toBe(7);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
  });

  test("results stream in completion order, not input order", async () => {
    const order: number[] = [];
    for await (const outcome of runPool([30, 1, 15], async (ms) => (await Bun.sleep(ms), ms), { concurrency: 3 })) order.push(outcome.item);
    expect(order).toEqual([1, 15, 30]);
  });

  test("a failing item is reported as an outcome and does not stop the others", async () => {
    const outcomes = [];
    for await (const outcome of runPool([1, 2, 3], async (n) => {
      if (n === 2) throw new Error("boom");
      return n;
    }, { concurrency: 2 })) outcomes.push(outcome);
    expect(outcomes.filter((o) => "error" in o)).toHaveLength(1);
    expect(outcomes.filter((o) => "value" in o)).toHaveLength(2);
  });

  test("abort stops new items from starting and passes the signal to running ones", async () => {
    const controller = new AbortController();
    let started = 0;
    let cancelled = 0;
    const pool = runPool(
      Array.from({ length: 100 }, (_, i) => i),
      (_item, signal) => {
        started++;
        return new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve("done"), 10_000);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            cancelled++;
            resolve("cancelled");
          });
        });
      },
      { concurrency: 4, signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 20);
    const outcomes = [];
    for await (const outcome of pool) outcomes.push(outcome);
    expect(started).toBe(4);
    expect(cancelled).toBe(4);
    expect(outcomes).toHaveLength(4);
  });

  test("rejects a concurrency below one", async () => {
    const pool = runPool([1], async (n) => n, { concurrency: 0 });
    await expect(pool.next()).rejects.toThrow("positive integer");
  });
});
