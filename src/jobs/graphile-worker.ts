// The same queue on graphile-worker, kept for the comparison with pg-boss
// (src/jobs/jobs.test.ts, bench/jobs-recovery.ts), not for serving: its free
// edition has no lease. A job stays locked by the worker that took it until
// that worker finishes it, its pool is unlocked by hand
// (`forceUnlockWorkers`), or four hours pass (`resetLockedAt`): a SIGKILLed
// replica's job waits hours, where the 15 s takeover needs seconds.
import { EventEmitter } from "node:events";
import pg from "pg";
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import type { JobHelpers, Runner, WorkerUtils } from "graphile-worker";
import type { Envelope, JobHandler, JobQueue, PgQueueOptions } from "./types.ts";
import { queueDefaults } from "./types.ts";

export const graphileSchema = "graphile_worker";

// Quiet: the library logs every job at info, and a handler's rejection
// (which the queue retries) as an error; other warnings and errors show.
const logger = new Logger(() => (level, message) => {
  if ((level === "error" || level === "warning") && !message.startsWith("Failed task")) {
    process.stderr.write(`graphile-worker ${level}: ${message}\n`);
  }
});

export async function openGraphileQueue<T>(connectionString: string, name: string, options: PgQueueOptions = {}): Promise<JobQueue<T>> {
  const retries = options.retries ?? queueDefaults.retries;
  // One pool of our own for the utilities and the runner: the library ends a
  // pool it made without waiting for it, so a database dropped right after a
  // stop would still see its connections.
  const pool = new pg.Pool({ connectionString, max: options.poolSize ?? queueDefaults.poolSize, application_name: `opskit-jobs:${name}` });
  const onError = options.onError ?? (() => undefined);
  pool.on("error", onError); // an idle connection lost; pg drops it
  pool.on("connect", (client) => client.on("error", onError)); // the next query reports it
  const shared = { pgPool: pool, schema: graphileSchema, logger };
  const utils: WorkerUtils = await makeWorkerUtils(shared);
  let runner: Runner | undefined;
  let stopping: Promise<void> | undefined;
  const stops = new Set<AbortController>();

  return {
    kind: "graphile-worker",
    async send(key, data) {
      const envelope: Envelope<T> = { key, data };
      // unsafe_dedupe: with a job of this key waiting or running, add nothing
      // (the existing row's revision goes up instead). A new row has revision 0.
      const job = await utils.addJob(name, envelope, { jobKey: key, jobKeyMode: "unsafe_dedupe", maxAttempts: retries + 1 });
      return job.revision === 0;
    },
    async work(handler: JobHandler<T>, { concurrency }) {
      if (runner) throw new Error("work() was already called on this queue");
      const task = async (payload: unknown, helpers: JobHelpers) => {
        const { key, data } = payload as Envelope<T>;
        const stop = new AbortController();
        stops.add(stop);
        try {
          await handler(
            { id: String(helpers.job.id), key, data, attempt: helpers.job.attempts },
            AbortSignal.any([helpers.abortSignal, stop.signal]),
          );
        } catch (error) {
          // A job that failed its last attempt stays in the table with its
          // key, which would refuse every later send of that key; ending it
          // as done removes it, as pg-boss's failed jobs release theirs.
          if (helpers.job.attempts < helpers.job.max_attempts) throw error;
        } finally {
          stops.delete(stop);
        }
      };
      // The runner holds a connection for LISTEN and one per running job.
      pool.options.max = Math.max(pool.options.max, concurrency + 2);
      runner = await run({
        ...shared,
        concurrency,
        noHandleSignals: true,
        // LISTEN/NOTIFY wakes a worker on every new job; the poll is the backstop.
        pollInterval: 500,
        taskList: { [name]: task },
        events: new EventEmitter(),
        // Unbatched, a completion or failure is a query nobody awaits, and a
        // stop that closes the pool first loses it (the job stays locked);
        // batched (after 0 ms), the pool's shutdown waits for it.
        preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
    },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        const stopped = runner ? runner.stop() : Promise.resolve();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
        const outcome = await Promise.race([stopped.then(() => "done" as const), grace]);
        clearTimeout(timer);
        if (outcome === "late") {
          for (const stop of stops) stop.abort(new Error("the job queue is stopping"));
          await stopped.catch(() => undefined);
        }
        await utils.release();
        await pool.end();
      })();
      return stopping;
    },
  };
}
