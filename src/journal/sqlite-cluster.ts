import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import type { ClusterStore, LeaseRecord, ReplicaRecord } from "./types.ts";

/**
 * Replicas and leases. Several processes may share one SQLite file (the CLI
 * beside a server, two servers on one host): a lease is taken by one
 * statement under the file's write lock, so two never both win.
 */
const clusterSchema = `
CREATE TABLE IF NOT EXISTS replicas (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  url TEXT,
  started_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

/** Creates the replica and lease tables; a journal written before them gains them in place. */
export function migrateCluster(db: Database): void {
  db.exec(clusterSchema);
}

const replicaFields = "id, name, host, pid, url, started_at AS startedAt, seen_at AS seenAt";
const leaseFields = "name, holder, epoch, expires_at AS expiresAt";

function toReplica(row: ReplicaRecord & { url: string | null }): ReplicaRecord {
  const { url, ...rest } = row;
  return url === null ? rest : { ...rest, url };
}

/** The cluster's primitives on SQLite (cluster-types.ts says what each promises). */
export function sqliteClusterStore(db: Database): Synchronous<ClusterStore> {
  const upsertReplica = db.prepare(`INSERT INTO replicas (id, name, host, pid, url, started_at, seen_at) VALUES ($id, $name, $host, $pid, $url, $startedAt, $seenAt)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, host = excluded.host, pid = excluded.pid, url = excluded.url, started_at = excluded.started_at, seen_at = excluded.seen_at`);
  const selectReplicas = db.prepare<ReplicaRecord & { url: string | null }, []>(`SELECT ${replicaFields} FROM replicas ORDER BY started_at, id`);
  const deleteReplica = db.prepare("DELETE FROM replicas WHERE id = $id");

  // Granted when nobody has the row, when it expired, or to its holder while it lasts (a renewal, the
  // same epoch); any other grant (a new holder, or the old one coming back after expiry or release)
  // starts a new term, one epoch more. The WHERE refuses a live lease of another holder: no row changes.
  const takeLease = db.prepare<LeaseRecord, { name: string; holder: string; now: number; expiresAt: number }>(`INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($name, $holder, 1, $expiresAt)
    ON CONFLICT (name) DO UPDATE SET
      epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $now THEN leases.epoch ELSE leases.epoch + 1 END,
      holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at <= $now
    RETURNING ${leaseFields}`);
  const selectLease = db.prepare<LeaseRecord, { name: string }>(`SELECT ${leaseFields} FROM leases WHERE name = $name`);
  const acquire = db.transaction((values: { name: string; holder: string; now: number; expiresAt: number }): LeaseRecord => takeLease.get(values) ?? selectLease.get(values)!);
  const giveUp = db.prepare("UPDATE leases SET expires_at = 0 WHERE name = $name AND holder = $holder");
  // substr, not LIKE: a prefix with % or _ in it means those characters.
  const selectLeases = db.prepare<LeaseRecord, { prefix: string }>(`SELECT ${leaseFields} FROM leases WHERE substr(name, 1, length($prefix)) = $prefix ORDER BY name`);

  return {
    heartbeat(replica, now) {
      upsertReplica.run({ id: replica.id, name: replica.name, host: replica.host, pid: replica.pid, url: replica.url ?? null, startedAt: replica.startedAt, seenAt: now });
    },
    replicas() {
      return selectReplicas.all().map(toReplica);
    },
    removeReplica(id) {
      deleteReplica.run({ id });
    },
    acquireLease(name, holder, now, ttlMs) {
      // The read of a refused lease joins the write lock, so what comes back is the lease that refused.
      return acquire.immediate({ name, holder, now, expiresAt: now + ttlMs });
    },
    releaseLease(name, holder) {
      giveUp.run({ name, holder });
    },
    getLease(name) {
      return selectLease.get({ name }) ?? undefined;
    },
    leases(prefix = "") {
      return selectLeases.all({ prefix });
    },
  };
}
