import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { probeJson, runOpskit } from "./harness/cli.ts";
import { closedUdpPort, dnsRecords, hasIpv6Loopback, startDnsmasq, startSilentUdpServer, type TestDnsmasq } from "./harness/dns.ts";

const ipv6 = await hasIpv6Loopback();
let dnsmasq: TestDnsmasq;
let silent: Awaited<ReturnType<typeof startSilentUdpServer>>;

beforeAll(async () => {
  dnsmasq = await startDnsmasq();
  silent = await startSilentUdpServer();
});

afterAll(async () => {
  await dnsmasq.stop();
  await silent.stop();
});

const target = (name: string, type = "A", server = dnsmasq.server) => `dns://${name}?type=${type}&server=${server}`;


describe("dns probe against dnsmasq", () => {
  test("an A record is healthy, with the answer, the server, NOERROR and a dns timing", async () => {
    const { code, result } = await probeJson([target(dnsRecords.a.name), "--expect", `dns.answers.exists(a, a.data == "${dnsRecords.a.ipv4}")`]);
    expect(code).toBe(0);
    expect(result.kind).toBe("dns");
    expect(result.verdict).toBe("healthy");
    expect(result.dns.server).toBe(dnsmasq.server);
    expect(result.dns.rcode).toBe("NOERROR");
    expect(result.dns.answers).toEqual([{ name: dnsRecords.a.name, type: "A", ttl: dnsRecords.ttl, data: dnsRecords.a.ipv4 }]);
    expect(result.timings.dns).toBeGreaterThan(0);
    expect(result.timings.dns).toBeLessThanOrEqual(result.timings.total);
  });

  test("type defaults to A and a healthy answer needs no expectation", async () => {
    const { code, result } = await probeJson([`dns://${dnsRecords.a.name}?server=${dnsmasq.server}`]);
    expect(code).toBe(0);
    expect(result.dns.answers[0].data).toBe(dnsRecords.a.ipv4);
  });

  test("an expectation for another address fails with exit 2", async () => {
    const expr = 'dns.answers.exists(a, a.data == "10.9.9.9")';
    const { code, result } = await probeJson([target(dnsRecords.a.name), "--expect", expr]);
    expect(code).toBe(2);
    expect(result.verdict).toBe("unhealthy");
    expect(result.reason).toBe(`expected ${expr}, got dns.answers = ${JSON.stringify([{ name: dnsRecords.a.name, type: "A", ttl: dnsRecords.ttl, data: dnsRecords.a.ipv4 }])}`);
  });

  test("an expectation can check the phase timing", async () => {
    const { code } = await probeJson([target(dnsRecords.a.name), "--expect", 'timing.dns < duration("2s")']);
    expect(code).toBe(0);
  });

  test("AAAA returns the IPv6 address", async () => {
    const { code, result } = await probeJson([target(dnsRecords.dual.name, "AAAA")]);
    expect(code).toBe(0);
    expect(result.dns.answers.map((a: { type: string; data: string }) => [a.type, a.data])).toEqual([["AAAA", dnsRecords.dual.ipv6]]);
  });

  test("CNAME returns the target name", async () => {
    const { code, result } = await probeJson([target(dnsRecords.cname.name, "CNAME")]);
    expect(code).toBe(0);
    expect(result.dns.answers[0]).toMatchObject({ name: dnsRecords.cname.name, type: "CNAME", data: dnsRecords.cname.target });
  });

  test("MX returns preference and exchange", async () => {
    const { code, result } = await probeJson([target(dnsRecords.mx.name, "mx")]);
    expect(code).toBe(0);
    expect(result.dns.answers[0]).toMatchObject({ type: "MX", data: `${dnsRecords.mx.preference} ${dnsRecords.mx.exchange}` });
  });

  test("TXT returns the text", async () => {
    const { code, result } = await probeJson([target(dnsRecords.txt.name, "TXT"), "--expect", `dns.answers[0].data == "${dnsRecords.txt.text}"`]);
    expect(code).toBe(0);
    expect(result.dns.answers[0]).toMatchObject({ type: "TXT", data: dnsRecords.txt.text });
  });

  test("SRV returns priority, weight, port and target", async () => {
    const { srv } = dnsRecords;
    const { code, result } = await probeJson([target(srv.name, "SRV")]);
    expect(code).toBe(0);
    expect(result.dns.answers[0]).toMatchObject({ type: "SRV", data: `${srv.priority} ${srv.weight} ${srv.port} ${srv.target}` });
  });

  test("a reply too big for UDP comes back truncated and is fetched again over TCP", async () => {
    const { code, result } = await probeJson([target(dnsRecords.bigTxt.name, "TXT")]);
    expect(code).toBe(0);
    expect(result.dns.answers[0].data).toBe(dnsRecords.bigTxt.text);
  });

  test("a name that does not exist is unhealthy (exit 2) with rcode NXDOMAIN", async () => {
    const { code, result } = await probeJson([target(dnsRecords.missing.name)]);
    expect(code).toBe(2);
    expect(result.verdict).toBe("unhealthy");
    expect(result.dns.rcode).toBe("NXDOMAIN");
    expect(result.reason).toBe("NXDOMAIN");
  });

  test("a name without records of the asked type is unhealthy (exit 2)", async () => {
    const { code, result } = await probeJson([target(dnsRecords.v4only.name, "AAAA")]);
    expect(code).toBe(2);
    expect(result.dns.rcode).toBe("NOERROR");
    expect(result.reason).toBe("no AAAA records");
  });

  // Outside CI a machine without an IPv6 loopback skips this; in CI the missing prerequisite fails.
  test.skipIf(!ipv6 && process.env.CI !== "true")("an IPv6 server is written [::1]:PORT (needs an IPv6 loopback)", async () => {
    if (!ipv6) throw new Error("this machine has no IPv6 loopback (::1); enable it (sysctl net.ipv6.conf.lo.disable_ipv6=0)");
    const { code, result } = await probeJson([target(dnsRecords.a.name, "A", dnsmasq.server6)]);
    expect(code).toBe(0);
    expect(result.dns.server).toBe(dnsmasq.server6);
    expect(result.ip).toBe("::1");
  });

  test("the human line shows the verdict, name and rcode/answer count", async () => {
    const run = await runOpskit(["probe", target(dnsRecords.a.name)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^HEALTHY +dns:\/\/a\.opskit\.test\S* +NOERROR\/1 /);
  });
});

describe("dns probe failures", () => {
  test("a server port where nothing listens exits 1, refused in dns", async () => {
    const { code, result } = await probeJson([target(dnsRecords.a.name, "A", `127.0.0.1:${await closedUdpPort()}`)]);
    expect(code).toBe(1);
    expect(result.verdict).toBe("down");
    expect(result.phase).toBe("dns");
    expect(result.reason).toBe("failed in dns: connection refused");
    expect(result.error.code).toBe("E_CONN_REFUSED");
  });

  test("a server that never answers times out in dns with exit 1", async () => {
    const { code, result } = await probeJson([target(dnsRecords.a.name, "A", `127.0.0.1:${silent.port}`), "--timeout", "300ms"]);
    expect(code).toBe(1);
    expect(result.phase).toBe("dns");
    expect(result.error.code).toBe("E_TIMEOUT");
    expect(result.reason).toBe("failed in dns: timed out after 300ms");
  });

  test("an unknown record type is a usage error (exit 64) whose hint lists the types", async () => {
    const run = await runOpskit(["probe", target(dnsRecords.a.name, "BOGUS")]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('unknown record type "BOGUS"');
    expect(run.stderr).toContain("hint: use one of A, AAAA, CNAME, MX, TXT, SRV, NS, PTR, SOA");
  });

  test("a malformed server is a usage error (exit 64) whose hint shows IP:PORT", async () => {
    const run = await runOpskit(["probe", target(dnsRecords.a.name, "A", "dns.example:53")]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('invalid server "dns.example:53"');
    expect(run.stderr).toContain("IP:PORT");
  });
});
