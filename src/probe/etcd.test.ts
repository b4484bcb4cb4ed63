import { describe, expect, test } from "bun:test";
import { compileExpectations } from "../expr/index.ts";
import { etcdProber } from "./etcd.ts";
import { expectationVariables } from "./scope.ts";
import { parseTarget } from "./target.ts";

// The etcd:// prober's target and CEL names; its probes of a real cluster are in test/etcd.test.ts (the example's check).

describe("etcd:// targets", () => {
  test("a host and port, etcds:// over TLS, ?quotaBytes= for the quota", () => {
    expect(parseTarget("etcd://10.0.0.1:2379").spec).toEqual({ endpoint: "http://10.0.0.1:2379", quotaBytes: 2 * 1024 ** 3 });
    expect(parseTarget("etcds://etcd-1.internal?quotaBytes=8589934592").spec).toEqual({ endpoint: "https://etcd-1.internal:2379", quotaBytes: 8589934592 });
  });

  test("a path, credentials, an unknown parameter or a quota that is not a number is refused before anything runs", () => {
    for (const bad of ["etcd://10.0.0.1:2379/v3/kv/put", "etcd://u:p@10.0.0.1:2379", "etcd://10.0.0.1:2379?quota=1", "etcd://10.0.0.1:2379?quotaBytes=1e9", "etcd://10.0.0.1:2379?quotaBytes=0"]) {
      expect(() => parseTarget(bad)).toThrow(expect.objectContaining({ exitCode: 64 }));
    }
  });

  test("etcd-defrag's rule compiles against the declared types, and a type mismatch does not", async () => {
    await compileExpectations(["!etcd.members.exists(m, m.dbQuotaUsage > 0.8 || m.dbSizeFree > 200*1024*1024)", "etcd.healthy && etcd.alarms.size() == 0"], () => "expect", expectationVariables);
    await expect(compileExpectations(["etcd.healthy == \"yes\""], () => "expect", expectationVariables)).rejects.toThrow();
  });

  test("judged healthy only when every member is and no alarm is active", () => {
    const view = { clusterId: "1", leaderId: "2", leader: "a", members: [], alarms: [], healthy: true, problems: [] };
    expect(etcdProber.judge!({ etcd: view })).toBeUndefined();
    expect(etcdProber.judge!({ etcd: { ...view, healthy: false, problems: ["b: it knows no leader"] } })).toBe("b: it knows no leader");
    expect(etcdProber.judge!({ etcd: { ...view, alarms: [{ memberId: "2", member: "a", alarm: "NOSPACE" }] } })).toBe("alarm NOSPACE on a");
  });
});
