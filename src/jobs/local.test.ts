import { describe, expect, test } from "bun:test";
import { localQueue } from "./index.ts";
import type { Job } from "./index.ts";

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function eventually(check: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await Bun.sleep(5);
  return check();
}

describe("local queue", () => {
  test("send is singleton by key: refused while the job waits or runs, accepted again once it is done", async () => {
    const q = localQueue<number>();
    expect(q.kind).toBe("local");
    expect(await q.send("a", 1)).toBe(true);
    expect(await q.send("a", 2)).toBe(false); // waiting: no worker yet
    const release = deferred();
    const started = deferred();
    const seen: Job<number>[] = [];
    await q.work(
      async (job) => {
        seen.push(job);
        started.resolve();
        await release.promise;
      },
      { concurrency: 1 },
    );
    await started.promise;
    expect(await q.send("a", 3)).toBe(false); // running
    release.resolve();
    expect(await eventually(() => seen.length === 1)).toBe(true);
    await Bun.sleep(5);
    expect(await q.send("a", 4)).toBe(true);
    expect(await eventually(() => seen.length === 2)).toBe(true);
    expect(seen.map((j) => [j.key, j.data, j.attempt])).toEqual([
      ["a", 1, 1],
      ["a", 4, 1],
    ]);
    await q.stop(100);
  });

  test("at most `concurrency` handlers run at once, and every job runs once", async () => {
    const q = localQueue<number>();
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await q.work(
      async (job) => {
        running++;
        most = Math.max(most, running);
        await Bun.sleep(1 + (job.data % 3));
        running--;
        done.push(job.data);
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 40; i++) expect(await q.send(`k${i}`, i)).toBe(true);
    expect(await eventually(() => done.length === 40)).toBe(true);
    expect(most).toBe(3);
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await q.stop(100);
  });

  test("a rejected handler gets the job again up to `retries` times, counting attempts, then the key is free", async () => {
    const q = localQueue<string>({ retries: 2 });
    const attempts: number[] = [];
    await q.work(
      async (job) => {
        attempts.push(job.attempt);
        throw new Error("no");
      },
      { concurrency: 1 },
    );
    expect(await q.send("x", "data")).toBe(true);
    expect(await eventually(() => attempts.length === 3)).toBe(true);
    await Bun.sleep(20);
    expect(attempts).toEqual([1, 2, 3]);
    expect(await q.send("x", "again")).toBe(true);
    await q.stop(100);
  });

  test("stop() waits for handlers within the grace period and starts nothing more", async () => {
    const q = localQueue<number>();
    let finished = 0;
    const started: number[] = [];
    await q.work(
      async (job) => {
        started.push(job.data);
        await Bun.sleep(50);
        finished++;
      },
      { concurrency: 1 },
    );
    await q.send("a", 1);
    await q.send("b", 2);
    expect(await eventually(() => started.length === 1)).toBe(true);
    await q.stop(1000);
    expect(finished).toBe(1);
    expect(started).toEqual([1]);
    expect(await q.send("c", 3)).toBe(false);
  });

  test("stop() past the grace period aborts the handler's signal, and the job is not run again", async () => {
    const q = localQueue<number>();
    const reasons: unknown[] = [];
    let deliveries = 0;
    await q.work(
      (_job, signal) =>
        new Promise<void>((_, reject) => {
          deliveries++;
          signal.addEventListener("abort", () => {
            reasons.push(signal.reason);
            reject(signal.reason);
          });
        }),
      { concurrency: 1 },
    );
    await q.send("stuck", 1);
    expect(await eventually(() => deliveries === 1)).toBe(true);
    await q.stop(30);
    expect(reasons.length).toBe(1);
    await Bun.sleep(20);
    expect(deliveries).toBe(1);
  });

  test("work() refuses a concurrency below one", async () => {
    const q = localQueue<number>();
    await expect(q.work(async () => {}, { concurrency: 0 })).rejects.toThrow(RangeError);
  });
});
