// Job queues that hand each job to one worker at a time: in-process for the
// embedded server, pg-boss on PostgreSQL for several replicas, where a job
// whose worker died is delivered again once its heartbeat lease lapses.
// Queues deliver at least once: the handler claims its work itself.

import type { JobQueue, PgQueueOptions } from "./types.ts";

export type { Job, JobHandler, JobQueue, PgQueueOptions } from "./types.ts";
export { queueDefaults } from "./types.ts";
export { localQueue } from "./local.ts";
export type { LocalQueueOptions } from "./local.ts";

/**
 * The PostgreSQL queue for several replicas: `connectionString` is the
 * journal's postgres:// URL; `name` the queue's name ("remediation"). Its
 * tables live in their own schema, `opskit_jobs`, created on first use. Each
 * call opens its own pool; `stop()` closes it.
 *
 * Only pg-boss serves: graphile-worker's free edition leaves a crashed
 * worker's job locked for four hours (see graphile-worker.ts, kept for the
 * comparison in the tests and bench/jobs-recovery.ts).
 */
export async function openPgQueue<T>(
  connectionString: string,
  name: string,
  options: PgQueueOptions & { library?: "pg-boss" } = {},
): Promise<JobQueue<T>> {
  const { openBossQueue } = await import("./pg-boss.ts");
  return openBossQueue<T>(connectionString, name, options);
}
