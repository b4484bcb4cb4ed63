import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { probeJson, runOpskit } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";
import { refusedPort, startCountingHttpServer, startHangServer } from "./harness/net.ts";

let http: Server<undefined>;
let https: Server<undefined>;
let expired: Server<undefined>;
let wrongHost: Server<undefined>;
let pki: TestPki;
let hang: { port: number; stop(): Promise<void> };
let base: string;
let secure: string;

beforeAll(async () => {
  pki = await makeTestPki();
  http = startHttpServer();
  https = startHttpServer(pki.valid);
  expired = startHttpServer(pki.expired);
  wrongHost = startHttpServer(pki.wrongHost);
  hang = await startHangServer();
  base = `http://127.0.0.1:${http.port}`;
  secure = `https://127.0.0.1:${https.port}`;
});

afterAll(async () => {
  http.stop(true);
  https.stop(true);
  expired.stop(true);
  wrongHost.stop(true);
  await hang.stop();
});


describe("http probe", () => {
  test("a 200 is healthy with status, resolved IP and connect/firstByte/transfer timings", async () => {
    const { code, result, summary } = await probeJson([`${base}/ok`]);
    expect(code).toBe(0);
    expect(result.verdict).toBe("healthy");
    expect(result.status).toBe(200);
    expect(result.ip).toBe("127.0.0.1");
    for (const phase of ["connect", "firstByte", "transfer", "total"]) expect(result.timings[phase]).toBeGreaterThan(0);
    expect(result.timings.total).toBeGreaterThanOrEqual(result.timings.connect + result.timings.firstByte);
    expect(summary).toMatchObject({ targets: 1, healthy: 1, exitCode: 0 });
  });

  test("a 503 is reached but unhealthy: exit 2 with the status as reason", async () => {
    const { code, result } = await probeJson([`${base}/status/503`]);
    expect(code).toBe(2);
    expect(result.verdict).toBe("unhealthy");
    expect(result.reason).toContain("status 503");
    expect(result.phase).toBe("check");
  });

  test("by default 3xx counts as healthy and 404 does not", async () => {
    expect((await probeJson([`${base}/status/302`])).code).toBe(0);
    expect((await probeJson([`${base}/status/404`])).code).toBe(2);
  });

  test("a name is resolved and its dns phase timed", async () => {
    const { code, result } = await probeJson([`http://localhost:${http.port}/ok`]);
    expect(code).toBe(0);
    expect(result.timings.dns).toBeGreaterThan(0);
    expect(["127.0.0.1", "::1"]).toContain(result.ip);
  });

  test("CEL expectations see the JSON body, text, headers and durations", async () => {
    const ok = await probeJson([
      `${base}/json`,
      "--expect", 'body.json.status == "UP"',
      "--expect", "body.json.checks.exists(c, c.name == \"db\" && c.ok)",
      "--expect", 'headers["content-type"].startsWith("application/json")',
      "--expect", 'duration < duration("5s") && timing.connect < duration("5s")',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.result.expectations).toHaveLength(4);
    expect(ok.result.expectations.every((e: { passed: boolean }) => e.passed)).toBe(true);

    const bad = await probeJson([`${base}/ok`, "--expect", 'body.text.contains("nope")']);
    expect(bad.code).toBe(2);
    expect(bad.result.reason).toBe('expected body.text.contains("nope"), got body.text = "ok\\n"');
  });

  test("a type mismatch in an expectation is a usage error (64) before anything is probed, with a hint", async () => {
    const before = await startCountingHttpServer();
    try {
      const wrongStatus = await runOpskit(["probe", `http://127.0.0.1:${before.port}/`, "--expect", 'status == "200"']);
      expect(wrongStatus.code).toBe(64);
      expect(wrongStatus.stderr).toBe('opskit: --expect #1: status == "200" compares an int with a string\n  hint: status is an int: compare with 200, not "200"\n');
      const wrongDuration = await runOpskit(["probe", `http://127.0.0.1:${before.port}/`, "--expect", 'status == 200 && duration < "300ms"']);
      expect(wrongDuration.code).toBe(64);
      expect(wrongDuration.stderr).toContain('  hint: duration is a duration: write duration("300ms"), not "300ms"');
      expect(before.connections()).toBe(0);
    } finally {
      await before.stop();
    }
  });

  test("a failed expectation shows the values of the names it read, as hurl does", async () => {
    const text = await runOpskit(["probe", `${base}/status/503`, "--expect", "status == 200"]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("expected status == 200, got status = 503");
    const json = await probeJson([`${base}/json`, "--expect", 'body.json.status == "DOWN"']);
    expect(json.result.reason).toBe('expected body.json.status == "DOWN", got body.json.status = "UP"');
    expect(json.result.expectations).toEqual([{ expr: 'body.json.status == "DOWN"', passed: false, actual: 'body.json.status = "UP"' }]);
  });

  test("an expectation replaces the default status check", async () => {
    const { code } = await probeJson([`${base}/status/503`, "--expect", "status == 503"]);
    expect(code).toBe(0);
  });

  test("an expectation over a missing field fails with the evaluation error, not a crash", async () => {
    const { code, result } = await probeJson([`${base}/json`, "--expect", "body.json.missing == 1"]);
    expect(code).toBe(2);
    expect(result.expectations[0].error).toContain("missing");
  });

  test("a chunked body is read whole", async () => {
    const { code, result } = await probeJson([`${base}/chunked`, "--expect", 'body.text == "part one, part two"']);
    expect(code).toBe(0);
    expect(result.http.bodyBytes).toBe(18);
  });

  test("--method and --header are sent", async () => {
    const { code, result } = await probeJson([`${base}/headers`, "-X", "POST", "-H", "X-Probe: yes", "--expect", 'body.json["x-probe"] == "yes" && headers["x-method"] == "POST"']);
    expect(result.expectations[0]).toMatchObject({ passed: true });
    expect(code).toBe(0);
  });

  test("a refused port is a transport failure that names the connect phase", async () => {
    const port = await refusedPort();
    const { code, result } = await probeJson([`http://127.0.0.1:${port}/`]);
    expect(code).toBe(1);
    expect(result.verdict).toBe("down");
    expect(result.phase).toBe("connect");
    expect(result.reason).toBe("failed in connect: connection refused");
    expect(result.error.code).toBe("E_CONN_REFUSED");
  });

  test("a server that never answers times out in firstByte with exit 1", async () => {
    const { code, result } = await probeJson([`http://127.0.0.1:${hang.port}/`, "--timeout", "300ms"]);
    expect(code).toBe(1);
    expect(result.phase).toBe("firstByte");
    expect(result.reason).toContain("timed out after 300ms");
    expect(result.timings.total).toBeGreaterThanOrEqual(290);
    expect(result.timings.total).toBeLessThan(5000);
  });

  test("--retries keeps every attempt and the final one decides", async () => {
    const { code, result } = await probeJson([`${base}/flaky?key=retry-ok&fail=2`, "--retries", "3", "--retry-delay", "10ms"]);
    expect(code).toBe(0);
    expect(result.attempts.map((a: { verdict: string }) => a.verdict)).toEqual(["unhealthy", "unhealthy", "healthy"]);
    expect(result.attempts[0].reason).toContain("status 503");

    const exhausted = await probeJson([`${base}/flaky?key=retry-fail&fail=5`, "--retries", "1", "--retry-delay", "10ms"]);
    expect(exhausted.code).toBe(2);
    expect(exhausted.result.attempts).toHaveLength(2);
  });

  test("each probe opens a fresh connection, even to a keep-alive server", async () => {
    const server = await startCountingHttpServer();
    try {
      const url = `http://127.0.0.1:${server.port}/`;
      const { code, results } = await probeJson([url, url, url, url, "--concurrency", "1"]);
      expect(code).toBe(0);
      expect(results).toHaveLength(4);
      expect(server.connections()).toBe(4);
    } finally {
      await server.stop();
    }
  });
});

describe("https probe", () => {
  test("a certificate from a trusted CA is healthy and its expiry is reported", async () => {
    const { code, result } = await probeJson([`${secure}/ok`, "--ca", pki.caCert, "--expect", 'tls.expiresIn > duration("336h") && timing.tls < duration("5s")']);
    expect(code).toBe(0);
    expect(result.timings.tls).toBeGreaterThan(0);
    expect(result.tls.subject).toContain("CN=valid");
    expect(result.tls.expiresInMs).toBeGreaterThan(29 * 86_400_000);
    expect(new Date(result.tls.notAfter).getTime()).toBeGreaterThan(Date.now());
  });

  test("an expiry expectation catches a certificate too close to expiry", async () => {
    const { code, result } = await probeJson([`${secure}/ok`, "--ca", pki.caCert, "--expect", 'tls.expiresIn > duration("2160h")']);
    expect(code).toBe(2);
    expect(result.reason).toContain("tls.expiresIn");
  });

  test("an untrusted certificate fails in tls with a hint to pass --ca", async () => {
    const run = await runOpskit(["probe", `${secure}/ok`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("failed in tls: certificate not trusted");
  });

  test("an expired certificate is unhealthy: failed in tls: certificate expired", async () => {
    const { code, result } = await probeJson([`https://127.0.0.1:${expired.port}/ok`, "--ca", pki.caCert]);
    expect(code).toBe(2);
    expect(result.phase).toBe("tls");
    expect(result.reason).toStartWith("failed in tls: certificate expired");
    expect(result.error.code).toBe("E_TLS_EXPIRED");
  });

  test("--insecure skips verification but still reports the expiry", async () => {
    const { code, result } = await probeJson([`https://127.0.0.1:${expired.port}/ok`, "--insecure"]);
    expect(code).toBe(0);
    expect(result.tls.expiresInMs).toBeLessThan(0);
    const strict = await probeJson([`https://127.0.0.1:${expired.port}/ok`, "--insecure", "--expect", 'tls.expiresIn > duration("0s")']);
    expect(strict.code).toBe(2);
  });

  test("a certificate for another host name fails hostname verification", async () => {
    const { code, result } = await probeJson([`https://127.0.0.1:${wrongHost.port}/ok`, "--ca", pki.caCert]);
    expect(code).toBe(2);
    expect(result.error.code).toBe("E_TLS_HOSTNAME");
  });

  test("TLS to a plain HTTP port is a handshake failure (exit 1)", async () => {
    const { code, result } = await probeJson([`https://127.0.0.1:${http.port}/ok`, "--timeout", "2s"]);
    expect(code).toBe(1);
    expect(result.phase).toBe("tls");
  });
});
