import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { ExitCode, OpsError } from "../errors.ts";
import type { ClusterStore, LeaseRecord, ReplicaRecord } from "../journal/index.ts";
import { rendezvousOwner } from "./rendezvous.ts";

/** The lease the leader holds; sweeps and timers run only under it. */
export const LEADER_LEASE = "leader";
/** The lease of one check: its owner runs it. */
export const checkLease = (check: string): string => `check:${check}`;

export interface ClusterOptions {
  journal: ClusterStore;
  /** The operator's name for this replica (`--replica`, default host:port). */
  name: string;
  /** Where it serves (`--advertise-url`), for `GET /api/v1/cluster`. */
  url?: string;
  /** The checks to share out: each has one owner at a time. */
  checks?: readonly string[];
  heartbeatMs?: number;
  /** How long a heartbeat or a lease lasts: a replica silent for longer is dead to the others. */
  ttlMs?: number;
  /** The clock (epoch ms); tests move it. */
  now?: () => number;
  host?: string;
  pid?: number;
  /** Whether a pid on this host is a running process (previous incarnations); tests replace it. */
  pidAlive?: (pid: number) => boolean;
}

/** This replica's view of the cluster, as of its last heartbeat. */
export interface Cluster {
  /** Unique per process start: what leases and attempts name as their holder. */
  readonly id: string;
  readonly name: string;
  readonly url: string | undefined;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly ttlMs: number;
  /** Holds the leader lease, unexpired by this replica's clock. */
  readonly isLeader: boolean;
  /** The leader lease's epoch while this replica is leader. */
  readonly epoch: number | undefined;
  /**
   * Heartbeats without a miss for a ttl: every replica that is live has been
   * heard since, so one that is silent is dead, not merely unheard by a
   * replica that was itself cut off (after a journal outage every replica's
   * heartbeat is old; none may be taken for dead until they had a ttl to beat).
   */
  readonly steady: boolean;
  /**
   * Its own heartbeat went through within the ttl less a margin, so the
   * others still count it live. A replica that is not (cut off from the
   * journal, paused) must stop the work it runs: after the ttl the leader
   * takes that work over, and both would run it.
   */
  readonly connected: boolean;
  /** The leader as of the last heartbeat (this replica or another), if any holds the lease. */
  leader(): { id: string; epoch: number } | undefined;
  /** Replicas whose last heartbeat is within ttl, this one included, oldest start first. */
  live(): ReplicaRecord[];
  /** The live replicas as `store` has them now (inside a transaction: as that transaction sees them). */
  liveIn(store: Pick<ClusterStore, "replicas">): Promise<ReplicaRecord[]>;
  /** Whether this replica holds the check's lease, unexpired by its clock. */
  owns(check: string): boolean;
  ownedChecks(): string[];
  /** Called after a heartbeat or an expiry changes leadership, ownership or the live set. */
  onChange(listener: () => void): () => void;
  /**
   * Inside a journal transaction: re-reads the leader lease and throws
   * E_FENCED unless this replica holds it, with its epoch, unexpired. A
   * paused leader whose lease another took cannot commit what it decided.
   */
  fence(tx: Pick<ClusterStore, "getLease">): Promise<void>;
  /** Sets the address shown to others (the server's, once it listens), and records it with a heartbeat. */
  advertise(address: { name?: string; url?: string }): void;
  /** One heartbeat now: replicas, the leader lease, the check leases. */
  beat(): Promise<void>;
  /** Stops the heartbeats, gives up the leases and forgets this replica. */
  stop(): Promise<void>;
}

export function fencedError(why: string): OpsError {
  return new OpsError({
    code: "E_FENCED",
    message: `not the leader any more: ${why}`,
    hint: "another replica took the leader lease (this one was paused or cut off from the journal for longer than the lease); the new leader does this work",
    exitCode: ExitCode.internal,
  });
}

function defaultPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Joins the cluster of replicas sharing `journal`: one heartbeat (awaited:
 * the replica knows who is live before it recovers anything), then one every
 * heartbeatMs. Each heartbeat records this replica, takes or renews the
 * leader lease, and takes, renews or gives up check leases so that each check
 * is held by its rendezvous owner among the live replicas. A replica that
 * cannot renew (the journal unreachable) stops acting as leader and owner
 * when its leases run out by its own clock, without waiting to hear so.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const cluster = new LeasedCluster(options);
  await cluster.beat();
  cluster.run();
  return cluster;
}

class LeasedCluster implements Cluster {
  readonly id: string;
  name: string;
  url: string | undefined;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #journal: ClusterStore;
  readonly #checks: readonly string[];
  readonly #now: () => number;
  readonly #pidAlive: (pid: number) => boolean;
  readonly #listeners = new Set<() => void>();
  /** Leases this replica holds, with the time (own clock) until which it may act under each. */
  #leader: { epoch: number; until: number } | undefined;
  readonly #owned = new Map<string, number>();
  #leaderSeen: LeaseRecord | undefined;
  #live: ReplicaRecord[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<void> | undefined;
  #first = true;
  #stopped = false;
  /** When the last heartbeat that went through started, and since when they have gone through without a miss. */
  #lastBeat = 0;
  #steadySince = 0;
  /** What listeners last heard, to call them only on a change. */
  #shown = "";

  constructor(options: ClusterOptions) {
    this.name = options.name;
    this.url = options.url;
    this.host = options.host ?? hostname();
    this.pid = options.pid ?? process.pid;
    this.#journal = options.journal;
    this.#checks = [...new Set(options.checks ?? [])];
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 5000;
    if (!(this.#heartbeatMs > 0) || !(this.ttlMs > this.#heartbeatMs)) throw new RangeError(`cluster: ttlMs (${this.ttlMs}) must be longer than heartbeatMs (${this.#heartbeatMs})`);
    this.#now = options.now ?? Date.now;
    this.#pidAlive = options.pidAlive ?? defaultPidAlive;
    this.startedAt = this.#now();
    this.id = `${options.name}-${randomBytes(4).toString("hex")}`;
  }

  /**
   * How long before a lease's end (own clock) this replica stops acting under
   * it: a heartbeat's worth, at most a fifth of the ttl, for clocks that
   * disagree a little and for the time a commit takes.
   */
  get #margin(): number {
    return Math.min(this.#heartbeatMs, this.ttlMs / 5);
  }

  get isLeader(): boolean {
    return this.#leader !== undefined && this.#leader.until > this.#now();
  }

  get epoch(): number | undefined {
    return this.isLeader ? this.#leader!.epoch : undefined;
  }

  /** Two margins short of the ttl: the check runs once a heartbeat, and the leader must not act first. */
  get connected(): boolean {
    return this.#lastBeat > this.#now() - (this.ttlMs - 2 * this.#margin);
  }

  get steady(): boolean {
    const now = this.#now();
    return this.#lastBeat > now - this.ttlMs && now - this.#steadySince >= this.ttlMs;
  }

  leader(): { id: string; epoch: number } | undefined {
    const lease = this.#leaderSeen;
    if (!lease || lease.expiresAt <= this.#now()) return undefined;
    if (lease.holder === this.id && !this.isLeader) return undefined;
    return { id: lease.holder, epoch: lease.epoch };
  }

  live(): ReplicaRecord[] {
    return [...this.#live];
  }

  async liveIn(store: Pick<ClusterStore, "replicas">): Promise<ReplicaRecord[]> {
    return this.#liveOf(await store.replicas(), this.#now());
  }

  #liveOf(replicas: readonly ReplicaRecord[], now: number): ReplicaRecord[] {
    return replicas.filter((r) => r.id === this.id || r.seenAt > now - this.ttlMs);
  }

  owns(check: string): boolean {
    return (this.#owned.get(check) ?? 0) > this.#now();
  }

  ownedChecks(): string[] {
    return this.#checks.filter((check) => this.owns(check));
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async fence(tx: Pick<ClusterStore, "getLease">): Promise<void> {
    const lease = await tx.getLease(LEADER_LEASE);
    const now = this.#now();
    const mine = this.#leader;
    if (!mine || mine.until <= now) throw fencedError(`this replica's leader lease ran out (replica ${this.name})`);
    if (!lease || lease.holder !== this.id) throw fencedError(`the leader lease is held by ${lease?.holder ?? "nobody"}, not ${this.id}`);
    if (lease.epoch !== mine.epoch) throw fencedError(`the leader lease is at epoch ${lease.epoch}, this replica led at epoch ${mine.epoch}`);
    if (lease.expiresAt <= now) throw fencedError("the leader lease expired");
  }

  advertise(address: { name?: string; url?: string }): void {
    if (address.name !== undefined) this.name = address.name;
    if (address.url !== undefined) this.url = address.url;
    // Recorded now rather than a heartbeat later (a heartbeat under way records it at the next).
    if (this.#timer) void this.beat().catch(() => undefined);
  }

  run(): void {
    this.#timer = setInterval(() => {
      // A heartbeat still under way (a journal that hangs) is not doubled; what
      // ran out meanwhile is noticed here all the same.
      if (!this.#beating) void this.beat().catch(() => undefined);
      this.#notify();
    }, this.#heartbeatMs);
    this.#timer.unref?.();
  }

  beat(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
      this.#notify();
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const journal = this.#journal;
    const started = this.#now();
    await journal.heartbeat({ id: this.id, name: this.name, host: this.host, pid: this.pid, ...(this.url ? { url: this.url } : {}), startedAt: this.startedAt }, started);
    // A heartbeat missed (or the first): steady again only a ttl from now.
    if (started - this.#lastBeat > 1.5 * this.#heartbeatMs) this.#steadySince = started;
    this.#lastBeat = started;
    let replicas = await journal.replicas();
    if (this.#first) {
      this.#first = false;
      if (await this.#forgetPreviousIncarnations(replicas)) replicas = await journal.replicas();
    }
    const now = this.#now();
    this.#live = this.#liveOf(replicas, now);
    const leaderAt = this.#now();
    const lease = await journal.acquireLease(LEADER_LEASE, this.id, leaderAt, this.ttlMs);
    this.#leaderSeen = lease;
    this.#leader = lease.holder === this.id ? { epoch: lease.epoch, until: leaderAt + this.ttlMs - this.#margin } : undefined;
    const ids = this.#live.map((r) => r.id);
    for (const check of this.#checks) {
      if (this.#stopped) return;
      if (rendezvousOwner(check, ids) === this.id) {
        const at = this.#now();
        // Renewed when half its time is gone, not every heartbeat: a write per check every few seconds.
        if ((this.#owned.get(check) ?? 0) - at > this.ttlMs / 2) continue;
        const held = await journal.acquireLease(checkLease(check), this.id, at, this.ttlMs);
        if (held.holder === this.id) this.#owned.set(check, at + this.ttlMs - this.#margin);
        else this.#owned.delete(check);
      } else if (this.#owned.has(check)) {
        // Stop acting first, then let go: the new owner takes it at its next heartbeat.
        this.#owned.delete(check);
        this.#notify();
        await journal.releaseLease(checkLease(check), this.id);
      }
    }
  }

  /**
   * A replica that died on this host (SIGKILL, a crash) and was started again
   * left its row and leases behind; they would hold the leader and its checks
   * for a ttl after the restart. A row of this host whose process is gone (or
   * whose pid is ours: a container's pid 1) and whose heartbeat stays still
   * for two heartbeats is such a leftover: its leases are given up and its row
   * removed, so its attempts count as a dead replica's at once.
   */
  async #forgetPreviousIncarnations(replicas: readonly ReplicaRecord[]): Promise<boolean> {
    const suspects = replicas.filter((r) => r.id !== this.id && r.host === this.host && (r.pid === this.pid || !this.#pidAlive(r.pid)));
    if (suspects.length === 0) return false;
    const now = this.#now();
    let dead = suspects;
    if (suspects.some((r) => r.seenAt > now - 2 * this.#heartbeatMs)) {
      // Same host, but perhaps another container whose pids we cannot see: a live one heartbeats meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 2 * this.#heartbeatMs + 50));
      const again = new Map((await this.#journal.replicas()).map((r) => [r.id, r.seenAt]));
      dead = suspects.filter((r) => again.get(r.id) === r.seenAt);
    }
    if (dead.length === 0) return false;
    const leases = await this.#journal.leases();
    for (const replica of dead) {
      for (const lease of leases) if (lease.holder === replica.id) await this.#journal.releaseLease(lease.name, replica.id);
      await this.#journal.removeReplica(replica.id);
    }
    return true;
  }

  #notify(): void {
    const shown = `${this.connected}|${this.isLeader}|${this.epoch}|${this.ownedChecks().join(",")}|${this.#live.map((r) => r.id).join(",")}`;
    if (shown === this.#shown) return;
    this.#shown = shown;
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the others still hear.
      }
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating?.catch(() => undefined);
    const held = [...(this.#leader ? [LEADER_LEASE] : []), ...[...this.#owned.keys()].map(checkLease)];
    this.#leader = undefined;
    this.#owned.clear();
    this.#notify();
    for (const lease of held) await this.#journal.releaseLease(lease, this.id);
    await this.#journal.removeReplica(this.id);
  }
}
