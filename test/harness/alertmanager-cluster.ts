// Alertmanager's own high availability, as operators run it: several
// Debian prometheus-alertmanager processes gossiping on loopback, each with
// the same receiver that lists every opskit replica's webhook URL, so every
// notification reaches every replica (Prometheus sends each alert to all
// members; the members agree through gossip which of them notifies).
import { refusedPort } from "./net.ts";
import { startAlertmanager, type AlertmanagerOptions, type TestServer } from "./prometheus.ts";

const CLUSTER_READY_TIMEOUT_MS = 30_000;

export interface AlertmanagerCluster {
  members: TestServer[];
  /** Each member's base URL (what Prometheus is given). */
  urls: string[];
  /** Stops every member. Safe to call twice. */
  stop(): Promise<void>;
}

export interface AlertmanagerClusterOptions extends Omit<AlertmanagerOptions, "cluster" | "webhookUrl"> {
  /** Every opskit replica's webhook URL: one webhook_config each. */
  webhookUrls: string[];
  /** Members; default 2. */
  size?: number;
  /** Alertmanager's --cluster.peer-timeout; default 15 s as in Alertmanager. */
  peerTimeoutSec?: number;
}

/**
 * Starts `size` clustered Alertmanagers and waits until each sees all the
 * others and reports its gossip settled (GET /api/v2/status: cluster.status
 * "ready" with every peer listed).
 */
export async function startAlertmanagerCluster(options: AlertmanagerClusterOptions): Promise<AlertmanagerCluster> {
  const size = options.size ?? 2;
  const { webhookUrls, size: _size, peerTimeoutSec, ...rest } = options;
  const gossip: string[] = [];
  for (let i = 0; i < size; i++) gossip.push(`127.0.0.1:${await refusedPort()}`);
  const members: TestServer[] = [];
  const stop = async () => {
    await Promise.all(members.map((member) => member.stop().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < size; i++) {
      const cluster = { listenAddress: gossip[i]!, peers: gossip.filter((_, j) => j !== i), ...(peerTimeoutSec !== undefined ? { peerTimeoutSec } : {}) };
      members.push(await startAlertmanager({ ...rest, webhookUrl: webhookUrls, cluster }));
    }
    await Promise.all(members.map((member) => waitForPeers(member.url, size)));
  } catch (error) {
    await stop();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return { members, urls: members.map((member) => member.url), stop: () => (stopping ??= stop()) };
}

interface ClusterStatus {
  cluster?: { status?: string; peers?: { address: string; name: string }[] };
}

async function waitForPeers(url: string, size: number): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  let seen = "no answer";
  while (Date.now() < deadline) {
    try {
      const status = (await (await fetch(`${url}/api/v2/status`, { signal: AbortSignal.timeout(1_000) })).json()) as ClusterStatus;
      const peers = status.cluster?.peers?.length ?? 0;
      if (status.cluster?.status === "ready" && peers === size) return;
      seen = `status ${status.cluster?.status}, ${peers} of ${size} peers`;
    } catch (error) {
      seen = error instanceof Error ? error.message : String(error);
    }
    await Bun.sleep(100);
  }
  throw new Error(`alertmanager at ${url} did not form a cluster of ${size} within ${CLUSTER_READY_TIMEOUT_MS / 1000}s (last: ${seen})`);
}
