import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ReplicaRecord } from "../journal/index.ts";
import type { Cluster } from "./cluster.ts";

/**
 * A cluster of one that never asks the journal: always the leader, owner of
 * every check, no fence to pass. For a healer built without a cluster (unit
 * tests, tools); `opskit serve` always joins a real one.
 */
export function standaloneCluster(name = `${hostname()}:${process.pid}`): Cluster {
  const startedAt = Date.now();
  const self: Omit<ReplicaRecord, "seenAt"> = { id: `${name}-${randomBytes(4).toString("hex")}`, name, host: hostname(), pid: process.pid, startedAt };
  const record = (): ReplicaRecord => ({ ...self, seenAt: Date.now() });
  return {
    id: self.id,
    name,
    url: undefined,
    host: self.host,
    pid: self.pid,
    startedAt,
    ttlMs: Number.POSITIVE_INFINITY,
    isLeader: true,
    epoch: 0,
    steady: true,
    connected: true,
    leader: () => ({ id: self.id, epoch: 0 }),
    live: () => [record()],
    liveIn: async () => [record()],
    owns: () => true,
    ownedChecks: () => [],
    onChange: () => () => undefined,
    fence: async () => undefined,
    advertise: () => undefined,
    beat: async () => undefined,
    stop: async () => undefined,
  };
}
