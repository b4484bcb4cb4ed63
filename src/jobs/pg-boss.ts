// The PostgreSQL queue on pg-boss: an `exclusive` queue (one job per key
// waiting, retrying or running), heartbeats as the lease, and a supervisor on
// every replica that fails a job whose heartbeat lapsed so another takes it.
// Loaded only by openPgQueue (a dynamic import), so commands that never
// touch PostgreSQL never load pg-boss or pg.
import { PgBoss } from "pg-boss";
import type { Job as BossJob } from "pg-boss";
import { ExitCode, OpsError } from "../errors.ts";
// The journal's own masking (a password, and secret query parameters such as sslpassword).
import { displayJournalLocation } from "../journal/index.ts";
import type { Envelope, JobHandler, JobQueue, PgQueueOptions } from "./types.ts";
import { queueDefaults } from "./types.ts";

/** Where pg-boss keeps its tables: a schema of its own beside opskit's, named for opskit. */
export const bossSchema = "opskit_jobs";

// How the settings below add up after a SIGKILL: the dead worker's last
// heartbeat is at most a fifth of the lease old (heartbeatRefreshSeconds);
// the lease lapses `expireAfterMs` after it; some replica's supervisor
// (every second, the queue's monitor claimed by one replica a second) fails
// the job into `retry` within about a second; a worker polls it within half a
// second while LISTEN/NOTIFY works (notifyPollingIntervalSeconds). 9.5-11.3 s
// measured with the 10 s lease (bench/jobs-recovery.ts), inside the 15 s in
// which a killed replica's attempts must be taken over.
const superviseIntervalSeconds = 1;
const monitorIntervalSeconds = 1;
// New jobs wake workers through LISTEN/NOTIFY (one connection per process
// held for it); polling stays as the backstop, and is what finds a job the
// supervisor put back in `retry` (that sends no NOTIFY): every second while
// NOTIFY works, every half second when it does not.
const pollingIntervalSeconds = 0.5;
const notifyPollingIntervalSeconds = 1;
// The queue's cached counts (refreshed by the monitor) tell a worker that a
// backlog of two or more waits (burstWhenReadyExceeds: 1, pg-boss's floor),
// so it fetches again at once after each job instead of waiting out its
// polling interval; a fetch that finds nothing ends the burst.
const queueCacheIntervalSeconds = 1;
// Completed and failed jobs are kept an hour for inspection (`opskit_jobs.job`);
// the journal is the record, not the queue.
const deleteAfterSeconds = 3600;

export async function openBossQueue<T>(connectionString: string, name: string, options: PgQueueOptions = {}): Promise<JobQueue<T>> {
  const expireAfterMs = options.expireAfterMs ?? queueDefaults.expireAfterMs;
  const heartbeatSeconds = Math.max(10, Math.ceil(expireAfterMs / 1000));
  const expireInSeconds = Math.max(heartbeatSeconds + 1, Math.ceil((options.maxRunMs ?? queueDefaults.maxRunMs) / 1000));
  const retryLimit = options.retries ?? queueDefaults.retries;

  const boss = new PgBoss({
    connectionString,
    schema: bossSchema,
    application_name: `opskit-jobs:${name}`,
    max: options.poolSize ?? queueDefaults.poolSize,
    // As the journal's: a server that does not answer fails the open, not hangs it.
    connectionTimeoutMillis: 5000,
    supervise: true,
    superviseIntervalSeconds,
    monitorIntervalSeconds,
    queueCacheIntervalSeconds,
    // Cron and the instance registry are features opskit does not use here.
    schedule: false,
    registerInstance: false,
    openTelemetry: { enabled: false },
    useListenNotify: true,
  });
  // An unlistened `error` event would throw; pg-boss reports passing faults
  // (a lost connection, a heartbeat that could not run) and goes on.
  const onError = options.onError ?? (() => undefined);
  boss.on("error", (error) => onError(error));
  try {
    // Installs or migrates the schema under an advisory lock: replicas may start together.
    await boss.start();
    // createQueue is idempotent; several replicas starting at once race harmlessly.
    await boss.createQueue(name, {
      policy: "exclusive",
      notify: true,
      heartbeatSeconds,
      expireInSeconds,
      retryLimit,
      retryDelay: 0,
      deleteAfterSeconds,
    });
    // Timings can change from one release to the next; the last replica to start sets them.
    await boss.updateQueue(name, { notify: true, heartbeatSeconds, expireInSeconds, retryLimit, retryDelay: 0, deleteAfterSeconds });
  } catch (error) {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
    throw new OpsError({
      code: "E_JOBS_OPEN",
      message: `cannot open the job queue "${name}" at ${displayJournalLocation(connectionString)}: ${(error as Error).message}`,
      hint: `check that PostgreSQL runs and answers there (pg_isready) and that the user may create the schema ${bossSchema}, or create it for them`,
      exitCode: ExitCode.transport,
      cause: error,
    });
  }
  // The singleton rule is the exclusive policy's unique index; pg-boss never
  // changes a queue's policy, so a queue made otherwise is refused, not used.
  const queue = await boss.getQueue(name);
  if (queue?.policy !== "exclusive") {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
    throw new OpsError({
      code: "E_JOBS_QUEUE_POLICY",
      message: `the job queue "${name}" in schema ${bossSchema} has the policy "${queue?.policy}", not "exclusive": it cannot keep one job per key`,
      hint: `stop every opskit serve replica and drop the queue's jobs (DROP SCHEMA ${bossSchema} CASCADE; the journal keeps every attempt), then start them again`,
      exitCode: ExitCode.config,
    });
  }

  let working = false;
  let stopping: Promise<void> | undefined;

  return {
    kind: "pg-boss",
    async send(key, data) {
      const envelope: Envelope<T> = { key, data };
      // null: the exclusive policy's unique index already holds a job with this key.
      const id = await boss.send(name, envelope as object, { singletonKey: key });
      return id !== null;
    },
    async work(handler: JobHandler<T>, { concurrency }) {
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
      if (working) throw new Error("work() was already called on this queue");
      working = true;
      await boss.work<Envelope<T>>(
        name,
        {
          localConcurrency: concurrency,
          batchSize: 1,
          pollingIntervalSeconds,
          notifyPollingIntervalSeconds,
          burstWhenReadyExceeds: 1,
          heartbeatRefreshSeconds: heartbeatSeconds / 5,
        },
        async ([job]: BossJob<Envelope<T>>[]) => {
          if (!job) return;
          // job.signal aborts when the heartbeat finds the claim gone and when stop() gives up waiting.
          await handler({ id: job.id, key: job.data.key, data: job.data.data, attempt: job.retryCount + 1 }, job.signal);
        },
      );
    },
    stop(graceMs = 10_000) {
      // pg-boss waits for its handlers up to the timeout (1 s at least),
      // then fails what still runs (back to `retry`, so another replica
      // takes it at once), aborts their signals and closes its pool.
      stopping ??= boss.stop({ graceful: true, timeout: Math.max(graceMs, 1000), close: true });
      return stopping;
    },
  };
}
