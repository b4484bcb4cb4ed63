// What etcd's JSON gateway answers, read into typed values. The gateway is
// grpc-gateway over etcd's protobuf API: 64-bit integers arrive as decimal
// strings, fields holding their zero value are left out, enums may come as
// names or numbers. Member ids are uint64, past what a JS number holds
// exactly, so they stay decimal strings.
import { ExitCode, OpsError } from "../../errors.ts";

/** One member's answer to /v3/maintenance/status. */
export interface MemberStatus {
  memberId: string;
  clusterId: string;
  version: string;
  /** The backend file's size, free pages included. */
  dbSize: number;
  /** What the data itself takes; undefined before etcd 3.4, which does not say. */
  dbSizeInUse: number | undefined;
  /** The quota etcd reports (3.6 and later); undefined when it does not. */
  dbSizeQuota: number | undefined;
  /** The leader's member id as this member knows it; "0" when it knows none. */
  leader: string;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  /** The store's current revision (the response header's). */
  revision: number;
  isLearner: boolean;
  /** What etcd reports wrong with the member, active alarms among them ("memberID:… alarm:NOSPACE"). */
  errors: string[];
}

/** One entry of /v3/cluster/member/list. */
export interface Member {
  id: string;
  /** Empty for a member added but not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export type AlarmKind = "NOSPACE" | "CORRUPT";
export interface Alarm {
  memberId: string;
  alarm: AlarmKind | string;
}

/** The gateway's error body: { error, code, message } with a gRPC status code. */
export interface GatewayError {
  code: number;
  message: string;
}

function malformed(what: string, detail: string): OpsError {
  return new OpsError({
    code: "E_ETCD_RESPONSE",
    message: `etcd's ${what} answer is malformed: ${detail}`,
    hint: "is this an etcd v3 client URL (its JSON gateway at /v3/)? opskit speaks to etcd 3.4 and later",
    exitCode: ExitCode.check,
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** A uint64 as the gateway writes it (a decimal string, or a number); absent means zero. */
function uint64Text(value: unknown, field: string, what: string): string {
  if (value === undefined || value === null) return "0";
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === "string" && /^\d{1,20}$/.test(value) && BigInt(value) < 2n ** 64n) return value.replace(/^0+(?=\d)/, "");
  throw malformed(what, `${field} is ${JSON.stringify(value)?.slice(0, 40)}, not an unsigned integer`);
}

/** A size or an index: a uint64 that must fit a JS number exactly (sizes and raft indexes do, by far). */
function count(value: unknown, field: string, what: string): number {
  const text = uint64Text(value, field, what);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw malformed(what, `${field} ${text} is too large`);
  return n;
}

function strings(value: unknown, field: string, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw malformed(what, `${field} is not a list of strings`);
  return value as string[];
}

function header(json: Record<string, unknown>, what: string): Record<string, unknown> {
  const head = json.header ?? {};
  if (!isRecord(head)) throw malformed(what, "header is not an object");
  return head;
}

export function parseStatus(json: unknown): MemberStatus {
  const what = "status";
  if (!isRecord(json)) throw malformed(what, "not a JSON object");
  const head = header(json, what);
  const memberId = uint64Text(head.member_id, "header.member_id", what);
  if (memberId === "0") throw malformed(what, "no header.member_id");
  if (json.version !== undefined && typeof json.version !== "string") throw malformed(what, "version is not a string");
  return {
    memberId,
    clusterId: uint64Text(head.cluster_id, "header.cluster_id", what),
    version: (json.version as string | undefined) ?? "",
    dbSize: count(json.dbSize, "dbSize", what),
    dbSizeInUse: json.dbSizeInUse === undefined ? undefined : count(json.dbSizeInUse, "dbSizeInUse", what),
    dbSizeQuota: json.dbSizeQuota === undefined ? undefined : count(json.dbSizeQuota, "dbSizeQuota", what) || undefined,
    leader: uint64Text(json.leader, "leader", what),
    raftIndex: count(json.raftIndex, "raftIndex", what),
    raftTerm: count(json.raftTerm, "raftTerm", what),
    raftAppliedIndex: count(json.raftAppliedIndex, "raftAppliedIndex", what),
    revision: count(head.revision, "header.revision", what),
    isLearner: json.isLearner === true,
    errors: strings(json.errors, "errors", what),
  };
}

export function parseMemberList(json: unknown): Member[] {
  const what = "member list";
  if (!isRecord(json)) throw malformed(what, "not a JSON object");
  const members = json.members ?? [];
  if (!Array.isArray(members)) throw malformed(what, "members is not a list");
  return members.map((member, i) => {
    if (!isRecord(member)) throw malformed(what, `members[${i}] is not an object`);
    if (member.name !== undefined && typeof member.name !== "string") throw malformed(what, `members[${i}].name is not a string`);
    return {
      id: uint64Text(member.ID ?? member.id, `members[${i}].ID`, what),
      name: (member.name as string | undefined) ?? "",
      peerURLs: strings(member.peerURLs, `members[${i}].peerURLs`, what),
      clientURLs: strings(member.clientURLs, `members[${i}].clientURLs`, what),
      isLearner: member.isLearner === true,
    };
  });
}

/** etcdserverpb.AlarmType by number, for a gateway that writes enums as numbers. */
const alarmNames: Record<number, string> = { 0: "NONE", 1: "NOSPACE", 2: "CORRUPT" };

export function parseAlarms(json: unknown): Alarm[] {
  const what = "alarm";
  if (!isRecord(json)) throw malformed(what, "not a JSON object");
  const alarms = json.alarms ?? [];
  if (!Array.isArray(alarms)) throw malformed(what, "alarms is not a list");
  return alarms.map((entry, i) => {
    if (!isRecord(entry)) throw malformed(what, `alarms[${i}] is not an object`);
    const raw = entry.alarm ?? 0;
    const alarm = typeof raw === "number" ? (alarmNames[raw] ?? String(raw)) : typeof raw === "string" ? raw : undefined;
    if (alarm === undefined || !/^[A-Z_0-9]{1,32}$/.test(alarm)) throw malformed(what, `alarms[${i}].alarm is ${JSON.stringify(raw)?.slice(0, 40)}`);
    return { memberId: uint64Text(entry.memberID, `alarms[${i}].memberID`, what), alarm };
  });
}

/** The current revision from any response's header (a put, a range). */
export function parseRevision(json: unknown): number {
  if (!isRecord(json)) throw malformed("response", "not a JSON object");
  return count(header(json, "response").revision, "header.revision", "response");
}

/** The error body of a non-2xx gateway answer; undefined when it is not one (a proxy's page). */
export function parseGatewayError(json: unknown): GatewayError | undefined {
  if (!isRecord(json)) return undefined;
  const message = typeof json.message === "string" ? json.message : typeof json.error === "string" ? json.error : undefined;
  if (message === undefined) return undefined;
  return { code: typeof json.code === "number" ? json.code : -1, message };
}
