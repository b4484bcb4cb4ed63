// The PostgreSQL queues against a real server, each test in a database of its
// own: pg-boss (what openPgQueue serves) and graphile-worker (kept for the
// comparison), with worker processes that are started and SIGKILLed for real.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openGraphileQueue, graphileSchema } from "./graphile-worker.ts";
import { openPgQueue } from "./index.ts";
import type { Job, JobQueue, PgQueueOptions } from "./index.ts";
import { createTestDatabase } from "../../test/harness/postgres.ts";
import type { TestDatabase } from "../../test/harness/postgres.ts";
import { spawnWorker } from "./testing.ts";
import type { WorkerProcess } from "./testing.ts";

type Library = "pg-boss" | "graphile-worker";
type Data = { n: number };

const openers: Record<Library, (url: string, name: string, options?: PgQueueOptions) => Promise<JobQueue<Data>>> = {
  "pg-boss": (url, name, options) => openPgQueue<Data>(url, name, options),
  "graphile-worker": (url, name, options) => openGraphileQueue<Data>(url, name, options),
};

/** Lines of the side-effect file: "key attempt pid". */
function effectLines(file: string): { key: string; attempt: number; pid: number }[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [key, attempt, pid] = line.split(" ");
      return { key: key!, attempt: Number(attempt), pid: Number(pid) };
    });
}

/** Polls `check` every 50 ms until it holds; false after timeoutMs. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(50);
  }
  return check();
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe.each(["pg-boss", "graphile-worker"] as const)("%s queue on PostgreSQL", (library) => {
  const open = openers[library];
  let db: TestDatabase;
  let dir: string;
  let queues: JobQueue<Data>[];
  let workers: WorkerProcess[];

  beforeEach(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), "opskit-jobs-"));
    queues = [];
    workers = [];
  });

  afterEach(async () => {
    for (const worker of workers) worker.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    await Promise.all(queues.map((q) => q.stop(1000).catch(() => undefined)));
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const track = async (queue: Promise<JobQueue<Data>>) => {
    const q = await queue;
    queues.push(q);
    return q;
  };
  const worker = (spec: Omit<Parameters<typeof spawnWorker>[0], "url" | "library">) => {
    const w = spawnWorker({ url: db.url, library, ...spec });
    workers.push(w);
    return w;
  };

  test("send is singleton by key: refused while the job waits or runs, accepted again once it is done", async () => {
    const q = await track(open(db.url, "remediation"));
    expect(q.kind).toBe(library);
    expect(await q.send("incident-1:1", { n: 1 })).toBe(true);
    expect(await q.send("incident-1:1", { n: 2 })).toBe(false);
    expect(await q.send("incident-2:1", { n: 3 })).toBe(true);

    const started = deferred();
    const release = deferred();
    const seen: Job<Data>[] = [];
    await q.work(
      async (job) => {
        seen.push(job);
        if (job.key === "incident-1:1") {
          started.resolve();
          await release.promise;
        }
      },
      { concurrency: 2 },
    );
    await started.promise;
    expect(await q.send("incident-1:1", { n: 4 })).toBe(false); // running
    release.resolve();
    expect(await eventually(() => q.send("incident-1:1", { n: 5 }), 10_000)).toBe(true);
    expect(await eventually(() => seen.length === 3, 10_000)).toBe(true);
    expect(seen.map((j) => [j.key, j.data.n, j.attempt]).sort()).toEqual([
      ["incident-1:1", 1, 1],
      ["incident-1:1", 5, 1],
      ["incident-2:1", 3, 1],
    ]);
  });

  test("the queue keeps its tables in a schema of its own and leaves public (opskit's) alone", async () => {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Tables of opskit's own, with names a queue library might also choose.
      await client.query("create table public.job (id int primary key); create table public.queue (name text primary key)");
      const q = await track(open(db.url, "remediation"));
      await q.work(async () => {}, { concurrency: 1 });
      expect(await q.send("k", { n: 1 })).toBe(true);
      const { rows } = await client.query<{ schema: string; tables: string[] }>(
        `select table_schema as schema, array_agg(table_name::text order by table_name) as tables
           from information_schema.tables
          where table_schema not in ('pg_catalog', 'information_schema')
          group by table_schema order by table_schema`,
      );
      expect(rows.map((r) => r.schema)).toEqual([library === "pg-boss" ? "opskit_jobs" : graphileSchema, "public"].sort());
      expect(rows.find((r) => r.schema === "public")?.tables).toEqual(["job", "queue"]);
    } finally {
      await client.end();
    }
  });

  test("a rejected handler gets the job again with the next attempt number, and a job out of retries frees its key", async () => {
    const q = await track(open(db.url, "remediation", { retries: 2 }));
    const attempts: number[] = [];
    await q.work(
      async (job) => {
        attempts.push(job.attempt);
        throw new Error(`failing attempt ${job.attempt}`);
      },
      { concurrency: 1 },
    );
    expect(await q.send("k", { n: 1 })).toBe(true);
    // Two retries: three deliveries. graphile-worker waits e^attempt seconds
    // between them (2.7 s, then 7.4 s); pg-boss redelivers at once.
    expect(await eventually(() => attempts.length === 3, 30_000)).toBe(true);
    await Bun.sleep(500);
    expect(attempts).toEqual([1, 2, 3]);
    expect(await eventually(() => q.send("k", { n: 2 }), 10_000)).toBe(true);
  }, 60_000);

  test("300 jobs across three worker processes: each handled exactly once", async () => {
    const effects = join(dir, "effects");
    writeFileSync(effects, "");
    const pool = [0, 1, 2].map(() => worker({ effects, concurrency: 4, workMs: 2 }));
    await Promise.all(pool.map((w) => w.waitFor((l) => l.event === "ready", 30_000)));
    const q = await track(open(db.url, "remediation"));
    const keys = Array.from({ length: 300 }, (_, i) => `incident-${i}:1`);
    for (let i = 0; i < keys.length; i += 50) {
      const sent = await Promise.all(keys.slice(i, i + 50).map((key, j) => q.send(key, { n: i + j })));
      expect(sent.every(Boolean)).toBe(true);
    }
    expect(await eventually(() => effectLines(effects).length >= keys.length, 50_000)).toBe(true);
    // A duplicate delivery would land after the last first one: give it time to show.
    await Bun.sleep(1500);
    const lines = effectLines(effects);
    const perKey = new Map<string, number>();
    for (const line of lines) perKey.set(line.key, (perKey.get(line.key) ?? 0) + 1);
    expect(lines.length).toBe(keys.length);
    expect([...perKey.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(perKey.keys())).toEqual(new Set(keys));
    const perPid = new Map<number, number>();
    for (const line of lines) perPid.set(line.pid, (perPid.get(line.pid) ?? 0) + 1);
    console.log(`${library}: 300 jobs over 3 processes, handled per process: ${[...perPid.values()].join(", ")}`);
  }, 60_000);

  if (library === "pg-boss") {
    test("opening fails with E_JOBS_OPEN, the password masked, when PostgreSQL does not answer", async () => {
      const error = await openPgQueue("postgres://opskit:s3cret-pw@127.0.0.1:1/none", "remediation").catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "E_JOBS_OPEN", exitCode: 1 });
      expect((error as Error).message).toContain("postgres://opskit:***@127.0.0.1:1/none");
      expect((error as Error).message).not.toContain("s3cret-pw");
    });

    test("a queue of the same name made with another policy is refused (E_JOBS_QUEUE_POLICY), not used", async () => {
      const { PgBoss } = await import("pg-boss");
      const other = new PgBoss({ connectionString: db.url, schema: "opskit_jobs", supervise: false, schedule: false });
      other.on("error", () => undefined);
      await other.start();
      await other.createQueue("remediation", { policy: "standard" });
      await other.stop({ graceful: false });
      const error = await openPgQueue(db.url, "remediation").catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "E_JOBS_QUEUE_POLICY", exitCode: 65 });
    });

    test("a job whose worker process was SIGKILLed is delivered again to another process, as attempt 2", async () => {
      const effects = join(dir, "effects");
      writeFileSync(effects, "");
      const doomed = worker({ effects, mode: "hold" });
      await doomed.waitFor((l) => l.event === "ready", 30_000);
      const q = await track(open(db.url, "remediation"));
      expect(await q.send("incident-7:1", { n: 7 })).toBe(true);
      await doomed.waitFor((l) => l.event === "start", 10_000);
      const survivor = worker({ effects });
      await survivor.waitFor((l) => l.event === "ready", 30_000);
      // Held by a live worker, the key is taken.
      expect(await q.send("incident-7:1", { n: 8 })).toBe(false);

      const killedAt = Date.now();
      doomed.kill("SIGKILL");
      await doomed.exited;
      const taken = await survivor.waitFor((l) => l.event === "start", 45_000);
      console.log(`pg-boss: redelivered ${taken.at - killedAt} ms after SIGKILL`);
      expect(taken.key).toBe("incident-7:1");
      expect(taken.attempt).toBe(2);
      await survivor.waitFor((l) => l.event === "done", 10_000);
      expect(effectLines(effects).map((l) => [l.key, l.attempt, l.pid])).toEqual([
        ["incident-7:1", 1, doomed.pid],
        ["incident-7:1", 2, survivor.pid],
      ]);
    }, 60_000);

    test("a live worker keeps its job past the lease: no second delivery while it heartbeats", async () => {
      const effects = join(dir, "effects");
      writeFileSync(effects, "");
      // 15 s of work against a 10 s lease (and a supervisor every second).
      const slow = worker({ effects, workMs: 15_000 });
      await slow.waitFor((l) => l.event === "ready", 30_000);
      const q = await track(open(db.url, "remediation"));
      expect(await q.send("incident-9:1", { n: 9 })).toBe(true);
      await slow.waitFor((l) => l.event === "start", 10_000);
      const idle = worker({ effects });
      await idle.waitFor((l) => l.event === "ready", 30_000);
      await slow.waitFor((l) => l.event === "done", 30_000);
      await Bun.sleep(1500);
      expect(idle.lines.filter((l) => l.event === "start")).toEqual([]);
      expect(effectLines(effects).map((l) => [l.key, l.attempt, l.pid])).toEqual([["incident-9:1", 1, slow.pid]]);
    }, 60_000);
  } else {
    test("a job whose worker process was SIGKILLed stays locked (no lease), until its pool is unlocked by hand", async () => {
      const effects = join(dir, "effects");
      writeFileSync(effects, "");
      const doomed = worker({ effects, mode: "hold" });
      await doomed.waitFor((l) => l.event === "ready", 30_000);
      const q = await track(open(db.url, "remediation"));
      expect(await q.send("incident-7:1", { n: 7 })).toBe(true);
      const held = await doomed.waitFor((l) => l.event === "start", 10_000);
      const survivor = worker({ effects });
      await survivor.waitFor((l) => l.event === "ready", 30_000);

      doomed.kill("SIGKILL");
      await doomed.exited;
      // The 15 s in which a killed replica's attempt must be taken over pass without a delivery.
      await Bun.sleep(15_000);
      expect(survivor.lines.filter((l) => l.event === "start")).toEqual([]);
      expect(await q.send("incident-7:1", { n: 8 })).toBe(false);

      // What an operator (or a liveness sweep of one's own) must do: unlock the dead pool.
      const { default: pg } = await import("pg");
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ locked_by: string }>(
          `select locked_by from ${graphileSchema}._private_jobs where id = $1`,
          [held.id],
        );
        expect(rows[0]?.locked_by).toBeString();
        const unlockedAt = Date.now();
        await client.query(`select ${graphileSchema}.force_unlock_workers($1::text[])`, [[rows[0]!.locked_by]]);
        const taken = await survivor.waitFor((l) => l.event === "start", 20_000);
        console.log(`graphile-worker: delivered ${taken.at - unlockedAt} ms after force_unlock_workers`);
        expect(taken.attempt).toBe(2);
      } finally {
        await client.end();
      }
    }, 60_000);
  }

  test("stop() waits for a handler within the grace period", async () => {
    const q = await track(open(db.url, "remediation"));
    const started = deferred();
    let finished = false;
    await q.work(
      async () => {
        started.resolve();
        await Bun.sleep(500);
        finished = true;
      },
      { concurrency: 1 },
    );
    await q.send("quick", { n: 1 });
    await started.promise;
    await q.stop(10_000);
    expect(finished).toBe(true);
  }, 30_000);

  test("stop() past the grace period aborts the handler's signal and hands the job to another worker", async () => {
    const first = await track(open(db.url, "remediation"));
    const started = deferred();
    let aborted = false;
    await first.work(
      (_job, signal) =>
        new Promise<void>((_, reject) => {
          started.resolve();
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
      { concurrency: 1 },
    );
    await first.send("stuck", { n: 1 });
    await started.promise;
    await first.stop(1000);
    expect(aborted).toBe(true);

    const second = await track(open(db.url, "remediation"));
    const seen: Job<Data>[] = [];
    await second.work(async (job) => void seen.push(job), { concurrency: 1 });
    expect(await eventually(() => seen.length === 1, 20_000)).toBe(true);
    expect([seen[0]!.key, seen[0]!.attempt]).toEqual(["stuck", 2]);
  }, 40_000);
});
