import { describe, expect, test } from "bun:test";
import { probers } from "./probers.ts";
import { expectationScope } from "./cel-scope.ts";
import { expectationVariables, statusText, stepData, stepVariables } from "./scope.ts";
import { parseTarget } from "./target.ts";
import type { Observation, ProbeResult, Verdict } from "./types.ts";

const tls = {
  version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", subject: "CN=a", issuer: "CN=ca", altNames: ["a"],
  notBefore: "2025-01-01T00:00:00.000Z", notAfter: "2035-01-01T00:00:00.000Z", expiresInMs: 1, fingerprint256: "AA", chainError: "",
  chainNotAfter: "2030-01-01T00:00:00.000Z", chainExpiresInMs: 1,
};
const http = { version: "1.1", reason: "OK", headers: { "content-type": "text/plain" }, bodyBytes: 3, truncated: false, url: "http://127.0.0.1/" };

function result(kind: string, observation: Observation, verdict: Verdict = "healthy"): ProbeResult {
  return {
    target: `${kind}://h:1`, name: "n", kind, labels: {}, verdict, exitCode: 0, timings: { total: 1 }, expectations: [], attempts: [], startedAt: "",
    ...observation,
  };
}

describe("each prober says how its results read", () => {
  test("the status column is the protocol's own short answer, '-' when it has none", () => {
    expect(statusText(result("http", { status: 503, tls, http }))).toBe("503");
    expect(statusText(result("http", {}, "down"))).toBe("-");
    expect(statusText(result("tcp", { ip: "127.0.0.1" }))).toBe("open");
    expect(statusText(result("tcp", { ip: "127.0.0.1" }, "unhealthy"))).toBe("-");
    expect(statusText(result("tls", { tls }))).toBe("TLSv1.3");
    expect(statusText(result("ssh", { ssh: { banner: "SSH-2.0-x", protoVersion: "2.0", software: "OpenSSH_9.2" } }))).toBe("OpenSSH_9.2");
    expect(statusText(result("ssh", { ssh: { banner: "SSH-2.0-", protoVersion: "2.0", software: "" } }))).toBe("2.0");
    expect(statusText(result("dns", { dns: { server: "s", rcode: "NOERROR", question: { name: "a", type: "A" }, answers: [{ name: "a", type: "A", ttl: 1, data: "1.2.3.4" }] } }))).toBe("NOERROR/1");
    expect(statusText(result("grpc", { tls, grpc: { service: "", status: "NOT_SERVING", code: 0, message: "" } }))).toBe("NOT_SERVING");
    expect(statusText(result("no-such-kind", { status: 200 }))).toBe("-");
  });

  test("no two probers declare the same CEL name, nor one of the shared names", () => {
    const shared = ["status", "duration", "timing", "tls", "ip", "target", "labels"];
    const declared = probers.flatMap((prober) => Object.keys(prober.scope?.variables ?? {}));
    expect(new Set(declared).size).toBe(declared.length);
    expect(declared.filter((name) => shared.includes(name))).toEqual([]);
    expect(Object.keys(expectationVariables).sort()).toEqual([...shared, ...declared].sort());
    expect(Object.keys(expectationVariables).slice(0, 3)).toEqual(["status", "duration", "timing"]);
  });

  test("an expectation sees its own protocol's names; another protocol's read as absent, HTTP headers as empty", () => {
    const plan = { target: parseTarget("tcp://127.0.0.1:1"), name: "db", labels: { tier: "db" }, expectations: [] };
    const scope = expectationScope(plan, { ip: "127.0.0.1" }, { connect: 2, total: 3 });
    expect(Object.keys(scope).sort()).toEqual(Object.keys(expectationVariables).sort());
    expect(scope).toMatchObject({ ip: "127.0.0.1", headers: {}, target: { url: "tcp://127.0.0.1:1", kind: "tcp", name: "db" }, labels: { tier: "db" } });
    for (const name of ["status", "body", "http", "dns", "grpc", "ssh", "tls"]) expect(scope[name]).toBeUndefined();
    const dns = expectationScope(plan, { dns: { server: "s", rcode: "NOERROR", question: { name: "a", type: "A" }, answers: [{ name: "a", type: "A", ttl: 60, data: "x" }] } }, { total: 1 });
    expect((dns.dns as { answers: { ttl: unknown }[] }).answers[0]!.ttl).toBe(60n);
  });

  test("a workflow step keeps the protocol's fields as JSON, named as in resultVariables", () => {
    expect(stepData(result("http", { ip: "127.0.0.1", status: 200, tls, http, body: { text: "ok\n" } }))).toEqual({ status: 200, body: { text: "ok\n" }, headers: http.headers, tls });
    const grpc = { service: "", status: "SERVING" as const, code: 0, message: "" };
    expect(stepData(result("grpc", { ip: "127.0.0.1", tls, grpc }))).toEqual({ grpc, tls });
    expect(stepData(result("tcp", { ip: "127.0.0.1" }))).toEqual({});
    for (const prober of probers) {
      const keys = Object.keys(stepData(result(prober.kind, { status: 1, tls, http, body: { text: "" }, ssh: { banner: "", protoVersion: "", software: "" } })));
      expect(keys.filter((key) => !stepVariables.includes(key))).toEqual([]);
    }
  });
});
