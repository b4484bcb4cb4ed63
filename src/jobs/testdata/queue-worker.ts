// A worker process for the queue's tests and benchmark: takes jobs from the
// queue named by the environment and reports on stdout, one JSON line each:
// {"event":"ready"}, {"event":"start",...}, {"event":"done",...}.
//   JOBS_URL        postgres:// URL of the test's database
//   JOBS_LIBRARY    pg-boss | graphile-worker
//   JOBS_QUEUE      queue name
//   JOBS_CONCURRENCY  handlers at once (default 1)
//   JOBS_EFFECTS    file each handled job appends "key attempt pid" to
//   JOBS_MODE       "work": append, wait JOBS_WORK_MS, resolve;
//                   "hold": append at the start, then wait until the signal aborts
import { appendFileSync } from "node:fs";
import { openPgQueue } from "../index.ts";
import { openGraphileQueue } from "../graphile-worker.ts";
import type { JobQueue } from "../index.ts";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const url = env("JOBS_URL");
const library = env("JOBS_LIBRARY");
const name = env("JOBS_QUEUE", "remediation");
const concurrency = Number(env("JOBS_CONCURRENCY", "1"));
const effects = env("JOBS_EFFECTS");
const mode = env("JOBS_MODE", "work");
const workMs = Number(env("JOBS_WORK_MS", "0"));
const say = (line: object) => process.stdout.write(`${JSON.stringify({ ...line, pid: process.pid, at: Date.now() })}\n`);

const queue: JobQueue<{ n: number }> =
  library === "graphile-worker" ? await openGraphileQueue(url, name) : await openPgQueue(url, name);

await queue.work(
  async (job, signal) => {
    say({ event: "start", id: job.id, key: job.key, attempt: job.attempt });
    appendFileSync(effects, `${job.key} ${job.attempt} ${process.pid}\n`);
    if (mode === "hold") {
      await new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
    } else if (workMs > 0) {
      await Bun.sleep(workMs);
    }
    say({ event: "done", id: job.id, key: job.key });
  },
  { concurrency },
);
say({ event: "ready" });

// SIGTERM: a graceful stop, as a replica's shutdown would do.
process.on("SIGTERM", () => {
  void queue.stop(1000).then(() => process.exit(0));
});
