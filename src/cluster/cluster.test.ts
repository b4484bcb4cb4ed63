import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { openJournal, type Journal } from "../journal/index.ts";
import type { ClusterStore } from "../journal/index.ts";
import { checkLease, LEADER_LEASE, rendezvousOwner, startCluster, type Cluster, type ClusterOptions } from "./index.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-cluster-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function journal(): Promise<Journal> {
  const opened = await openJournal(join(mkdtempSync(join(root, "j-")), "journal.db"));
  cleanups.push(() => opened.close());
  return opened;
}

/** A clock a test moves by hand. */
function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

let pids = 50_000;
/** Joins with a pid of its own (clusters in one test process would otherwise look like one process's incarnations). */
async function join_(options: ClusterOptions): Promise<Cluster> {
  const cluster = await startCluster({ heartbeatMs: 60_000, ttlMs: 300_000, pid: pids++, pidAlive: () => true, ...options });
  cleanups.push(() => cluster.stop());
  return cluster;
}

const checks = Array.from({ length: 30 }, (_, i) => `check-${i}`);

describe("rendezvous hashing", () => {
  test("a replica that joins takes only checks it now wins, and one that leaves gives up only its own", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 2, maxLength: 8 }), fc.string({ minLength: 1 }), (ids, joiner) => {
        fc.pre(!ids.includes(joiner));
        for (const key of checks) {
          const before = rendezvousOwner(key, ids)!;
          const after = rendezvousOwner(key, [...ids, joiner])!;
          // Either it stays, or it goes to the newcomer.
          expect(after === before || after === joiner).toBe(true);
          const without = rendezvousOwner(key, ids.filter((id) => id !== ids[0]))!;
          expect(before === ids[0] || without === before).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  test("every replica computes the same owner whatever order it lists the replicas in", () => {
    const ids = ["a-1", "b-2", "c-3", "d-4"];
    for (const key of checks) expect(rendezvousOwner(key, [...ids].reverse())).toBe(rendezvousOwner(key, ids)!);
  });

  test("checks spread over the replicas", () => {
    const ids = ["r1-aa", "r2-bb", "r3-cc"];
    const many = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const counts = new Map(ids.map((id) => [id, many.filter((key) => rendezvousOwner(key, ids) === id).length]));
    for (const count of counts.values()) expect(count).toBeGreaterThan(60);
  });
});

describe("replicas on one journal", () => {
  test("one leader; each check has exactly one owner; a replica that stops hands its checks over at the next heartbeat", async () => {
    const store = await journal();
    const replicas = [await join_({ journal: store, name: "r1", checks }), await join_({ journal: store, name: "r2", checks }), await join_({ journal: store, name: "r3", checks })];
    // Each learned of the later ones only at its next heartbeat.
    for (const replica of replicas) await replica.beat();
    for (const replica of replicas) await replica.beat();
    expect(replicas.filter((r) => r.isLeader)).toHaveLength(1);
    expect(replicas.map((r) => r.live().length)).toEqual([3, 3, 3]);
    const owners = () => checks.map((check) => replicas.filter((r) => r.owns(check)).map((r) => r.name));
    expect(owners().every((o) => o.length === 1)).toBe(true);
    // Each owner is the rendezvous owner, and the journal's leases say the same.
    const ids = replicas.map((r) => r.id);
    for (const check of checks) {
      const owner = replicas.find((r) => r.owns(check))!;
      expect(owner.id).toBe(rendezvousOwner(check, ids)!);
      expect((await store.getLease(checkLease(check)))?.holder).toBe(owner.id);
    }
    const leader = replicas.find((r) => r.isLeader)!;
    const gone = replicas.find((r) => !r.isLeader)!;
    const kept = new Map(checks.map((check) => [check, replicas.find((r) => r.owns(check))!.name]));
    await gone.stop();
    const rest = replicas.filter((r) => r !== gone);
    for (const replica of rest) await replica.beat();
    expect(rest.map((r) => r.live().length)).toEqual([2, 2]);
    for (const check of checks) {
      const now = rest.filter((r) => r.owns(check)).map((r) => r.name);
      expect(now).toHaveLength(1);
      // Only the stopped replica's checks moved.
      if (kept.get(check) !== gone.name) expect(now[0]).toBe(kept.get(check)!);
    }
    expect(leader.isLeader).toBe(true);
  });

  test("a replica that joins takes its share at the heartbeat after its owner gives it up; nothing is owned twice meanwhile", async () => {
    const store = await journal();
    const first = await join_({ journal: store, name: "r1", checks });
    expect(first.ownedChecks()).toEqual(checks);
    const second = await join_({ journal: store, name: "r2", checks });
    const twice = () => checks.filter((c) => first.owns(c) && second.owns(c));
    // The newcomer wants its share but r1 still holds the leases.
    expect(second.ownedChecks()).toEqual([]);
    await first.beat();
    expect(twice()).toEqual([]);
    await second.beat();
    expect(twice()).toEqual([]);
    const share = checks.filter((c) => rendezvousOwner(c, [first.id, second.id]) === second.id);
    expect(share.length).toBeGreaterThan(0);
    expect(second.ownedChecks()).toEqual(share);
    expect(first.ownedChecks()).toEqual(checks.filter((c) => !share.includes(c)));
  });

  test("a dead replica's leases are taken once they expire: its checks and the leadership move to the live one", async () => {
    const store = await journal();
    const time = clock();
    const dead = await join_({ journal: store, name: "dead", checks, now: time.now, heartbeatMs: 1000, ttlMs: 5000 });
    const live = await join_({ journal: store, name: "live", checks, now: time.now, heartbeatMs: 1000, ttlMs: 5000 });
    await dead.beat();
    await live.beat();
    expect(dead.isLeader).toBe(true);
    expect(live.isLeader).toBe(false);
    // `dead` beats no more. Within the ttl nothing moves.
    time.advance(3000);
    await live.beat();
    expect(live.isLeader).toBe(false);
    expect(live.live().map((r) => r.name).sort()).toEqual(["dead", "live"]);
    time.advance(2500);
    await live.beat();
    expect(live.live().map((r) => r.name)).toEqual(["live"]);
    expect(live.isLeader).toBe(true);
    expect(live.epoch).toBe(2);
    expect(live.ownedChecks()).toEqual(checks);
    // By its own clock the silent replica stopped acting too.
    expect(dead.isLeader).toBe(false);
    expect(dead.ownedChecks()).toEqual([]);
  });
});

describe("fencing", () => {
  test("a leader whose lease another took cannot commit a sweep: its transaction fails with E_FENCED and writes nothing", async () => {
    const store = await journal();
    const slow = clock();
    const fast = clock();
    const old = await join_({ journal: store, name: "old", now: slow.now, heartbeatMs: 1000, ttlMs: 5000 });
    expect(old.isLeader).toBe(true);
    expect(old.epoch).toBe(1);
    // The other replica's clock is past the lease's end (the old leader was paused that long).
    fast.advance(6000);
    const next = await join_({ journal: store, name: "next", now: fast.now, heartbeatMs: 1000, ttlMs: 5000 });
    expect(next.isLeader).toBe(true);
    expect(next.epoch).toBe(2);
    // By its own clock, the old leader is still within its lease.
    expect(old.isLeader).toBe(true);
    const sweep = (cluster: Cluster, value: string) =>
      store.transaction(async (tx) => {
        await cluster.fence(tx);
        await tx.putSetting("swept-by", value);
      });
    const refused = await sweep(old, "old").catch((error: unknown) => error);
    expect((refused as { code?: string }).code).toBe("E_FENCED");
    expect(await store.getSetting("swept-by")).toBeUndefined();
    await sweep(next, "next");
    expect(await store.getSetting("swept-by")).toBe("next");
    // At its next heartbeat the old leader learns it and stops believing it leads.
    await old.beat();
    expect(old.isLeader).toBe(false);
  });

  test("a leader whose own lease ran out is fenced even when nobody took it", async () => {
    const store = await journal();
    const time = clock();
    const leader = await join_({ journal: store, name: "alone", now: time.now, heartbeatMs: 1000, ttlMs: 5000 });
    await store.transaction((tx) => leader.fence(tx));
    time.advance(5000);
    expect(leader.isLeader).toBe(false);
    const refused = await store.transaction((tx) => leader.fence(tx)).catch((error: unknown) => error);
    expect((refused as { code?: string }).code).toBe("E_FENCED");
    // Renewed after the lapse: a new term, a new epoch.
    await leader.beat();
    expect(leader.isLeader).toBe(true);
    expect(leader.epoch).toBe(2);
  });
});

describe("a journal that stops answering", () => {
  test("the replica keeps trying, stops acting as leader and owner when its leases run out by its clock, and recovers when the journal returns", async () => {
    const store = await journal();
    const time = clock();
    let down = false;
    const flaky = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error("connection refused")) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as ClusterStore;
    const cluster = await join_({ journal: flaky, name: "r1", checks: ["a", "b"], now: time.now, heartbeatMs: 1000, ttlMs: 5000 });
    let changes = 0;
    cluster.onChange(() => changes++);
    expect(cluster.isLeader).toBe(true);
    expect(cluster.ownedChecks()).toEqual(["a", "b"]);
    down = true;
    for (let i = 0; i < 3; i++) {
      time.advance(1000);
      await cluster.beat().catch(() => undefined);
    }
    expect(cluster.isLeader).toBe(true);
    time.advance(2000);
    await cluster.beat().catch(() => undefined);
    expect(cluster.isLeader).toBe(false);
    expect(cluster.ownedChecks()).toEqual([]);
    expect(changes).toBeGreaterThan(0);
    down = false;
    await cluster.beat();
    expect(cluster.isLeader).toBe(true);
    expect(cluster.ownedChecks()).toEqual(["a", "b"]);
    // Back, but not steady: the others' heartbeats are as old as its own; none is taken for dead until a ttl of beats has passed.
    expect(cluster.steady).toBe(false);
    for (let i = 0; i < 5; i++) {
      time.advance(1000);
      await cluster.beat();
    }
    expect(cluster.steady).toBe(true);
  });
});

describe("a replica started again on the same host", () => {
  test("forgets the row and leases its dead predecessor left, so it leads at once", async () => {
    const store = await journal();
    const time = clock();
    // The predecessor: pid 4242 on this host, killed without a goodbye a minute ago.
    await store.heartbeat({ id: "r1-dead", name: "r1", host: "h1", pid: 4242, startedAt: time.now() - 120_000 }, time.now() - 60_000);
    await store.acquireLease(LEADER_LEASE, "r1-dead", time.now() - 60_000, 3_600_000);
    await store.acquireLease(checkLease("a"), "r1-dead", time.now() - 60_000, 3_600_000);
    // A live replica on another host is left alone.
    await store.heartbeat({ id: "r2-live", name: "r2", host: "h2", pid: 4242, startedAt: time.now() }, time.now());
    const cluster = await join_({ journal: store, name: "r1", checks: ["a"], host: "h1", pid: 777, now: time.now, heartbeatMs: 1000, ttlMs: 5000, pidAlive: (pid) => pid !== 4242 });
    expect(cluster.isLeader).toBe(true);
    expect((await store.replicas()).map((r) => r.id).sort()).toEqual([cluster.id, "r2-live"].sort());
    await cluster.beat();
    expect(cluster.owns("a")).toBe(rendezvousOwner("a", [cluster.id, "r2-live"]) === cluster.id);
  });

  test("a row of this host whose pid looks dead but which still heartbeats is kept", async () => {
    const store = await journal();
    const other = await join_({ journal: store, name: "other", host: "h1", pid: 4242, heartbeatMs: 100, ttlMs: 2000 });
    // Another container with the same host name: its pid is not ours to see, but it beats.
    const beating = setInterval(() => void other.beat(), 50);
    cleanups.push(async () => clearInterval(beating));
    const cluster = await join_({ journal: store, name: "me", host: "h1", pid: 777, heartbeatMs: 100, ttlMs: 2000, pidAlive: () => false });
    expect((await store.replicas()).map((r) => r.name).sort()).toEqual(["me", "other"]);
    expect(cluster.isLeader).toBe(false);
  });
});
