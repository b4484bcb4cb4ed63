import { describe, expect, test } from "bun:test";
import type { CurrentJournal } from "./contract.ts";
import type { ReplicaRecord } from "./types.ts";

/** A moment to count from (epoch ms); leases are judged by the `now` each call passes, never by a clock. */
const t0 = 1764072000000;
const ttl = 10_000;

function replica(id: string, startedAt: number, overrides: Partial<ReplicaRecord> = {}): Omit<ReplicaRecord, "seenAt"> {
  return { id, name: `serve-${id}`, host: "node-1", pid: 4000, startedAt, ...overrides };
}

/** Replicas' heartbeats and the leases they hold (leader, checks). */
export function describeClusterContract(journal: CurrentJournal): void {
  describe("replicas", () => {
    test("a heartbeat inserts the replica, the next one refreshes its seenAt; replicas come back oldest start first", async () => {
      const j = journal();
      expect(await j.replicas()).toEqual([]);
      await j.heartbeat(replica("b", t0 + 5, { url: "http://127.0.0.1:9102" }), t0 + 10);
      await j.heartbeat(replica("a", t0), t0 + 20);
      expect(await j.replicas()).toEqual([
        { id: "a", name: "serve-a", host: "node-1", pid: 4000, startedAt: t0, seenAt: t0 + 20 },
        { id: "b", name: "serve-b", host: "node-1", pid: 4000, url: "http://127.0.0.1:9102", startedAt: t0 + 5, seenAt: t0 + 10 },
      ]);
      await j.heartbeat(replica("b", t0 + 5, { url: "http://127.0.0.1:9102" }), t0 + 3000);
      expect((await j.replicas()).map((r) => [r.id, r.seenAt])).toEqual([["a", t0 + 20], ["b", t0 + 3000]]);
    });

    test("a removed replica is forgotten; removing an unknown one does nothing", async () => {
      const j = journal();
      await j.heartbeat(replica("a", t0), t0);
      await j.heartbeat(replica("b", t0 + 1), t0 + 1);
      await j.removeReplica("a");
      await j.removeReplica("nobody");
      expect((await j.replicas()).map((r) => r.id)).toEqual(["b"]);
    });
  });

  describe("leases", () => {
    test("the first holder gets epoch 1 until now + ttl; an untaken lease is undefined", async () => {
      const j = journal();
      expect(await j.getLease("leader")).toBeUndefined();
      expect(await j.acquireLease("leader", "a", t0, ttl)).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl });
      expect(await j.getLease("leader")).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl });
    });

    test("the holder's renewal keeps the epoch and moves expiresAt on", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      expect(await j.acquireLease("leader", "a", t0 + 3000, ttl)).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + 3000 + ttl });
      expect(await j.acquireLease("leader", "a", t0 + ttl + 2999, ttl)).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl + 2999 + ttl });
      expect(await j.getLease("leader")).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl + 2999 + ttl });
    });

    test("another holder is refused while the lease lasts and gets the lease as it stands", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      expect(await j.acquireLease("leader", "b", t0 + 1, ttl)).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl });
      // One millisecond before the end it still lasts.
      expect(await j.acquireLease("leader", "b", t0 + ttl - 1, ttl)).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl });
      expect(await j.getLease("leader")).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl });
    });

    test("once expired (expiresAt <= now) another holder takes it with one epoch more, and the old holder is refused", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      expect(await j.acquireLease("leader", "b", t0 + ttl, ttl)).toEqual({ name: "leader", holder: "b", epoch: 2, expiresAt: t0 + 2 * ttl });
      expect(await j.acquireLease("leader", "a", t0 + ttl + 1, ttl)).toEqual({ name: "leader", holder: "b", epoch: 2, expiresAt: t0 + 2 * ttl });
      expect(await j.acquireLease("leader", "c", t0 + 5 * ttl, ttl)).toEqual({ name: "leader", holder: "c", epoch: 3, expiresAt: t0 + 6 * ttl });
    });

    test("a holder coming back after its own lease expired starts a new term: one epoch more", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      expect(await j.acquireLease("leader", "a", t0 + ttl, ttl)).toEqual({ name: "leader", holder: "a", epoch: 2, expiresAt: t0 + 2 * ttl });
    });

    test("a release ends the lease (expiresAt 0) and keeps the epoch; the next holder gets one more", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      await j.releaseLease("leader", "a");
      expect(await j.getLease("leader")).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: 0 });
      expect(await j.acquireLease("leader", "b", t0 + 1, ttl)).toEqual({ name: "leader", holder: "b", epoch: 2, expiresAt: t0 + 1 + ttl });
      await j.releaseLease("leader", "b");
      expect(await j.acquireLease("leader", "b", t0 + 2, ttl)).toEqual({ name: "leader", holder: "b", epoch: 3, expiresAt: t0 + 2 + ttl });
    });

    test("a release by another than the holder, or of a lease never taken, does nothing", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      await j.releaseLease("leader", "b");
      await j.releaseLease("check:disk", "a");
      expect(await j.getLease("leader")).toEqual({ name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl });
      expect(await j.getLease("check:disk")).toBeUndefined();
    });

    test("of many holders racing for one lease exactly one is granted, and every caller is told who", async () => {
      const j = journal();
      const holders = Array.from({ length: 24 }, (_, i) => `replica-${i}`);
      const results = await Promise.all(holders.map((holder) => j.acquireLease("leader", holder, t0, ttl)));
      const winners = holders.filter((holder, i) => results[i]!.holder === holder);
      expect(winners).toHaveLength(1);
      for (const result of results) expect(result).toEqual({ name: "leader", holder: winners[0]!, epoch: 1, expiresAt: t0 + ttl });

      // Racing again once it expired: one new holder, one epoch more.
      const again = await Promise.all(holders.map((holder) => j.acquireLease("leader", holder, t0 + ttl, ttl)));
      const second = holders.filter((holder, i) => again[i]!.holder === holder);
      expect(second).toHaveLength(1);
      expect(new Set(again.map((r) => `${r.holder}/${r.epoch}/${r.expiresAt}`))).toEqual(new Set([`${second[0]}/2/${t0 + 2 * ttl}`]));
    });

    test("leases are independent of one another and listed by name, all or by prefix", async () => {
      const j = journal();
      await j.acquireLease("leader", "a", t0, ttl);
      await j.acquireLease("check:web", "b", t0, ttl);
      await j.acquireLease("check:db", "a", t0, 2 * ttl);
      await j.acquireLease("check:db", "b", t0 + 1, ttl);
      expect(await j.leases()).toEqual([
        { name: "check:db", holder: "a", epoch: 1, expiresAt: t0 + 2 * ttl },
        { name: "check:web", holder: "b", epoch: 1, expiresAt: t0 + ttl },
        { name: "leader", holder: "a", epoch: 1, expiresAt: t0 + ttl },
      ]);
      expect((await j.leases("check:")).map((l) => l.name)).toEqual(["check:db", "check:web"]);
      expect(await j.leases("check:x")).toEqual([]);
    });

    test("a prefix is taken literally: % and _ match only themselves", async () => {
      const j = journal();
      await j.acquireLease("check:a_b", "a", t0, ttl);
      await j.acquireLease("check:axb", "a", t0, ttl);
      await j.acquireLease("check%", "a", t0, ttl);
      expect((await j.leases("check:a_")).map((l) => l.name)).toEqual(["check:a_b"]);
      expect((await j.leases("check%")).map((l) => l.name)).toEqual(["check%"]);
    });

    test("a lease taken in a rolled-back transaction was never taken", async () => {
      const j = journal();
      await expect(
        j.transaction(async (tx) => {
          expect((await tx.acquireLease("leader", "a", t0, ttl)).holder).toBe("a");
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await j.getLease("leader")).toBeUndefined();
      expect(await j.acquireLease("leader", "b", t0, ttl)).toEqual({ name: "leader", holder: "b", epoch: 1, expiresAt: t0 + ttl });
    });
  });
}
