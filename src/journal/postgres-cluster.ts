import { BINARY, type Row, type StoreOn } from "./postgres-sql.ts";
import type { ClusterStore, LeaseRecord, ReplicaRecord } from "./types.ts";

const replicaFields = `id, name, host, pid, url, started_at AS "startedAt", seen_at AS "seenAt"`;
const leaseFields = `name, holder, epoch, expires_at AS "expiresAt"`;

function toReplica(row: Row): ReplicaRecord {
  const { url, ...rest } = row as unknown as ReplicaRecord & { url: string | null };
  return url === null ? rest : { ...rest, url };
}

// Granted when nobody has the row, when it expired, or to its holder while it lasts (a renewal, the same
// epoch); any other grant starts a new term, one epoch more. The WHERE refuses a live lease of another
// holder: no row comes back. Of replicas racing, the others wait for the winner's row and find it taken.
const takeLease = `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, $4)
  ON CONFLICT (name) DO UPDATE SET
    epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $3 THEN leases.epoch ELSE leases.epoch + 1 END,
    holder = excluded.holder, expires_at = excluded.expires_at
  WHERE leases.holder = excluded.holder OR leases.expires_at <= $3
  RETURNING ${leaseFields}`;

/** Replicas' heartbeats and leases on PostgreSQL: each lease is taken by one statement, so two replicas never both hold it. */
export const postgresClusterStore: StoreOn<ClusterStore> = {
  async heartbeat(sql, replica, now) {
    await sql.changed(
      `INSERT INTO replicas (id, name, host, pid, url, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, host = excluded.host, pid = excluded.pid, url = excluded.url,
          started_at = excluded.started_at, seen_at = excluded.seen_at`,
      [replica.id, replica.name, replica.host, replica.pid, replica.url ?? null, replica.startedAt, now],
    );
  },
  async replicas(sql) {
    return (await sql.rows(`SELECT ${replicaFields} FROM replicas ORDER BY started_at, id ${BINARY}`)).map(toReplica);
  },
  async removeReplica(sql, id) {
    await sql.changed("DELETE FROM replicas WHERE id = $1", [id]);
  },
  async acquireLease(sql, name, holder, now, ttlMs) {
    const [taken] = await sql.rows<LeaseRecord>(takeLease, [name, holder, now, now + ttlMs]);
    if (taken) return taken;
    // Refused: the lease as it stands (a statement of its own, so it sees the holder that refused this one).
    const [held] = await sql.rows<LeaseRecord>(`SELECT ${leaseFields} FROM leases WHERE name = $1`, [name]);
    return held!;
  },
  async releaseLease(sql, name, holder) {
    await sql.changed("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2", [name, holder]);
  },
  // FOR SHARE: read inside a transaction (the leader's fence), the row stays locked
  // until that transaction ends, so another replica's takeover (an UPDATE of
  // the row) waits for the fenced work to commit instead of slipping in between.
  async getLease(sql, name) {
    const [row] = await sql.rows<LeaseRecord>(`SELECT ${leaseFields} FROM leases WHERE name = $1 FOR SHARE`, [name]);
    return row;
  },
  // starts_with, not LIKE: a prefix with % or _ in it means those characters.
  async leases(sql, prefix = "") {
    return sql.rows<LeaseRecord>(`SELECT ${leaseFields} FROM leases WHERE starts_with(name, $1) ORDER BY name ${BINARY}`, [prefix]);
  },
};
