import { ExitCode, usageError } from "../errors.ts";
import { PhaseError } from "../transport/index.ts";
import type { ClusterView } from "../transport/etcd/index.ts";
import type { Prober } from "./types.ts";

declare module "./types.ts" {
  interface Observation {
    etcd?: EtcdObservation;
  }
}

/** The cluster as the probe saw it (see transport/etcd's ClusterView), with the leader's name. */
export interface EtcdObservation extends ClusterView {
  /** The leader's name, "" when there is none. */
  leader: string;
}

interface EtcdSpec {
  endpoint: string;
  quotaBytes: number;
}

const DEFAULT_QUOTA = 2 * 1024 ** 3;

/**
 * etcd://HOST:PORT (etcds:// over TLS, with --ca or --insecure): every
 * member's status through etcd's JSON gateway, the members found through
 * the member list at the client URLs they advertise. ?quotaBytes= is the
 * backend quota dbQuotaUsage is measured against when the members do not
 * report theirs (before etcd 3.6); default etcd's 2 GiB.
 */
function parseEtcd(url: URL, raw: string): EtcdSpec {
  if (url.username || url.password || (url.pathname !== "" && url.pathname !== "/") || url.hash) {
    throw usageError("E_TARGET_URL", `target "${raw}": an etcd target is a host and port`, `write it as ${url.protocol}//HOST:2379, with ?quotaBytes=N for the backend quota`);
  }
  for (const key of url.searchParams.keys()) {
    if (key !== "quotaBytes") throw usageError("E_TARGET_URL", `target "${raw}": unknown parameter "${key}"`, "etcd:// takes quotaBytes=");
  }
  const quota = url.searchParams.get("quotaBytes");
  if (quota !== null && !/^[1-9]\d{0,15}$/.test(quota)) throw usageError("E_TARGET_URL", `target "${raw}": quotaBytes must be a number of bytes`, "e.g. ?quotaBytes=8589934592 for 8 GiB");
  const port = url.port || "2379";
  return { endpoint: `${url.protocol === "etcds:" ? "https" : "http"}://${url.hostname}:${port}`, quotaBytes: quota === null ? DEFAULT_QUOTA : Number(quota) };
}

const memberFields = {
  name: "string",
  id: "string",
  endpoint: "dyn",
  isLeader: "bool",
  isLearner: "bool",
  healthy: "bool",
  error: "string",
  dbSize: "int",
  dbSizeInUse: "int",
  dbSizeFree: "int",
  dbQuotaUsage: "double",
  quotaBytes: "int",
  raftIndex: "int",
  raftAppliedIndex: "int",
  raftTerm: "int",
  revision: "int",
  version: "string",
  errors: { list: "string" },
  alarms: { list: "string" },
} as const;

const integers = ["dbSize", "dbSizeInUse", "dbSizeFree", "quotaBytes", "raftIndex", "raftAppliedIndex", "raftTerm", "revision"] as const;

export const etcdProber: Prober<EtcdSpec> = {
  kind: "etcd",
  schemes: ["etcd", "etcds"],
  parse: parseEtcd,
  async run(spec, context) {
    const { clock, signal, timeoutMs } = context;
    const { EtcdGateway, readCluster } = await import("../transport/etcd/index.ts");
    const gateway = new EtcdGateway({ timeoutMs, signal, ...(spec.endpoint.startsWith("https:") ? { tls: { ...(context.ca ? { ca: context.ca } : {}), insecure: context.insecure } } : {}) });
    clock.enter("request");
    try {
      const view = await readCluster(gateway, [spec.endpoint], { quotaBytes: spec.quotaBytes, discover: true, readCheck: true });
      clock.finish();
      return { etcd: { ...view, leader: view.members.find((m) => m.isLeader)?.name ?? "" } };
    } catch (error) {
      if (error instanceof PhaseError) throw error;
      const ops = error as { code?: string; message?: string; hint?: string; exitCode?: number };
      throw new PhaseError("request", ops.code ?? "E_ETCD", ops.message ?? String(error), { hint: ops.hint, exitCode: (ops.exitCode as ExitCode | undefined) ?? ExitCode.transport });
    }
  },
  judge({ etcd }) {
    if (!etcd) return "no answer from etcd";
    if (!etcd.healthy) return etcd.problems.join("; ") || "not every member is healthy";
    // NOSPACE leaves every member healthy enough to read and to be defragmented, but the cluster takes no writes.
    return etcd.alarms.length > 0 ? `alarm ${etcd.alarms.map((a) => `${a.alarm} on ${a.member}`).join(", ")}` : undefined;
  },
  status: ({ etcd }) => etcd && `${etcd.members.filter((m) => m.healthy).length}/${etcd.members.length}`,
  scope: {
    variables: {
      etcd: {
        fields: {
          healthy: "bool",
          leader: "string",
          leaderId: "string",
          clusterId: "string",
          members: { list: { fields: memberFields } },
          alarms: { list: { fields: { memberId: "string", member: "string", alarm: "string" } } },
          problems: { list: "string" },
        },
      },
    },
    values: ({ etcd }) => ({
      etcd: etcd && {
        ...etcd,
        members: etcd.members.map((member) => {
          const typed: Record<string, unknown> = { ...member };
          for (const field of integers) if (typeof member[field] === "number") typed[field] = BigInt(member[field]);
          return typed;
        }),
      },
    }),
  },
};
