// The contract every job queue keeps, whichever library carries it.

/** One delivery of a job to a handler. */
export interface Job<T> {
  /** The queue's own id for the job (a pg-boss uuid, a graphile-worker bigint as text, a counter locally). */
  id: string;
  /** The singleton key the job was sent under. */
  key: string;
  data: T;
  /** Delivery count, 1 on the first; a redelivery after a crash or a failure counts up. */
  attempt: number;
}

export type JobHandler<T> = (job: Job<T>, signal: AbortSignal) => Promise<void>;

export interface JobQueue<T> {
  /**
   * Enqueues `data` under `key` unless a job with that key is already waiting
   * or running (singleton by key): resolves whether it was enqueued. A job
   * that completed or failed for good no longer holds its key.
   */
  send(key: string, data: T): Promise<boolean>;
  /**
   * Starts taking jobs: `handler` runs for each, at most `concurrency` at once
   * in this process; resolved = done; rejected = failed (delivered again up to
   * `retries` times). A job whose worker process died is delivered again (to
   * any worker) once its lease lapses (`expireAfterMs` after the worker's last
   * heartbeat). Queues deliver at least once: a handler claims its work with
   * a compare-and-set of its own before acting on it. The signal aborts when
   * `stop` gives up waiting, or when the queue finds this worker's claim on
   * the job gone (its lease lapsed and the job went elsewhere).
   */
  work(handler: JobHandler<T>, options: { concurrency: number }): Promise<void>;
  /** Stops taking jobs; waits up to graceMs for handlers, then aborts their signals and hands their jobs back. */
  stop(graceMs?: number): Promise<void>;
  readonly kind: "local" | "pg-boss" | "graphile-worker";
}

export interface PgQueueOptions {
  /**
   * How long after a worker's last heartbeat its job is delivered again: the
   * lease. Default 10,000 ms, which is also pg-boss's floor (heartbeatSeconds
   * >= 10); the worker refreshes it every fifth of it.
   */
  expireAfterMs?: number;
  /**
   * How long one delivery may run at most, heartbeat or not, before the
   * queue fails it (and delivers it again while retries remain). Default one
   * hour: longer than any remediation should take, short enough that a hung
   * handler does not hold its key for a day.
   */
  maxRunMs?: number;
  /** Deliveries after the first when a handler rejects or its worker dies. Default 3. */
  retries?: number;
  /** Connections in this process's pool for the queue (pg-boss holds one more for LISTEN). Default 4. */
  poolSize?: number;
  /**
   * Faults the library reports and rides out on its own (a lost connection,
   * a fetch or heartbeat that failed while PostgreSQL was away): for a log or
   * a metric. Ignored by default.
   */
  onError?: (error: unknown) => void;
}

/** The defaults above, in one place for every adapter. */
export const queueDefaults = { expireAfterMs: 10_000, maxRunMs: 3_600_000, retries: 3, poolSize: 4 } as const;

/** Wraps the caller's data with its key, so a delivery carries both whatever the library keeps. */
export interface Envelope<T> {
  key: string;
  data: T;
}
