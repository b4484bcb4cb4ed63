// The embedded server's queue: one process, no database, the same contract.
// Nothing outlives the process: a job waiting or running when it ends is gone,
// and the journal (an attempt left queued or running) is what a restart reads.
import type { Job, JobHandler, JobQueue } from "./types.ts";
import { queueDefaults } from "./types.ts";

interface Pending<T> {
  job: Job<T>;
}

export interface LocalQueueOptions {
  /** Deliveries after the first when a handler rejects. Default 3, as for PostgreSQL. */
  retries?: number;
}

export function localQueue<T>(options: LocalQueueOptions = {}): JobQueue<T> {
  const retries = options.retries ?? queueDefaults.retries;
  // Keys held by a job that waits or runs; the singleton rule is this set.
  const held = new Set<string>();
  const waiting: Pending<T>[] = [];
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let handler: JobHandler<T> | undefined;
  let concurrency = 0;
  let stopped = false;
  let nextId = 1;

  // Starts waiting jobs while slots are free. A counter, not engine's Slots:
  // jobs/ sits below engine/, and nothing here ever waits for a slot.
  const pump = (): void => {
    while (handler && !stopped && running.size < concurrency && waiting.length > 0) {
      start(waiting.shift()!, handler);
    }
  };

  const start = (pending: Pending<T>, run: JobHandler<T>): void => {
    const { job } = pending;
    const controller = new AbortController();
    const done = (async () => {
      let failed = false;
      try {
        await run(job, controller.signal);
      } catch {
        failed = true;
      }
      running.delete(job.id);
      if (failed && !stopped && job.attempt <= retries) {
        // Back of the line, on a later turn, so a handler that fails at once cannot spin the loop.
        setTimeout(() => {
          if (stopped) return held.delete(job.key);
          waiting.push({ job: { ...job, attempt: job.attempt + 1 } });
          pump();
        }, 0);
      } else {
        held.delete(job.key);
        pump();
      }
    })();
    running.set(job.id, { controller, done });
  };

  return {
    kind: "local",
    async send(key, data) {
      if (stopped || held.has(key)) return false;
      held.add(key);
      waiting.push({ job: { id: String(nextId++), key, data, attempt: 1 } });
      pump();
      return true;
    },
    async work(run, { concurrency: limit }) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
      if (handler) throw new Error("work() was already called on this queue");
      handler = run;
      concurrency = limit;
      pump();
    },
    async stop(graceMs = 10_000) {
      if (stopped) return;
      stopped = true;
      for (const pending of waiting.splice(0)) held.delete(pending.job.key);
      const all = Promise.allSettled([...running.values()].map((r) => r.done));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
      const outcome = await Promise.race([all.then(() => "done" as const), grace]);
      clearTimeout(timer);
      if (outcome === "late") {
        for (const r of running.values()) r.controller.abort(new Error("the job queue is stopping"));
      }
    },
  };
}
