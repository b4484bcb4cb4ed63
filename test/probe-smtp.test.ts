import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { probeJson, runOpskit } from "./harness/cli.ts";
import { refusedPort, startClosingServer, startHangServer } from "./harness/net.ts";
import { startAiosmtpd, startScriptedSmtp, type SmtpScript, type TestSmtpServer } from "./harness/smtp.ts";

let pki: TestPki;
let smtp: TestSmtpServer;
let smtps: TestSmtpServer;

beforeAll(async () => {
  pki = await makeTestPki();
  [smtp, smtps] = await Promise.all([startAiosmtpd(), startAiosmtpd(pki.valid)]);
});

afterAll(async () => {
  await Promise.all([smtp.stop(), smtps.stop()]);
});

/** Runs a probe against a scripted peer and hands back what it received too. */
async function probeScripted(script: SmtpScript, args: string[] = [], query = "") {
  const server = await startScriptedSmtp(script);
  try {
    const started = performance.now();
    const run = await probeJson([`smtp://127.0.0.1:${server.port}${query}`, ...args]);
    return { ...run, commands: server.commands, ms: performance.now() - started };
  } finally {
    await server.stop();
  }
}

describe("smtp probe against aiosmtpd", () => {
  test("greeting, EHLO and its extensions: exit 0 with connect, firstByte and transfer timed", async () => {
    const { code, result } = await probeJson([`smtp://127.0.0.1:${smtp.port}`]);
    expect(code).toBe(0);
    expect(result.kind).toBe("smtp");
    expect(result.smtp).toMatchObject({ code: 220, ehloCode: 250, domain: expect.any(String) });
    expect(result.smtp.banner).toContain("Python SMTP");
    expect(result.smtp.extensions).toMatchObject({ "8BITMIME": "", HELP: "" });
    for (const phase of ["connect", "firstByte", "transfer"]) expect(result.timings[phase]).toBeGreaterThan(0);
  });

  test("CEL expectations see smtp.code, smtp.banner and smtp.extensions; a false one exits 2 with the values", async () => {
    const ok = await probeJson([`smtp://127.0.0.1:${smtp.port}`, "--expect", 'smtp.code == 220 && smtp.banner.contains("SMTP") && "8BITMIME" in smtp.extensions && timing.firstByte < duration("5s")']);
    expect(ok.code).toBe(0);
    const bad = await probeJson([`smtp://127.0.0.1:${smtp.port}`, "--expect", '"STARTTLS" in smtp.extensions']);
    expect(bad.code).toBe(2);
    expect(bad.result.reason).toStartWith('expected "STARTTLS" in smtp.extensions, got smtp.extensions = {');
  });

  test("the human line shows the greeting's code in the status column", async () => {
    const run = await runOpskit(["probe", `smtp://127.0.0.1:${smtp.port}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^HEALTHY\\s+smtp://127\\.0\\.0\\.1:${smtp.port}\\s+220\\s`, "m"));
  });

  test("smtps:// speaks implicit TLS: the certificate is described and the tls phase timed", async () => {
    const { code, result } = await probeJson([`smtps://127.0.0.1:${smtps.port}`, "--ca", pki.caCert]);
    expect(code).toBe(0);
    expect(result.tls.subject).toBe("CN=valid");
    expect(result.timings.tls).toBeGreaterThan(0);
    expect(result.smtp).toMatchObject({ code: 220, ehloCode: 250 });
  });

  test("smtps:// with an untrusted certificate fails in tls; smtp:// to a TLS port is not SMTP", async () => {
    const untrusted = await probeJson([`smtps://127.0.0.1:${smtps.port}`]);
    expect(untrusted.code).toBe(2);
    expect(untrusted.result.phase).toBe("tls");
    const plain = await probeJson([`smtp://127.0.0.1:${smtps.port}`, "--timeout", "500ms"]);
    expect(plain.code).not.toBe(0);
  });

  test("a workflow step probes SMTP and a later step reads steps.<name>.smtp", async () => {
    const dir = await mkdtemp(join(tmpdir(), "opskit-smtp-"));
    try {
      const file = join(dir, "opskit.yaml");
      const steps = [
        `      - { name: mail, probe: { url: "smtp://127.0.0.1:${smtp.port}", expect: "smtp.ehloCode == 250" } }`,
        "      - { name: show, exec: 'echo {{ steps.mail.smtp.code }}' }",
      ];
      await writeFile(file, ["workflows:", "  w:", "    steps:", ...steps].join("\n"));
      const run = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", file, "w", "--json"], { cwd: dir });
      expect(run.code).toBe(0);
      const finished = run.stdout.split("\n").filter((l) => l.includes('"step.finished"')).map((l) => JSON.parse(l));
      expect(finished[0].result.data.smtp).toMatchObject({ code: 220, ehloCode: 250 });
      expect(finished[1].result.stdout).toBe("220\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("smtp probe against scripted peers", () => {
  const ehlo = "250-mail.test at your service\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-auth plain login\r\n250 STARTTLS\r\n";

  test("a multi-line greeting cut across writes is read whole; EHLO carries the ehlo= name; QUIT follows", async () => {
    const { code, result, commands } = await probeScripted({ greeting: ["220-mail.test ESMTP", " ready\r\n220-", "second line\r\n220 third\r\n"], ehlo }, [], "?ehlo=probe.example");
    expect(code).toBe(0);
    expect(result.smtp).toEqual({
      code: 220,
      banner: "mail.test ESMTP ready\nsecond line\nthird",
      ehloCode: 250,
      domain: "mail.test",
      extensions: { PIPELINING: "", SIZE: "10240000", AUTH: "plain login", STARTTLS: "" },
    });
    expect(commands).toEqual(["EHLO probe.example", "QUIT"]);
  });

  test("a 554 greeting is reached but unhealthy: exit 2, no EHLO sent", async () => {
    const { code, result, commands } = await probeScripted({ greeting: ["554 5.3.2 No SMTP service here\r\n"] });
    expect(code).toBe(2);
    expect(result.reason).toBe("greeting 554 5.3.2 No SMTP service here");
    expect(result.smtp).toMatchObject({ code: 554, ehloCode: 0 });
    expect(commands).toEqual(["QUIT"]);
  });

  test("an EHLO refusal is unhealthy: exit 2", async () => {
    const { code, result } = await probeScripted({ greeting: ["220 old.test\r\n"], ehlo: "502 5.5.2 Error: command not recognized\r\n" });
    expect(code).toBe(2);
    expect(result.reason).toBe("EHLO answered 502");
    expect(result.smtp).toMatchObject({ ehloCode: 502, extensions: {} });
  });

  test.each([
    ["another protocol's banner", ["SSH-2.0-OpenSSH_9.2\r\n"]],
    ["binary junk without a line end", ["\x16\x03\x01\x02\x00"]],
    ["lines of one reply with different codes", ["220-first\r\n250 second\r\n"]],
  ])("garbage (%s) is not SMTP: exit 2 at once, without waiting for the timeout", async (_what, greeting) => {
    const { code, result, ms } = await probeScripted({ greeting }, ["--timeout", "10s"]);
    expect(code).toBe(2);
    expect(result.error.code).toBe("E_SMTP_PROTOCOL");
    expect(result.reason).toContain("not an SMTP server");
    expect(ms).toBeLessThan(5000);
  });

  test("a server that closes at once is a transport failure: exit 1", async () => {
    const closing = await startClosingServer();
    try {
      const { code, result } = await probeJson([`smtp://127.0.0.1:${closing.port}`]);
      expect(code).toBe(1);
      expect(result.reason).toBe("failed in firstByte: server closed the connection before sending anything");
    } finally {
      await closing.stop();
    }
  });

  test("a server that closes in the middle of its greeting is a transport failure: exit 1", async () => {
    const closing = await startClosingServer("220-mail.test\r\n220-more");
    try {
      const { code, result } = await probeJson([`smtp://127.0.0.1:${closing.port}`]);
      expect(code).toBe(1);
      expect(result.reason).toBe("failed in transfer: server closed the connection before the greeting was complete");
    } finally {
      await closing.stop();
    }
  });

  test("a server that never greets times out in firstByte; one that never answers EHLO in transfer: exit 1", async () => {
    const hang = await startHangServer();
    try {
      const silent = await probeJson([`smtp://127.0.0.1:${hang.port}`, "--timeout", "250ms"]);
      expect(silent.code).toBe(1);
      expect(silent.result).toMatchObject({ phase: "firstByte", error: { code: "E_TIMEOUT" } });
    } finally {
      await hang.stop();
    }
    const mute = await probeScripted({ greeting: ["220 mail.test\r\n"] }, ["--timeout", "250ms"]);
    expect(mute.code).toBe(1);
    expect(mute.result).toMatchObject({ phase: "transfer", error: { code: "E_TIMEOUT" } });
    expect(mute.commands).toEqual(["EHLO localhost"]);
  });

  test("a refused port exits 1, failed in connect", async () => {
    const { code, result } = await probeJson([`smtp://127.0.0.1:${await refusedPort()}`]);
    expect(code).toBe(1);
    expect(result.reason).toBe("failed in connect: connection refused");
  });
});

describe("smtp target parsing", () => {
  test.each([
    ["smtp://127.0.0.1:25?ehlo=a%0d%0aRCPT%20TO:<x@y>", '"a\r\nRCPT TO:<x@y>" is not a host name for EHLO'],
    ["smtp://127.0.0.1:25?servername=x", 'unknown parameter "servername"'],
    ["smtp://127.0.0.1:25/path", "an SMTP target is a host and port"],
    ["smtp://user:pw@127.0.0.1:25", "an SMTP target is a host and port"],
  ])("%p is a usage error (exit 64) before anything runs", async (target, message) => {
    const run = await runOpskit(["probe", target]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain("hint:");
  });
});
