// What several `opskit serve` replicas sharing one journal agree through it:
// who is alive, and who holds which lease (the leader's, each check's). The
// rules (who should own what, when to take over) live in cluster/; these are
// the primitives, atomic in the database, so two replicas never both win.

/** One live `opskit serve` process, as its last heartbeat recorded it. */
export interface ReplicaRecord {
  /** Unique per process start (a restarted replica has a new id): what leases and attempts name as their holder. */
  id: string;
  /** The stable name the operator gave (`--replica`, default host:port); two processes may share it one after the other. */
  name: string;
  host: string;
  pid: number;
  /** Where it serves, for `GET /api/v1/cluster`. */
  url?: string;
  startedAt: number;
  /** Its last heartbeat, epoch ms (the replica's own clock). */
  seenAt: number;
}

/** A named lease ("leader", "check:NAME"): one holder until `expiresAt`, and an epoch that grows with every change of holder. */
export interface LeaseRecord {
  name: string;
  holder: string;
  /**
   * Fencing token: 1 for the first grant, one more on every grant but a
   * renewal (the holder extending a lease it still holds): a holder whose
   * lease expired or was released and who takes it again gets a new epoch,
   * so what it decided under the old one cannot pass the fence.
   */
  epoch: number;
  expiresAt: number;
}

export interface ClusterStore {
  /** Inserts or refreshes the replica's row (`seenAt` = now). */
  heartbeat(replica: Omit<ReplicaRecord, "seenAt">, now: number): Promise<void>;
  /** Every replica with a row, live or not, oldest start first. */
  replicas(): Promise<ReplicaRecord[]>;
  /** Forgets a replica (its clean stop, or the leader's sweep of one long dead). */
  removeReplica(id: string): Promise<void>;
  /**
   * Takes or renews the lease `name` for `holder` until now + ttlMs: granted
   * when nobody holds it, when it expired (expiresAt <= now), or when `holder`
   * holds it already and it has not expired (a renewal, same epoch). Every
   * other grant adds one to the epoch. Atomic: of replicas racing for
   * one lease, exactly one is granted. Resolves the lease as it stands after
   * the call; the caller holds it when `holder` is its own.
   */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<LeaseRecord>;
  /** Gives the lease up if `holder` holds it (expiresAt = 0, the epoch kept); otherwise does nothing. */
  releaseLease(name: string, holder: string): Promise<void>;
  /**
   * The lease as it stands, expired or not; undefined if never taken. Read
   * inside a transaction, the lease cannot change hands until that
   * transaction ends (a fence: what the holder writes after checking it
   * commits before anyone else takes the lease).
   */
  getLease(name: string): Promise<LeaseRecord | undefined>;
  /** Every lease whose name starts with `prefix` (all when absent), by name. */
  leases(prefix?: string): Promise<LeaseRecord[]>;
}
