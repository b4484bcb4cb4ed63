import type { PoolClient } from "pg";
import { ExitCode, OpsError } from "../errors.ts";

/**
 * The PostgreSQL journal's schema, as an ordered list of migrations: the
 * database records which it has (opskit_schema), and an open applies the
 * missing ones in order. A migration is never edited once released; a change
 * is a new one at the end. Tables mirror the SQLite journal's (times as epoch
 * ms in bigint columns, JSON in json columns, which keep the text as written)
 * without foreign keys, which SQLite does not enforce either.
 */
export interface Migration {
  version: number;
  /** What it does, for the operator reading opskit_schema. */
  name: string;
  sql: string;
}

const runs = `
CREATE TABLE runs (
  id text PRIMARY KEY,
  kind text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  params json NOT NULL,
  started_at text NOT NULL,
  finished_at text,
  summary json,
  resumed_from text,
  owner_pid integer,
  owner_host text
);
CREATE INDEX runs_started ON runs (started_at COLLATE "C");
CREATE TABLE run_targets (
  run_id text NOT NULL,
  target text NOT NULL,
  batch integer NOT NULL,
  status text NOT NULL,
  changed boolean NOT NULL,
  rollback_owed boolean NOT NULL,
  started_at text,
  finished_at text,
  duration_ms double precision,
  error text,
  PRIMARY KEY (run_id, target)
);
-- id keeps the order results were written in (SQLite's rowid).
CREATE TABLE step_results (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id text NOT NULL,
  target text NOT NULL,
  phase text NOT NULL,
  idx integer NOT NULL,
  name text NOT NULL,
  action text NOT NULL,
  status text NOT NULL,
  exit_code integer,
  stdout text NOT NULL,
  stderr text NOT NULL,
  duration_ms double precision NOT NULL,
  attempts integer NOT NULL,
  error text,
  started_at text NOT NULL
);
CREATE INDEX step_results_run ON step_results (run_id, target, phase, idx, id);
CREATE TABLE step_progress (
  run_id text NOT NULL,
  target text NOT NULL,
  phase text NOT NULL,
  idx integer NOT NULL,
  name text NOT NULL,
  started_at text NOT NULL,
  finished_at text,
  status text,
  data json,
  resumed_from text,
  PRIMARY KEY (run_id, target, phase, idx)
);
CREATE TABLE events (
  run_id text NOT NULL,
  seq integer NOT NULL,
  type text NOT NULL,
  at text NOT NULL,
  payload json NOT NULL,
  PRIMARY KEY (run_id, seq)
);
`;

const incidents = `
CREATE TABLE notifications (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL,
  received_at bigint NOT NULL,
  body text NOT NULL,
  processed boolean NOT NULL DEFAULT false
);
-- Only the backlog is indexed, so the index stays small however large the table grows.
CREATE INDEX notifications_pending ON notifications (id) WHERE NOT processed;
CREATE TABLE alert_states (
  fingerprint text PRIMARY KEY,
  status text NOT NULL,
  starts_at bigint NOT NULL,
  ends_at bigint,
  incident_id bigint,
  updated_at bigint NOT NULL
);
CREATE TABLE incidents (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  fingerprint text NOT NULL,
  status text NOT NULL,
  title text NOT NULL,
  source text NOT NULL,
  labels json NOT NULL,
  annotations json NOT NULL,
  rule text,
  service text,
  severity text,
  alertname text,
  started_at bigint,
  detected_at bigint,
  remediation_started_at bigint,
  remediated_at bigint,
  verified_at bigint,
  resolved_at bigint,
  escalated_at bigint,
  acknowledged_at bigint,
  attempts integer NOT NULL DEFAULT 0,
  escalated boolean NOT NULL DEFAULT false,
  automated boolean NOT NULL DEFAULT false,
  resolution text,
  notifications integer NOT NULL DEFAULT 0,
  last_notified_at bigint NOT NULL,
  origin text,
  external_id text
);
-- At most one open incident per fingerprint, whatever races the replicas run.
CREATE UNIQUE INDEX incidents_open_fingerprint ON incidents (fingerprint) WHERE status = 'open';
CREATE INDEX incidents_fingerprint ON incidents (fingerprint);
CREATE INDEX incidents_started ON incidents (started_at);
CREATE INDEX incidents_status ON incidents (status);
-- One row per incident of another tool: a re-import updates it (NULLs are distinct: the server's own incidents never collide).
CREATE UNIQUE INDEX incidents_origin_external ON incidents (origin, external_id);
CREATE TABLE incident_events (
  incident_id bigint NOT NULL,
  seq integer NOT NULL,
  at bigint NOT NULL,
  kind text NOT NULL,
  message text NOT NULL,
  data json NOT NULL,
  count integer NOT NULL DEFAULT 1,
  PRIMARY KEY (incident_id, seq)
);
CREATE TABLE remediation_attempts (
  incident_id bigint NOT NULL,
  attempt integer NOT NULL,
  rule text NOT NULL,
  fingerprint text NOT NULL,
  status text NOT NULL,
  run_id text,
  created_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  detail text,
  owner text,
  PRIMARY KEY (incident_id, attempt)
);
CREATE INDEX attempts_fingerprint ON remediation_attempts (fingerprint, started_at);
CREATE INDEX attempts_rule ON remediation_attempts (rule, started_at);
CREATE INDEX attempts_status ON remediation_attempts (status);
CREATE TABLE rule_states (
  rule text PRIMARY KEY,
  consecutive_failures integer NOT NULL,
  disabled_at bigint,
  disabled_reason text
);
CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL
);
`;

const shadow = `
CREATE TABLE shadow_comparisons (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  at bigint NOT NULL,
  source text NOT NULL,
  run_id text,
  target text,
  legacy_exit integer,
  legacy_duration_ms double precision NOT NULL,
  legacy_error text,
  candidate_exit integer,
  candidate_duration_ms double precision NOT NULL,
  candidate_error text,
  candidate_failed boolean NOT NULL,
  equal boolean NOT NULL,
  differs text NOT NULL,
  diff text NOT NULL
);
CREATE INDEX shadow_comparisons_name ON shadow_comparisons (name, id);
CREATE TABLE shadow_state (
  name text PRIMARY KEY,
  fallen_back_at bigint,
  reason text,
  reset_at bigint,
  window_start bigint NOT NULL DEFAULT 0
);
`;

const cluster = `
CREATE TABLE replicas (
  id text PRIMARY KEY,
  name text NOT NULL,
  host text NOT NULL,
  pid integer NOT NULL,
  url text,
  started_at bigint NOT NULL,
  seen_at bigint NOT NULL
);
CREATE TABLE leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE TABLE schedule_fires (
  schedule text NOT NULL,
  at bigint NOT NULL,
  fired_at bigint NOT NULL,
  replica text NOT NULL,
  status text NOT NULL,
  run_id text,
  finished_at bigint,
  detail text,
  PRIMARY KEY (schedule, at)
);
CREATE INDEX schedule_fires_running ON schedule_fires (at) WHERE status = 'running';
`;

/** Every migration, in order; the last one's version is the schema this build writes. */
export const migrations: readonly Migration[] = [
  { version: 1, name: "runs, incidents, history, shadow comparisons, replicas, leases and schedule fires", sql: runs + incidents + shadow + cluster },
  {
    version: 2,
    name: "runs still running, by owner: what a replica reads at its start and when it takes over a dead one's runs",
    sql: "CREATE INDEX runs_running ON runs (owner_host, owner_pid) WHERE status = 'running';",
  },
  {
    version: 3,
    name: "each run's and each incident's W3C trace id: a trace in a collector leads back to them",
    sql: "ALTER TABLE runs ADD COLUMN trace_id text; ALTER TABLE incidents ADD COLUMN trace_id text;",
  },
  {
    version: 4,
    name: "the history's filters, each in the order of its pages: incidents by status and by rule newest first, attempts by run, runs by start, workflow, status and target, fires by run",
    sql: `
CREATE INDEX incidents_status_id ON incidents (status, id);
DROP INDEX incidents_status;
CREATE INDEX incidents_rule_id ON incidents (rule, id);
CREATE INDEX attempts_run ON remediation_attempts (run_id);
CREATE INDEX run_targets_target ON run_targets (target, run_id);
CREATE INDEX runs_started_id ON runs (started_at COLLATE "C", id COLLATE "C");
CREATE INDEX runs_name ON runs (name, started_at COLLATE "C", id COLLATE "C");
CREATE INDEX runs_status ON runs (status, started_at COLLATE "C", id COLLATE "C");
CREATE INDEX schedule_fires_run ON schedule_fires (run_id);
`,
  },
  {
    version: 5,
    name: "silences: label matchers and a time window during which matching alerts' incidents run no remediation",
    sql: `
CREATE TABLE silences (
  id text PRIMARY KEY,
  matchers json NOT NULL,
  starts_at bigint NOT NULL,
  ends_at bigint NOT NULL,
  created_by text NOT NULL,
  comment text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  expired_by text
);
CREATE INDEX silences_ends ON silences (ends_at);
`,
  },
];

export const SCHEMA_VERSION = migrations.at(-1)!.version;

/** Advisory lock keys (two int4: opskit's namespace, then what is locked). The journal's transactions take JOURNAL; opens that migrate take SCHEMA. */
export const LOCK_NAMESPACE = 0x6f70736b; // "opsk"
export const LOCK_JOURNAL = 1;
export const LOCK_SCHEMA = 2;

/** The newest version the database has: 0 for an empty one (then the table that records them is made). */
async function appliedVersion(client: PoolClient): Promise<number> {
  // Looked up first: CREATE TABLE IF NOT EXISTS needs the right to create even when the table is there.
  const { rows: found } = await client.query<{ present: boolean }>("SELECT to_regclass('opskit_schema') IS NOT NULL AS present");
  if (!found[0]?.present) {
    await client.query("CREATE TABLE opskit_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)");
    return 0;
  }
  const { rows } = await client.query<{ version: number | null }>("SELECT max(version) AS version FROM opskit_schema");
  return rows[0]?.version ?? 0;
}

/**
 * Brings the database up to `target` (SCHEMA_VERSION unless a test asks for
 * an older one) in one transaction holding the schema lock: two replicas
 * starting at once do not both migrate; the second finds the work done. A
 * database at a version this build does not know (a newer opskit migrated
 * it) is refused, naming both versions and the fix.
 */
export async function migrate(client: PoolClient, location: string, target = SCHEMA_VERSION): Promise<{ from: number; to: number }> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1::int4, $2::int4)", [LOCK_NAMESPACE, LOCK_SCHEMA]);
    const from = await appliedVersion(client);
    if (from > SCHEMA_VERSION || from > target) {
      throw new OpsError({
        code: "E_JOURNAL_SCHEMA_NEWER",
        message: `the journal at ${location} has schema version ${from}, newer than this opskit knows (${Math.min(target, SCHEMA_VERSION)}): a newer opskit has migrated it`,
        hint: "upgrade opskit on this host to the version the other servers run; an older opskit cannot write a newer journal safely",
        exitCode: ExitCode.config,
      });
    }
    for (const migration of migrations) {
      if (migration.version <= from || migration.version > target) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO opskit_schema (version, name, applied_at) VALUES ($1, $2, $3)", [migration.version, migration.name, Date.now()]);
    }
    await client.query("COMMIT");
    return { from, to: Math.max(from, Math.min(target, SCHEMA_VERSION)) };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
