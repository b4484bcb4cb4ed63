// One look at a whole etcd cluster: the member list, every member's status
// through its endpoint, the active alarms, and whether each member is
// healthy enough to be worked on. The etcd action decides on it; the etcd
// prober judges it; CEL reads it.
import { ExitCode, OpsError } from "../../errors.ts";
import { base64, GATEWAY_PATHS, parseEndpoint, type EtcdGateway, EtcdGatewayError } from "./gateway.ts";
import { parseAlarms, parseMemberList, parseStatus, type Alarm, type Member, type MemberStatus } from "./status.ts";

/** etcd's default backend quota (--quota-backend-bytes unset): 2 GiB. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3;

/** One member as a result's data and CEL show it. */
export interface MemberView {
  name: string;
  id: string;
  /** The endpoint it answered on; null when none did. */
  endpoint: string | null;
  isLeader: boolean;
  isLearner: boolean;
  healthy: boolean;
  /** Why it is not healthy. */
  error?: string;
  dbSize?: number;
  dbSizeInUse?: number;
  /** dbSize - dbSizeInUse: what a defragmentation gives back. */
  dbSizeFree?: number;
  /** dbSize / quotaBytes: past 1 etcd raises NOSPACE and takes no more writes. */
  dbQuotaUsage?: number;
  quotaBytes: number;
  raftIndex?: number;
  raftAppliedIndex?: number;
  raftTerm?: number;
  revision?: number;
  version?: string;
  errors: string[];
  /** Alarms active on this member (NOSPACE, CORRUPT). */
  alarms: string[];
}

export interface ClusterView {
  clusterId: string;
  /** The leader's id, "0" when the members name none (or disagree). */
  leaderId: string;
  members: MemberView[];
  alarms: { memberId: string; member: string; alarm: string }[];
  /** Every member healthy, one leader all agree on. */
  healthy: boolean;
  /** Why not, one line each. */
  problems: string[];
}

export interface ReadOptions {
  /** Used when the member does not report its quota (etcd before 3.6). */
  quotaBytes: number;
  /** Also reach members at the client URLs they advertise when no endpoint given answers as them (probes; an action acts only on the endpoints it was given). */
  discover?: boolean;
  /** A linearizable read through each member, as `etcdctl endpoint health` does: it proves the member can reach a quorum. */
  readCheck?: boolean;
}

type Answer = { endpoint: string; status: MemberStatus } | { endpoint: string; error: OpsError };

const failure = (error: unknown): OpsError =>
  error instanceof OpsError ? error : new OpsError({ code: "E_ETCD", message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.check });

export async function memberStatus(gateway: EtcdGateway, endpoint: string): Promise<MemberStatus> {
  return parseStatus(await gateway.call(endpoint, GATEWAY_PATHS.status, {}));
}

async function answer(gateway: EtcdGateway, endpoint: string): Promise<Answer> {
  try {
    return { endpoint, status: await memberStatus(gateway, endpoint) };
  } catch (error) {
    if (gateway.options.signal.aborted) throw error;
    return { endpoint, error: failure(error) };
  }
}

/** A linearizable read of one key through the member: it answers only when the member reaches a quorum. Permission denied is an answer too. */
export async function linearizableRead(gateway: EtcdGateway, endpoint: string): Promise<void> {
  try {
    await gateway.call(endpoint, GATEWAY_PATHS.range, { key: base64("health"), serializable: false, count_only: true });
  } catch (error) {
    if (error instanceof EtcdGatewayError && /permission denied/.test(error.message)) return;
    throw error;
  }
}

export async function listMembers(gateway: EtcdGateway, endpoint: string): Promise<Member[]> {
  return parseMemberList(await gateway.call(endpoint, GATEWAY_PATHS.members, {}));
}

export async function listAlarms(gateway: EtcdGateway, endpoint: string): Promise<Alarm[]> {
  return parseAlarms(await gateway.call(endpoint, GATEWAY_PATHS.alarm, { action: "GET", memberID: "0", alarm: "NONE" }));
}

/** Errors other than a NOSPACE alarm: a NOSPACE member still serves reads and is what defragmentation is for. */
const seriousErrors = (status: MemberStatus) => status.errors.filter((e) => !/\balarm:NOSPACE\b/.test(e));

const memberName = (member: Member | undefined, id: string) => (member?.name ? member.name : `member ${id}`);

/** A member's first advertised client URL as an endpoint, when it is a usable one. */
function advertisedEndpoint(member: Member): string[] {
  const url = member.clientURLs[0];
  if (url === undefined) return [];
  try {
    return [parseEndpoint(url, `member ${member.name}'s client URL`)];
  } catch {
    return [];
  }
}

/** Each endpoint's answer, several at once: there are a handful (parseEndpoints caps them). */
async function answers(gateway: EtcdGateway, endpoints: readonly string[]): Promise<Answer[]> {
  return Promise.all(endpoints.map((endpoint) => answer(gateway, endpoint)));
}

/**
 * The cluster as its members tell it. Throws only when no endpoint answers
 * at all (or the caller's signal aborts); anything less is a view with
 * problems.
 */
export async function readCluster(gateway: EtcdGateway, endpoints: readonly string[], options: ReadOptions): Promise<ClusterView> {
  const first = await answers(gateway, endpoints);
  const answered = first.filter((a): a is Extract<Answer, { status: MemberStatus }> => "status" in a);
  if (answered.length === 0) {
    const errors = first.flatMap((a) => ("error" in a ? [a.error] : []));
    const reasons = errors.map((e) => e.message).join("; ");
    // An answer that refused (bad credentials) is not an unreachable cluster.
    const refusal = errors.find((e) => e.exitCode !== ExitCode.transport);
    if (refusal) throw new OpsError({ code: refusal.code, message: `no etcd endpoint would answer: ${reasons}`, ...(refusal.hint ? { hint: refusal.hint } : {}), exitCode: refusal.exitCode });
    throw new OpsError({ code: "E_ETCD_UNREACHABLE", message: `no etcd endpoint answered: ${reasons}`, hint: "check the endpoints, the members' processes and, for https, the ca, cert and key", exitCode: ExitCode.transport });
  }
  const problems: string[] = [];
  const clusterId = answered[0]!.status.clusterId;
  const members = await listMembers(gateway, answered[0]!.endpoint);
  const byId = new Map(members.map((m) => [m.id, m]));
  const statusOf = new Map<string, { endpoint: string; status: MemberStatus }>();
  for (const a of first) {
    if ("error" in a) continue;
    if (a.status.clusterId !== clusterId) problems.push(`${a.endpoint} answers for cluster ${a.status.clusterId}, not ${clusterId}: the endpoints name two clusters`);
    else if (!byId.has(a.status.memberId)) problems.push(`${a.endpoint} answers as member ${a.status.memberId}, which is not in the member list`);
    else if (!statusOf.has(a.status.memberId)) statusOf.set(a.status.memberId, a);
  }
  if (options.discover) {
    const advertised = members.filter((m) => !statusOf.has(m.id)).flatMap((m) => advertisedEndpoint(m));
    for (const a of await answers(gateway, advertised)) {
      if ("status" in a && a.status.clusterId === clusterId && byId.has(a.status.memberId) && !statusOf.has(a.status.memberId)) statusOf.set(a.status.memberId, a);
    }
  }
  const errorsByEndpoint = new Map(first.flatMap((a) => ("error" in a ? [[a.endpoint, a.error.message] as const] : [])));
  const reached = [...statusOf.values()];
  const alarms = await listAlarms(gateway, reached[0]!.endpoint);
  const leaders = new Set(reached.map((r) => r.status.leader));
  const leaderId = leaders.size === 1 && !leaders.has("0") && byId.has([...leaders][0]!) ? [...leaders][0]! : "0";
  if (leaderId === "0") problems.push(leaders.size > 1 ? `the members disagree on the leader (${[...leaders].join(", ")}): an election is under way` : "the cluster has no leader");

  const reads = options.readCheck
    ? await Promise.all(reached.map(async (r) => [r.status.memberId, await linearizableRead(gateway, r.endpoint).then(() => undefined, (e: unknown) => failure(e).message)] as const))
    : [];
  const readFailure = new Map(reads);

  const views = members.map((member): MemberView => {
    const seen = statusOf.get(member.id);
    const name = memberName(member, member.id);
    const memberAlarms = alarms.filter((a) => a.memberId === member.id).map((a) => a.alarm);
    if (!seen) {
      const tried = endpoints.filter((e) => errorsByEndpoint.has(e)).map((e) => errorsByEndpoint.get(e)).join("; ");
      const error = tried ? `no endpoint answered as ${name} (${tried})` : `no endpoint given answers as ${name} (it advertises ${member.clientURLs.join(", ") || "no client URL"})`;
      problems.push(error);
      return { name, id: member.id, endpoint: null, isLeader: member.id === leaderId, isLearner: member.isLearner, healthy: false, error, quotaBytes: options.quotaBytes, errors: [], alarms: memberAlarms };
    }
    const { status, endpoint } = seen;
    const quotaBytes = status.dbSizeQuota ?? options.quotaBytes;
    const inUse = status.dbSizeInUse ?? status.dbSize;
    const why = [
      ...(status.leader === "0" ? ["it knows no leader"] : []),
      ...seriousErrors(status),
      ...(readFailure.get(member.id) ? [`a linearizable read failed: ${readFailure.get(member.id)}`] : []),
    ];
    if (why.length > 0) problems.push(`${name}: ${why.join("; ")}`);
    return {
      name,
      id: member.id,
      endpoint,
      isLeader: member.id === leaderId,
      isLearner: status.isLearner || member.isLearner,
      healthy: why.length === 0 && leaderId !== "0",
      ...(why.length > 0 ? { error: why.join("; ") } : {}),
      dbSize: status.dbSize,
      dbSizeInUse: inUse,
      dbSizeFree: Math.max(0, status.dbSize - inUse),
      dbQuotaUsage: quotaBytes > 0 ? status.dbSize / quotaBytes : 0,
      quotaBytes,
      raftIndex: status.raftIndex,
      raftAppliedIndex: status.raftAppliedIndex,
      raftTerm: status.raftTerm,
      revision: status.revision,
      version: status.version,
      errors: status.errors,
      alarms: memberAlarms,
    };
  });
  return {
    clusterId,
    leaderId,
    members: views,
    alarms: alarms.map((a) => ({ memberId: a.memberId, member: memberName(byId.get(a.memberId), a.memberId), alarm: a.alarm })),
    healthy: problems.length === 0 && views.every((v) => v.healthy),
    problems,
  };
}
