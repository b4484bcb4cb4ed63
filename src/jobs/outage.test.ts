// The served queue (pg-boss) when PostgreSQL goes away and comes back: on a
// server of the test's own, never the shared one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { openPgQueue } from "./index.ts";
import type { Job } from "./index.ts";
import { startPrivatePostgres } from "../../test/harness/postgres.ts";
import type { PrivatePostgres } from "../../test/harness/postgres.ts";

let server: PrivatePostgres;

beforeAll(async () => {
  server = await startPrivatePostgres();
}, 60_000);

afterAll(async () => {
  await server?.destroy();
}, 60_000);

async function eventually<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await Bun.sleep(200);
    }
  }
}

test("pg-boss rides out a PostgreSQL outage: sends fail while it is down, and the same queue works again when it returns", async () => {
  const faults: unknown[] = [];
  const q = await openPgQueue<{ n: number }>(server.url, "remediation", { onError: (e) => faults.push(e) });
  const seen: Job<{ n: number }>[] = [];
  try {
    await q.work(async (job) => void seen.push(job), { concurrency: 2 });
    expect(await q.send("before", { n: 1 })).toBe(true);
    await eventually(async () => expect(seen.map((j) => j.key)).toEqual(["before"]), 10_000);

    await server.stop();
    // The caller answers 503 on this (nothing was enqueued), rather than acknowledging.
    await expect(q.send("during", { n: 2 })).rejects.toThrow();
    await Bun.sleep(3000); // workers poll, heartbeat and supervise against nothing meanwhile
    await server.start();

    expect(await eventually(() => q.send("after", { n: 3 }), 30_000)).toBe(true);
    await eventually(async () => expect(seen.map((j) => j.key)).toEqual(["before", "after"]), 30_000);
    expect(faults.length).toBeGreaterThan(0);
  } finally {
    await q.stop(1000);
  }
}, 90_000);
