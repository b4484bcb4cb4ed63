// The etcd action's operations other than defrag (etcd-defrag.ts), and what
// defrag shares with them: reading the cluster, compacting, handing over
// leadership, disarming NOSPACE.
import { ExitCode, OpsError } from "../errors.ts";
import { sleep } from "../time/index.ts";
import { EtcdGatewayError, GATEWAY_PATHS, listAlarms, listMembers, memberStatus, readCluster, type ClusterView, type EtcdGateway, type MemberStatus, type MemberView } from "../transport/etcd/index.ts";
import type { EtcdRendered, OperationContext, OperationOutcome } from "./etcd.ts";

export const mib = (bytes: number | undefined) => (bytes === undefined ? "?" : bytes < 1024 ** 2 ? `${Math.round(bytes / 1024)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);
export const percent = (share: number | undefined) => (share === undefined ? "?" : `${Math.round(share * 1000) / 10}%`);
export const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
/** A name from the cluster or the config, quoted and cut short for a message. */
export const quoted = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);

/** Compaction waits for every member's store (physical): longer than a status call, bounded by the step's timeout too. */
const COMPACT_TIMEOUT_MS = 10 * 60_000;

export function memberLine(m: MemberView): string {
  const role = m.isLeader ? " (leader)" : m.isLearner ? " (learner)" : "";
  if (m.dbSize === undefined) return `${m.name}${role} ${m.endpoint ?? "-"}: ${m.error ?? "no answer"}`;
  return `${m.name}${role} ${m.endpoint}: ${m.healthy ? "healthy" : `unhealthy (${m.error})`}, db ${mib(m.dbSize)}, ${mib(m.dbSizeInUse)} in use, ${percent(m.dbQuotaUsage)} of ${mib(m.quotaBytes)} quota, applied ${m.raftAppliedIndex}/${m.raftIndex}${m.alarms.length > 0 ? `, alarm ${m.alarms.join(" ")}` : ""}`;
}

export function viewData(view: ClusterView): Record<string, unknown> {
  return {
    clusterId: view.clusterId,
    leader: view.members.find((m) => m.isLeader)?.name ?? "",
    leaderId: view.leaderId,
    healthy: view.healthy,
    members: view.members,
    alarms: view.alarms,
    problems: view.problems,
  };
}

export function unhealthyError(view: ClusterView, consequence: string): OpsError {
  return new OpsError({
    code: "E_ETCD_UNHEALTHY",
    message: `not every etcd member is healthy${consequence}: ${view.problems.join("; ")}`,
    hint: "bring every member back (etcdctl endpoint health --cluster shows them) and run again; working on a cluster with a member down risks its quorum",
    exitCode: ExitCode.check,
  });
}

export async function readWholeCluster(context: OperationContext, readCheck = true): Promise<ClusterView> {
  return readCluster(context.gateway, context.rendered.endpoints, { quotaBytes: context.rendered.quotaBytes, readCheck });
}

export async function clusterStatus(context: OperationContext): Promise<OperationOutcome> {
  const view = await readWholeCluster(context);
  for (const member of view.members) context.log(memberLine(member));
  for (const alarm of view.alarms) context.log(`alarm ${alarm.alarm} on ${alarm.member}`);
  return { ok: view.healthy, changed: false, data: viewData(view), ...(view.healthy ? {} : { error: unhealthyError(view, "") }) };
}

/** The first endpoint that answers, with its status. */
export async function firstAnswer(gateway: EtcdGateway, endpoints: readonly string[]): Promise<{ endpoint: string; status: MemberStatus }> {
  const reasons: string[] = [];
  for (const endpoint of endpoints) {
    try {
      return { endpoint, status: await memberStatus(gateway, endpoint) };
    } catch (error) {
      if (gateway.options.signal.aborted) throw error;
      reasons.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new OpsError({ code: "E_ETCD_UNREACHABLE", message: `no etcd endpoint answered: ${reasons.join("; ")}`, hint: "check the endpoints and the members' processes", exitCode: ExitCode.transport });
}

/** Compacts the keyspace to `revision`; false when it already was (at or past it). */
export async function compactTo(gateway: EtcdGateway, endpoint: string, revision: number, physical: boolean, timeoutMs = COMPACT_TIMEOUT_MS): Promise<boolean> {
  try {
    await gateway.call(endpoint, GATEWAY_PATHS.compact, { revision: String(revision), physical }, timeoutMs);
    return true;
  } catch (error) {
    if (error instanceof EtcdGatewayError && /required revision has been compacted/.test(error.message)) return false;
    throw error;
  }
}

export async function compactCluster(context: OperationContext): Promise<OperationOutcome> {
  const { gateway, rendered, log } = context;
  const physical = rendered.operation.kind === "compact" ? rendered.operation.physical : true;
  const { endpoint, status } = await firstAnswer(gateway, rendered.endpoints);
  const compacted = await compactTo(gateway, endpoint, status.revision, physical);
  log(compacted ? `compacted to revision ${status.revision}` : `already compacted at revision ${status.revision}`);
  return { ok: true, changed: compacted, data: { revision: status.revision, compacted } };
}

/** Who leads: the follower the caller named, or the most caught-up healthy voting follower (ties by name). */
export function successorOf(view: ClusterView, name: string | undefined, among = view.members): MemberView | OpsError {
  const candidates = among.filter((m) => !m.isLeader && !m.isLearner && m.healthy && m.endpoint !== null);
  if (name !== undefined) {
    const named = view.members.find((m) => m.name === name);
    if (!named) return new OpsError({ code: "E_ETCD_MEMBER", message: `no member named ${quoted(name)}`, hint: `the members: ${view.members.map((m) => m.name).join(", ")}`, exitCode: ExitCode.check });
    if (named.isLeader) return named;
    if (!candidates.includes(named)) return new OpsError({ code: "E_ETCD_MEMBER", message: `${quoted(name)} cannot lead: ${named.isLearner ? "it is a learner" : named.error ?? "it is not healthy"}`, exitCode: ExitCode.check });
    return named;
  }
  const best = [...candidates].sort((a, b) => (b.raftAppliedIndex ?? 0) - (a.raftAppliedIndex ?? 0) || a.name.localeCompare(b.name))[0];
  return best ?? new OpsError({ code: "E_ETCD_MEMBER", message: "no healthy voting follower to hand leadership to", exitCode: ExitCode.check });
}

/** Asks the leader to hand over to `to` and waits until `to` says it leads. */
export async function transferLeadership(gateway: EtcdGateway, leader: MemberView, to: MemberView, waitMs: number, log: (line: string) => void): Promise<number> {
  const started = performance.now();
  await gateway.call(leader.endpoint!, GATEWAY_PATHS.moveLeader, { targetID: to.id });
  let last = "";
  for (;;) {
    try {
      const status = await memberStatus(gateway, to.endpoint!);
      if (status.leader === to.id) break;
      last = status.leader === "0" ? "no leader yet" : `member ${status.leader} leads`;
    } catch (error) {
      if (gateway.options.signal.aborted) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (performance.now() - started > waitMs) {
      throw new OpsError({ code: "E_ETCD_MOVE_LEADER", message: `${to.name} did not take over the leadership from ${leader.name} within ${seconds(waitMs)}: ${last}`, exitCode: ExitCode.check });
    }
    await sleep(100, gateway.options.signal);
  }
  const took = performance.now() - started;
  log(`leadership moved from ${leader.name} to ${to.name} in ${seconds(took)}`);
  return took;
}

export async function moveLeader(context: OperationContext): Promise<OperationOutcome> {
  const { gateway, log } = context;
  const op = context.rendered.operation as Extract<EtcdRendered["operation"], { kind: "moveLeader" }>;
  const view = await readWholeCluster(context);
  if (!view.healthy) return { ok: false, changed: false, data: viewData(view), error: unhealthyError(view, ", so leadership stays where it is") };
  const leader = view.members.find((m) => m.isLeader)!;
  const to = successorOf(view, op.to);
  if (to instanceof OpsError) return { ok: false, changed: false, data: viewData(view), error: to };
  if (to.id === leader.id) {
    log(`${leader.name} leads already`);
    return { ok: true, changed: false, data: { from: leader.name, to: leader.name } };
  }
  const tookMs = await transferLeadership(gateway, leader, to, op.waitMs, log);
  return { ok: true, changed: true, data: { from: leader.name, to: to.name, tookMs } };
}

export interface DisarmOutcome {
  /** Active alarms when it looked. */
  active: { member: string; memberId: string; alarm: string }[];
  disarmed: string[];
  /** Why NOSPACE stays, when it does. */
  kept?: OpsError;
}

/**
 * Disarms every NOSPACE alarm, but only when every member answers and is
 * below `disarmBelow` of its quota: above it, etcd would raise the alarm
 * again at the next write. CORRUPT is never disarmed here.
 */
export async function disarmNospace(context: OperationContext): Promise<DisarmOutcome> {
  const { gateway, rendered, log } = context;
  const view = await readWholeCluster(context, false);
  const nospace = view.alarms.filter((a) => a.alarm === "NOSPACE");
  for (const other of view.alarms.filter((a) => a.alarm !== "NOSPACE")) log(`${other.alarm} on ${other.member} is left for a person: opskit does not disarm it`);
  if (nospace.length === 0) return { active: view.alarms, disarmed: [] };
  const over = view.members.filter((m) => m.dbQuotaUsage === undefined || m.dbQuotaUsage >= rendered.disarmBelow);
  if (over.length > 0) {
    const why = over.map((m) => (m.dbQuotaUsage === undefined ? `${m.name} did not answer (${m.error})` : `${m.name} is at ${percent(m.dbQuotaUsage)} of its quota`)).join(", ");
    log(`NOSPACE stays on ${nospace.map((a) => a.member).join(", ")}: ${why}, and it is disarmed only below ${percent(rendered.disarmBelow)}`);
    return {
      active: view.alarms,
      disarmed: [],
      kept: new OpsError({
        code: "E_ETCD_NOSPACE_KEPT",
        message: `NOSPACE stays armed: ${why} (disarmed only when every member is below ${percent(rendered.disarmBelow)})`,
        hint: "defragment the members (etcd: { defrag: {} }) or raise --quota-backend-bytes; disarmed above the quota, the alarm comes back at the next write",
        exitCode: ExitCode.check,
      }),
    };
  }
  const endpoint = view.members.find((m) => m.endpoint !== null)!.endpoint!;
  for (const alarm of nospace) await gateway.call(endpoint, GATEWAY_PATHS.alarm, { action: "DEACTIVATE", memberID: alarm.memberId, alarm: "NOSPACE" });
  const still = (await listAlarms(gateway, endpoint)).filter((a) => a.alarm === "NOSPACE");
  if (still.length > 0) {
    return { active: view.alarms, disarmed: [], kept: new OpsError({ code: "E_ETCD_NOSPACE_KEPT", message: `NOSPACE is still armed on ${still.length} member(s) after disarming`, hint: "a member may have gone over its quota again: look at etcdctl endpoint status", exitCode: ExitCode.check }) };
  }
  const largest = [...view.members].sort((a, b) => (b.dbQuotaUsage ?? 0) - (a.dbQuotaUsage ?? 0))[0]!;
  log(`disarmed NOSPACE on ${nospace.map((a) => a.member).join(", ")}: every member is below ${percent(rendered.disarmBelow)} of its quota (the largest, ${largest.name}, at ${percent(largest.dbQuotaUsage)})`);
  return { active: view.alarms, disarmed: nospace.map((a) => a.member) };
}

export async function alarms(context: OperationContext): Promise<OperationOutcome> {
  const op = context.rendered.operation as Extract<EtcdRendered["operation"], { kind: "alarm" }>;
  if (op.action === "disarm") {
    const outcome = await disarmNospace(context);
    return { ok: outcome.kept === undefined, changed: outcome.disarmed.length > 0, data: { alarms: outcome.active, disarmed: outcome.disarmed }, ...(outcome.kept ? { error: outcome.kept } : {}) };
  }
  const { endpoint } = await firstAnswer(context.gateway, context.rendered.endpoints);
  const [active, members] = await Promise.all([listAlarms(context.gateway, endpoint), listMembers(context.gateway, endpoint)]);
  const names = new Map(members.map((m) => [m.id, m.name || `member ${m.id}`]));
  const list = active.map((a) => ({ member: names.get(a.memberId) ?? `member ${a.memberId}`, memberId: a.memberId, alarm: a.alarm }));
  for (const alarm of list) context.log(`alarm ${alarm.alarm} on ${alarm.member}`);
  if (list.length === 0) context.log("no alarm");
  return { ok: true, changed: false, data: { alarms: list } };
}
