// Several `opskit serve` replicas sharing one journal act as one server:
// heartbeats say who is live, a leader lease (with a fencing epoch) elects
// the replica that runs sweeps and timers, and each check has one owner under
// a lease, chosen by rendezvous hashing over the live replicas.
export { checkLease, fencedError, LEADER_LEASE, startCluster, type Cluster, type ClusterOptions } from "./cluster.ts";
export { rendezvousOwner } from "./rendezvous.ts";
export { standaloneCluster } from "./standalone.ts";
