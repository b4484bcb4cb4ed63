// etcd over its JSON gateway: the calls (timeouts, mutual TLS, auth tokens),
// what the gateway answers read into typed values, and one look at a whole
// cluster. The etcd action and the etcd:// prober are built on it.
export { base64, EtcdGateway, EtcdGatewayError, GATEWAY_PATHS, parseEndpoint, type EtcdTls, type GatewayOptions, type GatewayPath } from "./gateway.ts";
export { parseAlarms, parseGatewayError, parseMemberList, parseRevision, parseStatus, type Alarm, type Member, type MemberStatus } from "./status.ts";
export { DEFAULT_QUOTA_BYTES, linearizableRead, listAlarms, listMembers, memberStatus, readCluster, type ClusterView, type MemberView, type ReadOptions } from "./cluster.ts";
