// Defragmentation, safely. A member being defragmented stops serving until
// it is done, and a leader that stops serving costs the cluster its
// leases (gardener/etcd-druid #1061, #1052). So: every member healthy before
// anything (else nothing is touched), compact, then one member at a time,
// the leader last (or after handing its leadership to a defragmented
// follower), a pause between members, and each member proven healthy (it
// answers, knows a leader, has applied what the leader had committed, and
// serves a linearizable read) before the next is touched. A member that
// does not come back stops the run there. NOSPACE is disarmed at the end,
// only when every member is below the threshold.
import { ExitCode, OpsError } from "../errors.ts";
import { sleep } from "../time/index.ts";
import { GATEWAY_PATHS, linearizableRead, memberStatus, type EtcdGateway, type MemberStatus, type MemberView } from "../transport/etcd/index.ts";
import type { EtcdRendered, OperationContext, OperationOutcome } from "./etcd.ts";
import { compactTo, disarmNospace, memberLine, mib, readWholeCluster, seconds, successorOf, transferLeadership, unhealthyError } from "./etcd-operations.ts";

type DefragOperation = Extract<EtcdRendered["operation"], { kind: "defrag" }>;

/** One member's defragmentation, as the result's data keeps it. */
interface DefragRecord {
  name: string;
  id: string;
  endpoint: string;
  /** follower, leader, or "former leader" (leadership was handed over just before). */
  role: "follower" | "leader" | "former leader";
  /** The leader's id when this member's turn came, and when that was (before any handover). */
  leaderId: string;
  turnAt: string;
  before: { dbSize: number; dbSizeInUse: number };
  after: { dbSize: number; dbSizeInUse: number };
  defragMs: number;
  /** From the end of the defragmentation until the member was proven healthy. */
  healthyAfterMs: number;
  startedAt: string;
}

const sizes = (status: MemberStatus) => ({ dbSize: status.dbSize, dbSizeInUse: status.dbSizeInUse ?? status.dbSize });
const seriousErrors = (status: MemberStatus) => status.errors.filter((e) => !/\balarm:NOSPACE\b/.test(e));

/** The leader's id as the given members see it, waiting (up to timeoutMs) through an election. */
async function currentLeader(gateway: EtcdGateway, members: readonly MemberView[], timeoutMs: number): Promise<string> {
  const started = performance.now();
  let last = "";
  for (;;) {
    for (const member of members) {
      try {
        const status = await memberStatus(gateway, member.endpoint!);
        if (status.leader !== "0") return status.leader;
        last = `${member.name} knows no leader`;
      } catch (error) {
        if (gateway.options.signal.aborted) throw error;
        last = error instanceof Error ? error.message : String(error);
      }
    }
    if (performance.now() - started > timeoutMs) throw new OpsError({ code: "E_ETCD_NO_LEADER", message: `the cluster has had no leader for ${seconds(timeoutMs)}: ${last}`, exitCode: ExitCode.check });
    await sleep(200, gateway.options.signal);
  }
}

/**
 * Waits until a defragmented member is healthy again: it answers, knows a
 * leader, reports no error but NOSPACE, has applied everything the leader
 * had committed when it came back, and serves a linearizable read.
 */
async function awaitHealthy(gateway: EtcdGateway, member: MemberView, endpointOf: ReadonlyMap<string, string>, timeoutMs: number): Promise<{ status: MemberStatus; afterMs: number; caughtUpTo: number }> {
  const started = performance.now();
  let target: number | undefined;
  let last = "";
  for (;;) {
    try {
      const status = await memberStatus(gateway, member.endpoint!);
      if (status.leader === "0") throw new Error("it knows no leader");
      const problems = seriousErrors(status);
      if (problems.length > 0) throw new Error(problems.join("; "));
      if (target === undefined) {
        const leaderEndpoint = endpointOf.get(status.leader);
        if (leaderEndpoint === undefined) throw new Error(`its leader ${status.leader} is not a member this step can reach`);
        target = status.leader === member.id ? status.raftIndex : (await memberStatus(gateway, leaderEndpoint)).raftIndex;
      }
      if (status.raftAppliedIndex < target) throw new Error(`it has applied ${status.raftAppliedIndex}, the leader had committed ${target}`);
      await linearizableRead(gateway, member.endpoint!);
      return { status, afterMs: performance.now() - started, caughtUpTo: target };
    } catch (error) {
      if (gateway.options.signal.aborted) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (performance.now() - started > timeoutMs) {
      throw new OpsError({
        code: "E_ETCD_DEFRAG_UNHEALTHY",
        message: `${member.name} is not healthy ${seconds(timeoutMs)} after its defragmentation: ${last}`,
        hint: "look at the member's log; the members after it were left alone",
        exitCode: ExitCode.check,
      });
    }
    await sleep(100, gateway.options.signal);
  }
}

interface Turn {
  member: MemberView;
  role: DefragRecord["role"];
  leaderId: string;
  turnAt: string;
}

async function defragmentMember(gateway: EtcdGateway, turn: Turn, op: DefragOperation, endpointOf: ReadonlyMap<string, string>, log: (line: string) => void): Promise<DefragRecord> {
  const { member, role } = turn;
  const startedAt = new Date().toISOString();
  const before = await memberStatus(gateway, member.endpoint!);
  log(`defragmenting ${member.name} (${role}) at ${member.endpoint}: ${mib(before.dbSize)}, ${mib(before.dbSizeInUse)} in use`);
  const t0 = performance.now();
  try {
    await gateway.call(member.endpoint!, GATEWAY_PATHS.defragment, {}, op.defragTimeoutMs);
  } catch (error) {
    const detail = error instanceof OpsError && error.code === "E_ETCD_TIMEOUT" ? " (etcd may still be defragmenting it)" : "";
    throw new OpsError({ code: "E_ETCD_DEFRAG", message: `defragmenting ${member.name} failed${detail}: ${error instanceof Error ? error.message : String(error)}`, exitCode: ExitCode.check, cause: error });
  }
  const defragMs = performance.now() - t0;
  const health = await awaitHealthy(gateway, member, endpointOf, op.healthTimeoutMs);
  log(`  ${member.name}: ${mib(before.dbSize)} -> ${mib(health.status.dbSize)} in ${seconds(defragMs)}; healthy ${seconds(health.afterMs)} later (applied index ${health.status.raftAppliedIndex}, leader had committed ${health.caughtUpTo})`);
  return { name: member.name, id: member.id, endpoint: member.endpoint!, role, leaderId: turn.leaderId, turnAt: turn.turnAt, before: sizes(before), after: sizes(health.status), defragMs, healthyAfterMs: health.afterMs, startedAt };
}

export async function defragCluster(context: OperationContext): Promise<OperationOutcome> {
  const { gateway, signal, log } = context;
  const op = context.rendered.operation as DefragOperation;
  const view = await readWholeCluster(context);
  const leaderBefore = view.members.find((m) => m.isLeader);
  log(`cluster ${view.clusterId}: ${view.members.length} members, leader ${leaderBefore?.name ?? "none"}`);
  for (const member of view.members) log(`  ${memberLine(member)}`);
  const data: Record<string, unknown> = { clusterId: view.clusterId, leaderBefore: leaderBefore?.name ?? "", before: view.members, order: [] as string[], defragmented: [] as DefragRecord[], alarmsBefore: view.alarms };
  if (!view.healthy) return { ok: false, changed: false, data: { ...data, refused: view.problems }, error: unhealthyError(view, ", so nothing was compacted or defragmented") };

  let changed = false;
  const records: DefragRecord[] = [];
  const order = data.order as string[];
  data.defragmented = records;
  // Followers in name order, then the leader; who leads is asked again before each member.
  const members = [...view.members].sort((a, b) => Number(a.isLeader) - Number(b.isLeader) || a.name.localeCompare(b.name));
  const endpointOf = new Map(members.map((m) => [m.id, m.endpoint!]));
  let current: MemberView | undefined;
  try {
    if (op.compact) {
      const revision = Math.max(...view.members.map((m) => m.revision ?? 0));
      const compacted = await compactTo(gateway, leaderBefore!.endpoint!, revision, true, op.defragTimeoutMs);
      changed ||= compacted;
      data.compactedRevision = revision;
      log(compacted ? `compacted to revision ${revision}` : `already compacted at revision ${revision}`);
    }
    while (records.length < members.length) {
      const remaining = members.filter((m) => !records.some((r) => r.id === m.id));
      const leaderId = await currentLeader(gateway, members, op.healthTimeoutMs);
      const turnAt = new Date().toISOString();
      let role: DefragRecord["role"] = "follower";
      current = remaining.find((m) => m.id !== leaderId);
      if (!current) {
        current = remaining.find((m) => m.id === leaderId)!;
        role = "leader";
        if (op.moveLeader && members.length > 1) {
          const fresh = await readWholeCluster(context);
          if (!fresh.healthy) throw unhealthyError(fresh, ` before ${current.name}'s turn, so leadership stays and ${current.name} is not defragmented`);
          const defragmented = fresh.members.filter((m) => records.some((r) => r.id === m.id));
          const to = successorOf(fresh, undefined, defragmented);
          if (to instanceof OpsError) throw to;
          await transferLeadership(gateway, fresh.members.find((m) => m.id === leaderId)!, to, op.healthTimeoutMs, log);
          data.movedLeader = { from: current.name, to: to.name };
          role = "former leader";
        }
      }
      const record = await defragmentMember(gateway, { member: current, role, leaderId, turnAt }, op, endpointOf, log);
      changed = true;
      records.push(record);
      order.push(record.name);
      if (records.length < members.length && op.pauseMs > 0) {
        log(`pause ${seconds(op.pauseMs)}`);
        if (!(await sleep(op.pauseMs, signal))) throw new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted });
      }
      current = undefined;
    }
  } catch (error) {
    const untouched = members.filter((m) => !records.some((r) => r.id === m.id) && m !== current).map((m) => m.name);
    const reason = error instanceof OpsError ? error : new OpsError({ code: "E_ETCD", message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.check });
    const stopped = current ? `stopped at ${current.name}` : "stopped";
    log(`${stopped}: ${reason.message}${untouched.length > 0 ? `; not defragmented: ${untouched.join(", ")}` : ""}`);
    const message = reason.code === "E_INTERRUPTED" ? reason.message : `${reason.message}; ${stopped}${untouched.length > 0 ? `, ${untouched.join(", ")} not defragmented` : ""}`;
    return { ok: false, changed, data: { ...data, stoppedAt: current?.name ?? null, untouched }, error: new OpsError({ code: reason.code, message, ...(reason.hint ? { hint: reason.hint } : {}), exitCode: reason.exitCode }) };
  }
  log(`order: ${order.join(", ")}; ${records.map((r) => `${r.name} ${mib(r.before.dbSize)} -> ${mib(r.after.dbSize)}`).join(", ")}`);
  if (!op.disarm) return { ok: true, changed, data };
  const alarms = await disarmNospace(context);
  data.disarmed = alarms.disarmed;
  return { ok: alarms.kept === undefined, changed: changed || alarms.disarmed.length > 0, data, ...(alarms.kept ? { error: alarms.kept } : {}) };
}
