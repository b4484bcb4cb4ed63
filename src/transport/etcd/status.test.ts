import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseEndpoint } from "./gateway.ts";
import { parseAlarms, parseGatewayError, parseMemberList, parseRevision, parseStatus } from "./status.ts";

// Answers as etcd 3.4.23's gateway gave them (Debian's etcd-server on loopback).
const status34 = {
  header: { cluster_id: "17322404989705530355", member_id: "13510015062231200447", revision: "60", raft_term: "3" },
  version: "3.4.23",
  dbSize: "73101312",
  leader: "4604169525548326157",
  raftIndex: "76",
  raftTerm: "3",
  raftAppliedIndex: "76",
  errors: ["memberID:228333689586245702 alarm:NOSPACE ", "memberID:13510015062231200447 alarm:NOSPACE "],
  dbSizeInUse: "61108224",
};
const members34 = {
  header: { cluster_id: "17322404989705530355", member_id: "13510015062231200447", raft_term: "2" },
  members: [
    { ID: "228333689586245702", name: "m2", peerURLs: ["http://127.0.0.1:23811"], clientURLs: ["http://127.0.0.1:23810"] },
    { ID: "4604169525548326157", name: "m3", peerURLs: ["http://127.0.0.1:23821"], clientURLs: ["http://127.0.0.1:23820"] },
    { ID: "13510015062231200447", name: "m1", peerURLs: ["http://127.0.0.1:23801"], clientURLs: ["http://127.0.0.1:23800"] },
  ],
};

describe("parseStatus", () => {
  test("reads etcd 3.4's answer: 64-bit numbers from strings, ids kept as text past 2^53", () => {
    expect(parseStatus(status34)).toEqual({
      memberId: "13510015062231200447",
      clusterId: "17322404989705530355",
      version: "3.4.23",
      dbSize: 73101312,
      dbSizeInUse: 61108224,
      dbSizeQuota: undefined,
      leader: "4604169525548326157",
      raftIndex: 76,
      raftTerm: 3,
      raftAppliedIndex: 76,
      revision: 60,
      isLearner: false,
      errors: status34.errors,
    });
  });

  test("fields at their zero value are left out by the gateway: zero, no leader, no errors", () => {
    const status = parseStatus({ header: { member_id: "7" }, version: "3.4.23", dbSize: "20480" });
    expect(status).toMatchObject({ memberId: "7", clusterId: "0", leader: "0", raftIndex: 0, raftAppliedIndex: 0, revision: 0, errors: [], isLearner: false, dbSizeInUse: undefined });
  });

  test("etcd 3.6 reports its quota and learners", () => {
    const status = parseStatus({ ...status34, dbSizeQuota: "8589934592", isLearner: true });
    expect(status.dbSizeQuota).toBe(8589934592);
    expect(status.isLearner).toBe(true);
    expect(parseStatus({ ...status34, dbSizeQuota: "0" }).dbSizeQuota).toBeUndefined();
  });

  test("numbers may come as JSON numbers too", () => {
    expect(parseStatus({ header: { member_id: 12 }, dbSize: 4096, raftIndex: 9 })).toMatchObject({ memberId: "12", dbSize: 4096, raftIndex: 9 });
  });

  test("anything else is a malformed answer, never a number made up", () => {
    for (const bad of [
      null,
      [],
      "text",
      { header: "x" },
      { header: {} },
      { header: { member_id: "-1" } },
      { header: { member_id: "1" }, dbSize: "12abc" },
      { header: { member_id: "1" }, dbSize: -4 },
      { header: { member_id: "1" }, dbSize: 1.5 },
      { header: { member_id: "1" }, dbSize: "99999999999999999999" },
      { header: { member_id: "18446744073709551616" } },
      { header: { member_id: "1" }, errors: "NOSPACE" },
      { header: { member_id: "1" }, errors: [1] },
      { header: { member_id: "1" }, version: 3 },
    ]) {
      expect(() => parseStatus(bad)).toThrow(expect.objectContaining({ code: "E_ETCD_RESPONSE" }));
    }
  });

  test("generated answers: every uint64 string is read exactly, every other value refused", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), (id, size) => {
        const status = parseStatus({ header: { member_id: id.toString() }, dbSize: size.toString() });
        expect(status.dbSize).toBe(Number(size));
        expect(BigInt(status.memberId)).toBe(id);
      }),
    );
    fc.assert(
      fc.property(fc.string().filter((s) => !/^\d{1,20}$/.test(s)), (text) => {
        expect(() => parseStatus({ header: { member_id: "1" }, dbSize: text })).toThrow();
      }),
    );
  });
});

describe("parseMemberList, parseAlarms, parseRevision, parseGatewayError", () => {
  test("the member list of etcd 3.4, learners marked", () => {
    const members = parseMemberList(members34);
    expect(members.map((m) => [m.name, m.id, m.clientURLs[0]])).toEqual([
      ["m2", "228333689586245702", "http://127.0.0.1:23810"],
      ["m3", "4604169525548326157", "http://127.0.0.1:23820"],
      ["m1", "13510015062231200447", "http://127.0.0.1:23800"],
    ]);
    expect(parseMemberList({ members: [{ ID: "5", isLearner: true }] })).toEqual([{ id: "5", name: "", peerURLs: [], clientURLs: [], isLearner: true }]);
    expect(() => parseMemberList({ members: [{ ID: "5", name: 7 }] })).toThrow();
  });

  test("alarms by name (etcd's gateway) or number; none is an empty answer", () => {
    expect(parseAlarms({ alarms: [{ memberID: "228333689586245702", alarm: "NOSPACE" }, { memberID: "1", alarm: 2 }] })).toEqual([
      { memberId: "228333689586245702", alarm: "NOSPACE" },
      { memberId: "1", alarm: "CORRUPT" },
    ]);
    expect(parseAlarms({})).toEqual([]);
    expect(() => parseAlarms({ alarms: [{ memberID: "1", alarm: "no space; rm -rf" }] })).toThrow();
  });

  test("a put's or range's revision; the gateway's error body", () => {
    expect(parseRevision({ header: { cluster_id: "1", member_id: "2", revision: "61", raft_term: "3" } })).toBe(61);
    expect(parseGatewayError({ error: "etcdserver: mvcc: required revision has been compacted", message: "etcdserver: mvcc: required revision has been compacted", code: 11 })).toEqual({
      code: 11,
      message: "etcdserver: mvcc: required revision has been compacted",
    });
    expect(parseGatewayError("<html>bad gateway</html>")).toBeUndefined();
  });
});

describe("parseEndpoint", () => {
  test("a client URL becomes its origin", () => {
    expect(parseEndpoint("http://10.0.0.1:2379", "e")).toBe("http://10.0.0.1:2379");
    expect(parseEndpoint(" https://etcd-1.internal:2379/ ", "e")).toBe("https://etcd-1.internal:2379");
    expect(parseEndpoint("http://[::1]:2379", "e")).toBe("http://[::1]:2379");
  });

  test("a path, query, credentials, another scheme or no port is refused: a value cannot choose what is called", () => {
    for (const bad of ["http://10.0.0.1:2379/v3/kv/put", "http://10.0.0.1:2379?x=1", "http://10.0.0.1:2379#f", "http://u:p@10.0.0.1:2379", "ftp://10.0.0.1:2379", "http://10.0.0.1", "10.0.0.1:2379", "", "$(touch /tmp/x)"]) {
      expect(() => parseEndpoint(bad, "e")).toThrow(expect.objectContaining({ code: "E_ETCD_ENDPOINT" }));
    }
  });
});
