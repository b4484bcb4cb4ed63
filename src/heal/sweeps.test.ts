import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, type Cluster } from "../cluster/index.ts";
import { loadConfig } from "../config/index.ts";
import { openJournal, type Journal } from "../journal/index.ts";
import type { HealEvent } from "./events.ts";
import { Healer } from "./healer.ts";
import { compileRules } from "./rules.ts";

// The leader's sweeps on a journal shared with a replica that died: its
// running attempt is taken over (interrupted, then retried through the
// gates), but only by a leader that still passes the fence.

const root = mkdtempSync(join(tmpdir(), "opskit-sweeps-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

let pids = 60_000;

async function setup() {
  const dir = mkdtempSync(join(root, "case-"));
  writeFileSync(
    join(dir, "opskit.yaml"),
    'workflows:\n  fix:\n    targets: local\n    steps:\n      - exec: "true"\nrules:\n  - name: fix-it\n    match: { alertname: Broken }\n    run: fix\n    cooldown: 0s\n    maxAttempts: 3\n    onInterrupted: retry\n',
  );
  const loaded = await loadConfig({ cwd: dir, path: dir });
  const journal = await openJournal(join(dir, "journal.db"));
  stops.push(() => journal.close());
  const rules = await compileRules(loaded, 60_000);
  // An incident whose attempt 1 a replica that is gone ("ghost", never heard of again) was running.
  const incident = await journal.openIncident({ fingerprint: "fp-1", title: "Broken", source: "generic", labels: { alertname: "Broken" }, annotations: {}, rule: "fix-it", milestones: {}, lastNotifiedAt: Date.now() });
  await journal.createAttempt({ incidentId: incident.id, attempt: 1, rule: "fix-it", fingerprint: "fp-1", status: "running", owner: "ghost-00000000", createdAt: Date.now() - 60_000, startedAt: Date.now() - 60_000 });
  const healerOn = (cluster: Cluster) => {
    const events: HealEvent[] = [];
    const healer = new Healer({ loaded, journal, rules, cluster, dryRun: false, maxConcurrentRemediations: 2, staleAfterMs: 3_600_000, defaultTimeoutMs: 60_000, sinks: [(event) => events.push(event)] });
    stops.push(() => healer.drain(5_000));
    return { healer, events };
  };
  const join_ = async (name: string, now?: () => number, store: Journal = journal) => {
    const cluster = await startCluster({ journal: store, name, heartbeatMs: 100, ttlMs: 500, pid: pids++, pidAlive: () => true, ...(now ? { now } : {}) });
    stops.push(() => cluster.stop());
    return cluster;
  };
  return { journal, incident, healerOn, join_ };
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(20);
  }
}

test("the leader takes over an attempt whose replica is not live: interrupted, then retried through the gates", async () => {
  const { journal, incident, healerOn, join_ } = await setup();
  const leader = await join_("leader");
  const { healer, events } = healerOn(leader);
  // A leader takes over only once it has heard every live replica (a ttl of heartbeats without a miss).
  await healer.sweep();
  expect((await journal.attempts(incident.id)).map((a) => a.status)).toEqual(["running"]);
  await until(async () => leader.steady, "the leader to be steady");
  await healer.sweep();
  await until(async () => (await journal.attempts(incident.id)).at(-1)?.status === "succeeded", "the retry to succeed");
  const attempts = await journal.attempts(incident.id);
  expect(attempts.map((a) => a.status)).toEqual(["interrupted", "succeeded"]);
  expect(attempts[0]!.detail).toBe("replica ghost-00000000 stopped during this attempt");
  expect(attempts[1]!.owner).toBe(healer.cluster.id);
  expect(events.filter((e) => e.type === "remediation.interrupted")).toEqual([expect.objectContaining({ attempt: 1, onInterrupted: "retry", replica: "ghost-00000000" })]);
  // A second sweep finds nothing more to do.
  await healer.sweep();
  expect((await journal.attempts(incident.id)).map((a) => a.status)).toEqual(["interrupted", "succeeded"]);
});

test("a replica that does not lead sweeps nothing, and a leader whose lease another took is fenced: the attempt stays as it was", async () => {
  const { journal, incident, healerOn, join_ } = await setup();
  // The old leader is paused: its clock stands still and its heartbeats stop reaching the journal.
  let paused: number | undefined;
  const cut = new Proxy(journal, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => (paused !== undefined ? Promise.reject(new Error("paused")) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as Journal;
  const old = await join_("old", () => paused ?? Date.now(), cut);
  await until(async () => old.steady, "the old leader to be steady");
  paused = Date.now();
  // Another replica, its clock past the old leader's lease, takes the lease.
  const next = await join_("next", () => Date.now() + 1_000);
  expect(next.isLeader).toBe(true);
  const follower = await join_("follower");
  expect(follower.isLeader).toBe(false);
  await healerOn(follower).healer.sweep();
  expect((await journal.attempts(incident.id)).map((a) => a.status)).toEqual(["running"]);
  // By its own clock the old leader still leads, so it sweeps; the fence refuses its every write.
  expect(old.isLeader).toBe(true);
  expect(old.steady).toBe(true);
  const { healer, events } = healerOn(old);
  await healer.sweep();
  expect((await journal.attempts(incident.id)).map((a) => a.status)).toEqual(["running"]);
  expect(events.filter((e) => e.type === "remediation.interrupted" || e.type === "heal.error")).toEqual([]);
});
