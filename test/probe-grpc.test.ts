import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { probeJson, runOpskit } from "./harness/cli.ts";
import { startGrpcHealthServer, type TestGrpcServer } from "./harness/grpc.ts";
import { startHttpServer } from "./harness/http.ts";
import { refusedPort, startHangServer } from "./harness/net.ts";

let pki: TestPki;
let health: TestGrpcServer;
let bare: TestGrpcServer;
let secure: TestGrpcServer;
let base: string;

beforeAll(async () => {
  pki = await makeTestPki();
  [health, bare, secure] = await Promise.all([
    startGrpcHealthServer(),
    startGrpcHealthServer({ health: false }),
    startGrpcHealthServer({ tls: pki.valid }),
  ]);
  base = `grpc://127.0.0.1:${health.port}`;
});

afterAll(async () => {
  await Promise.all([health?.stop(), bare?.stop(), secure?.stop()]);
});


describe("grpc probe against grpc-js's health service", () => {
  test("the server as a whole (empty service) is SERVING: exit 0 with connect, firstByte and transfer timed", async () => {
    const { code, result } = await probeJson([base]);
    expect(code).toBe(0);
    expect(result.kind).toBe("grpc");
    expect(result.verdict).toBe("healthy");
    expect(result.grpc).toEqual({ service: "", status: "SERVING", code: 0, message: "OK" });
    expect(result.ip).toBe("127.0.0.1");
    for (const phase of ["connect", "firstByte", "transfer", "total"]) expect(result.timings[phase]).toBeGreaterThan(0);
    expect(result.timings.tls).toBeUndefined();
  });

  test("a named service that is SERVING is healthy", async () => {
    const { code, result } = await probeJson([`${base}/api`]);
    expect(code).toBe(0);
    expect(result.grpc.service).toBe("api");
    expect(result.grpc.status).toBe("SERVING");
  });

  test("a NOT_SERVING service is reached but unhealthy: exit 2, reason NOT_SERVING", async () => {
    const { code, result } = await probeJson([`${base}/db`]);
    expect(code).toBe(2);
    expect(result.verdict).toBe("unhealthy");
    expect(result.phase).toBe("check");
    expect(result.reason).toBe("NOT_SERVING");
    expect(result.grpc.status).toBe("NOT_SERVING");
  });

  test("a service the server does not know is exit 2 with the grpc-status and message as reason", async () => {
    const { code, result } = await probeJson([`${base}/billing`]);
    expect(code).toBe(2);
    expect(result.reason).toBe("grpc-status 5 NOT_FOUND: Health status unknown for service billing");
    expect(result.grpc).toMatchObject({ service: "billing", status: "SERVICE_UNKNOWN", code: 5 });
  });

  test("a gRPC server without the health service is exit 2: UNIMPLEMENTED", async () => {
    const { code, result } = await probeJson([`grpc://127.0.0.1:${bare.port}`]);
    expect(code).toBe(2);
    expect(result.reason).toBe("grpc-status 12 UNIMPLEMENTED: server has no health service");
    expect(result.grpc.code).toBe(12);
    expect(result.grpc.message).toContain("/grpc.health.v1.Health/Check");
  });

  test("a host name is resolved and the dns phase timed", async () => {
    const { code, result } = await probeJson([`grpc://localhost:${health.port}/api`]);
    expect(code).toBe(0);
    expect(result.timings.dns).toBeGreaterThan(0);
  });

  test("CEL expectations see grpc.status, grpc.code and grpc.service", async () => {
    const ok = await probeJson([base, "--expect", 'grpc.status == "SERVING"', "--expect", 'grpc.code == 0 && grpc.service == ""']);
    expect(ok.code).toBe(0);
    expect(ok.result.expectations).toEqual([
      { expr: 'grpc.status == "SERVING"', passed: true },
      { expr: 'grpc.code == 0 && grpc.service == ""', passed: true },
    ]);
    const failed = await probeJson([`${base}/db`, "--expect", 'grpc.status == "SERVING"']);
    expect(failed.code).toBe(2);
    expect(failed.result.reason).toBe('expected grpc.status == "SERVING", got grpc.status = "NOT_SERVING"');
  });

  test("--header is sent as gRPC metadata without breaking the call", async () => {
    const { code } = await probeJson([`${base}/api`, "--header", "x-probe: opskit"]);
    expect(code).toBe(0);
  });
});

describe("grpcs probe", () => {
  test("a trusted certificate: SERVING, with tls timed and the certificate described", async () => {
    const { code, result } = await probeJson([`grpcs://127.0.0.1:${secure.port}/api`, "--ca", pki.caCert]);
    expect(code).toBe(0);
    expect(result.grpc.status).toBe("SERVING");
    expect(result.tls.subject).toBe("CN=valid");
    expect(result.tls.issuer).toBe("CN=opskit test CA");
    expect(result.timings.tls).toBeGreaterThan(0);
  });

  test("an untrusted certificate is exit 2 in tls; --insecure probes anyway", async () => {
    const untrusted = await probeJson([`grpcs://127.0.0.1:${secure.port}`]);
    expect(untrusted.code).toBe(2);
    expect(untrusted.result.phase).toBe("tls");
    expect(untrusted.result.error.code).toBe("E_TLS_UNTRUSTED");
    const insecure = await probeJson([`grpcs://127.0.0.1:${secure.port}`, "--insecure"]);
    expect(insecure.code).toBe(0);
    expect(insecure.result.grpc.status).toBe("SERVING");
  });

  test("servername= checks the certificate against another name", async () => {
    const { code, result } = await probeJson([`grpcs://127.0.0.1:${secure.port}?servername=other.example`, "--ca", pki.caCert]);
    expect(code).toBe(2);
    expect(result.error.code).toBe("E_TLS_HOSTNAME");
  });

  test("grpcs:// against a plaintext port fails the TLS handshake: exit 1", async () => {
    const { code, result } = await probeJson([`grpcs://127.0.0.1:${health.port}`]);
    expect(code).toBe(1);
    expect(result.phase).toBe("tls");
    expect(result.error.code).toBe("E_TLS_HANDSHAKE");
  });
});

describe("grpc probe transport failures", () => {
  test("a refused port exits 1, failed in connect", async () => {
    const { code, result } = await probeJson([`grpc://127.0.0.1:${await refusedPort()}`]);
    expect(code).toBe(1);
    expect(result.verdict).toBe("down");
    expect(result.reason).toBe("failed in connect: connection refused");
  });

  test("a server that accepts and never answers times out in firstByte: exit 1", async () => {
    const hang = await startHangServer();
    try {
      const { code, result } = await probeJson([`grpc://127.0.0.1:${hang.port}`, "--timeout", "300ms"]);
      expect(code).toBe(1);
      expect(result.phase).toBe("firstByte");
      expect(result.error.code).toBe("E_TIMEOUT");
      expect(result.timings.total).toBeLessThan(2_000);
    } finally {
      await hang.stop();
    }
  });

  test("a server that hangs up at once is exit 1 without waiting for the timeout", async () => {
    // Not net.ts's startClosingServer: it never reads, so once a client has
    // sent bytes (the HTTP/2 preface) it never sees the FIN and cannot stop.
    const closing = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => void socket.end(), data: () => undefined } });
    try {
      const { code, result } = await probeJson([`grpc://127.0.0.1:${closing.port}`, "--timeout", "10s"]);
      expect(code).toBe(1);
      expect(result.phase).toBe("firstByte");
      expect(result.error.code).toBe("E_GRPC_CLOSED");
      expect(result.timings.total).toBeLessThan(5_000);
    } finally {
      closing.stop(true);
    }
  });

  test("an HTTP/1.1-only server fails the HTTP/2 exchange: exit 1", async () => {
    const http1 = startHttpServer();
    try {
      const { code, result } = await probeJson([`grpc://127.0.0.1:${http1.port}`, "--timeout", "10s"]);
      expect(code).toBe(1);
      expect(result.phase).toBe("firstByte");
      expect(result.error.code).toMatch(/^E_(HTTP2|GRPC_CLOSED)$/);
    } finally {
      http1.stop(true);
    }
  });
});

describe("grpc target parsing", () => {
  test("a grpc target without a port is a usage error with a hint", async () => {
    const run = await runOpskit(["probe", "grpc://127.0.0.1/api"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("needs a port");
    expect(run.stderr).toContain("hint:");
  });

  test("a header gRPC reserves cannot be sent as metadata", async () => {
    const run = await runOpskit(["probe", `grpc://127.0.0.1:1`, "--header", "grpc-timeout: 1S"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("cannot be sent as gRPC metadata");
  });
});
