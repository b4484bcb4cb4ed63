// Job queues on PostgreSQL compared on what a replica's death costs and on
// throughput: pg-boss (what opskit serves) and graphile-worker.
//   flock /tmp/bench.lock node_modules/.bin/bun bench/jobs-recovery.ts [--kills 5] [--jobs 1000]
// Needs the local PostgreSQL (127.0.0.1:5432, user postgres); each library
// runs in a database of its own, dropped after.
//
// Recovery: a worker process takes a job and holds it; a second process is
// started and ready; the first is SIGKILLed; the time from the kill to the
// job's start in the second process is one sample (median of --kills).
// graphile-worker has no lease: its first kill is left 20 s to show that
// nothing comes, then every sample is the time from force_unlock_workers
// (what an operator, or a liveness sweep of one's own, must run) instead.
//
// Pickup: with the three processes idle, 20 jobs sent one by one; the time
// from a send to its handler's start (median).
//
// Throughput: three worker processes (4 handlers each) are ready; --jobs jobs
// are sent (16 sends at once) and each handler appends a line to a file; the
// time from the first send to the last line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openGraphileQueue, graphileSchema } from "../src/jobs/graphile-worker.ts";
import { openPgQueue } from "../src/jobs/index.ts";
import type { JobQueue } from "../src/jobs/index.ts";
import { spawnWorker } from "../src/jobs/testing.ts";
import { createTestDatabase } from "../test/harness/postgres.ts";
import type { WorkerProcess } from "../src/jobs/testing.ts";

type Library = "pg-boss" | "graphile-worker";
type Data = { n: number };

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const kills = arg("kills", 5);
const jobCount = arg("jobs", 1000);
const graphileWaitMs = 20_000;

const open = (library: Library, url: string): Promise<JobQueue<Data>> =>
  library === "pg-boss" ? openPgQueue<Data>(url, "remediation") : openGraphileQueue<Data>(url, "remediation");

function lineCount(file: string): number {
  const text = readFileSync(file, "utf8");
  let count = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) count++;
  return count;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function stopWorker(worker: WorkerProcess): Promise<void> {
  worker.kill("SIGKILL");
  await worker.exited;
}

interface Recovery {
  samples: number[];
  /** graphile-worker: whether anything came within graphileWaitMs of the first kill. */
  unaidedWithinMs?: number | null;
}

async function measureRecovery(library: Library, url: string, dir: string): Promise<Recovery> {
  const effects = join(dir, `${library}-recovery`);
  writeFileSync(effects, "");
  const queue = await open(library, url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const result: Recovery = { samples: [] };
  try {
    for (let round = 0; round < kills; round++) {
      const key = `incident-${round}:1`;
      const doomed = spawnWorker({ url, library, effects, mode: "hold" });
      await doomed.waitFor((l) => l.event === "ready", 30_000);
      await queue.send(key, { n: round });
      const held = await doomed.waitFor((l) => l.event === "start" && l.key === key, 10_000);
      const survivor = spawnWorker({ url, library, effects });
      await survivor.waitFor((l) => l.event === "ready", 30_000);
      // A replica dies at any moment of pg-boss's 2 s heartbeat period (which
      // starts when the handler does): the kills are spread evenly over it.
      const phase = (2000 * round) / kills;
      await Bun.sleep((phase - ((Date.now() - held.at) % 2000) + 2000) % 2000);
      const killedAt = Date.now();
      doomed.kill("SIGKILL");
      await doomed.exited;
      let from = killedAt;
      if (library === "graphile-worker") {
        if (round === 0) {
          const unaided = await survivor.waitFor((l) => l.event === "start", graphileWaitMs).catch(() => null);
          result.unaidedWithinMs = unaided ? unaided.at - killedAt : null;
        }
        const { rows } = await admin.query<{ locked_by: string | null }>(
          `select locked_by from ${graphileSchema}._private_jobs where id = $1`,
          [held.id],
        );
        from = Date.now();
        await admin.query(`select ${graphileSchema}.force_unlock_workers($1::text[])`, [[rows[0]?.locked_by]]);
      }
      const taken = await survivor.waitFor((l) => l.event === "start" && l.key === key, 60_000);
      result.samples.push(taken.at - from);
      console.error(`${library}: kill ${round + 1}: delivered again after ${taken.at - from} ms (attempt ${taken.attempt})`);
      await survivor.waitFor((l) => l.event === "done" && l.key === key, 10_000);
      await stopWorker(survivor);
    }
  } finally {
    await admin.end();
    await queue.stop(1000);
  }
  return result;
}

async function measureThroughput(
  library: Library,
  url: string,
  dir: string,
): Promise<{ jobsPerSec: number; sendPerSec: number; pickupMs: number }> {
  const effects = join(dir, `${library}-throughput`);
  writeFileSync(effects, "");
  const workers = [0, 1, 2].map(() => spawnWorker({ url, library, effects, concurrency: 4 }));
  const queue = await open(library, url);
  try {
    await Promise.all(workers.map((w) => w.waitFor((l) => l.event === "ready", 30_000)));
    const pickups: number[] = [];
    for (let i = 0; i < 20; i++) {
      const key = `pickup-${i}`;
      const sentAt = Date.now();
      await queue.send(key, { n: i });
      const start = await Promise.race(workers.map((w) => w.waitFor((l) => l.event === "start" && l.key === key, 10_000)));
      pickups.push(start.at - sentAt);
      await Bun.sleep(50);
    }
    writeFileSync(effects, "");
    const started = performance.now();
    let next = 0;
    const sender = async () => {
      while (next < jobCount) {
        const n = next++;
        if (!(await queue.send(`job-${n}`, { n }))) throw new Error(`job-${n} was refused`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    const sent = performance.now();
    const deadline = Date.now() + 120_000;
    while (lineCount(effects) < jobCount) {
      if (Date.now() > deadline) throw new Error(`${library}: ${lineCount(effects)} of ${jobCount} jobs handled after 120 s`);
      await Bun.sleep(10);
    }
    const finished = performance.now();
    const handled = lineCount(effects);
    if (handled !== jobCount) throw new Error(`${library}: ${handled} lines for ${jobCount} jobs`);
    return {
      jobsPerSec: (jobCount * 1000) / (finished - started),
      sendPerSec: (jobCount * 1000) / (sent - started),
      pickupMs: median(pickups),
    };
  } finally {
    await Promise.all(workers.map(stopWorker));
    await queue.stop(1000);
  }
}

const rows: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "opskit-jobs-bench-"));
try {
  for (const library of ["pg-boss", "graphile-worker"] as const) {
    const db = await createTestDatabase();
    try {
      const recovery = await measureRecovery(library, db.url, dir);
      const throughput = await measureThroughput(library, db.url, dir);
      const samples = recovery.samples.map((ms) => (ms / 1000).toFixed(1)).join(", ");
      const redelivery =
        library === "pg-boss"
          ? `${(median(recovery.samples) / 1000).toFixed(1)} s (${samples})`
          : `${recovery.unaidedWithinMs == null ? `none within ${graphileWaitMs / 1000} s` : `${recovery.unaidedWithinMs} ms`}; ` +
            `${median(recovery.samples).toFixed(0)} ms after force_unlock_workers (${recovery.samples.join(", ")} ms)`;
      rows.push(
        `| ${library} | ${redelivery} | ${throughput.pickupMs} ms | ${throughput.jobsPerSec.toFixed(0)} | ${throughput.sendPerSec.toFixed(0)} |`,
      );
    } finally {
      await db.drop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`Job queues on PostgreSQL ${(await serverVersion())}, ${kills} kills, ${jobCount} jobs over 3 processes x 4 handlers\n`);
console.log("| library | delivered again after SIGKILL (median, samples) | pickup (median) | jobs/s handled | jobs/s sent |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);

async function serverVersion(): Promise<string> {
  const db = await createTestDatabase();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    return rows[0]!.server_version.split(" ")[0]!;
  } finally {
    await client.end();
    await db.drop();
  }
}
