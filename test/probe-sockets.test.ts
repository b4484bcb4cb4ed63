import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { probeJson, runOpskit } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";
import { refusedPort, startClosingServer, startHangServer } from "./harness/net.ts";
import { startSshd, type TestSshd } from "./harness/sshd.ts";

let pki: TestPki;
let https: Server<undefined>;
let expired: Server<undefined>;
let sshd: TestSshd;

beforeAll(async () => {
  pki = await makeTestPki();
  https = startHttpServer(pki.valid);
  expired = startHttpServer(pki.expired);
  sshd = await startSshd();
});

afterAll(async () => {
  https.stop(true);
  expired.stop(true);
  await sshd.stop();
});


describe("tcp probe", () => {
  test("an open port is healthy with a connect timing", async () => {
    const { code, result } = await probeJson([`tcp://127.0.0.1:${sshd.port}`, "--expect", 'timing.connect < duration("2s")']);
    expect(code).toBe(0);
    expect(result.kind).toBe("tcp");
    expect(result.timings.connect).toBeGreaterThan(0);
  });

  test("a refused port exits 1, failed in connect", async () => {
    const { code, result } = await probeJson([`tcp://127.0.0.1:${await refusedPort()}`]);
    expect(code).toBe(1);
    expect(result.reason).toBe("failed in connect: connection refused");
  });

  test("a tcp target without a port is a usage error with a hint", async () => {
    const run = await runOpskit(["probe", "tcp://127.0.0.1"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("needs a port");
    expect(run.stderr).toContain("hint:");
  });
});

describe("tls probe", () => {
  test("reports certificate subject, issuer and expiry for a trusted certificate", async () => {
    const { code, result } = await probeJson([`tls://127.0.0.1:${https.port}`, "--ca", pki.caCert, "--expect", 'tls.expiresIn > duration("336h")']);
    expect(code).toBe(0);
    expect(result.tls.subject).toBe("CN=valid");
    expect(result.tls.issuer).toBe("CN=opskit test CA");
    expect(result.tls.version).toMatch(/^TLSv1\.[23]$/);
    expect(result.timings.tls).toBeGreaterThan(0);
  });

  test("an expired certificate exits 2: failed in tls: certificate expired", async () => {
    const { code, result } = await probeJson([`tls://127.0.0.1:${expired.port}`, "--ca", pki.caCert]);
    expect(code).toBe(2);
    expect(result.reason).toStartWith("failed in tls: certificate expired on ");
  });

  test("servername= checks the certificate against another name", async () => {
    const { code, result } = await probeJson([`tls://127.0.0.1:${https.port}?servername=other.example`, "--ca", pki.caCert]);
    expect(code).toBe(2);
    expect(result.error.code).toBe("E_TLS_HOSTNAME");
  });
});

describe("ssh probe", () => {
  test("reads OpenSSH's banner from a real sshd", async () => {
    const { code, result } = await probeJson([`ssh://127.0.0.1:${sshd.port}`, "--expect", 'ssh.banner.startsWith("SSH-2.0-OpenSSH")']);
    expect(code).toBe(0);
    expect(result.ssh.protoVersion).toBe("2.0");
    expect(result.ssh.software).toStartWith("OpenSSH_");
    expect(result.timings.firstByte).toBeGreaterThan(0);
  });

  test("something other than SSH on the port is unhealthy", async () => {
    const other = await startClosingServer("220 smtp ready\r\n");
    try {
      const { code, result } = await probeJson([`ssh://127.0.0.1:${other.port}`]);
      expect(code).toBe(2);
      expect(result.reason).toContain("not an SSH server");
    } finally {
      await other.stop();
    }
  });

  test("a server that accepts and stays silent times out", async () => {
    const hang = await startHangServer();
    try {
      const { code, result } = await probeJson([`ssh://127.0.0.1:${hang.port}`, "--timeout", "250ms"]);
      expect(code).toBe(1);
      expect(result.phase).toBe("firstByte");
      expect(result.error.code).toBe("E_TIMEOUT");
    } finally {
      await hang.stop();
    }
  });
});
