import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { runBuilt } from "./harness/binary.ts";
import { makeTestCa, type TestCa } from "./harness/certs.ts";
import { parseJsonLines } from "./harness/cli.ts";

let ca: TestCa;
let server: Server;
let url: string;
let client: { cert: string; key: string };
let stranger: { cert: string; key: string };

beforeAll(async () => {
  ca = await makeTestCa("opskit-mtls-");
  const serverCert = await ca.issue("mtls-server", { san: "DNS:localhost,IP:127.0.0.1" });
  client = await ca.issue("probe-client", { client: true });
  // A certificate from another CA: the server refuses it.
  const other = await makeTestCa("opskit-mtls-other-");
  stranger = await other.issue("stranger", { client: true });
  server = createServer(
    { cert: readFileSync(serverCert.cert), key: readFileSync(serverCert.key), ca: readFileSync(ca.caCert), requestCert: true, rejectUnauthorized: true },
    (request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ client: (request.socket as import("node:tls").TLSSocket).authorized === true }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
});

afterAll(() => {
  server?.close();
  server?.closeAllConnections?.();
});

async function probe(args: string[]) {
  const run = await runBuilt(["probe", "--json", ...args]);
  return { ...run, result: parseJsonLines(run.stdout).results[0]! };
}

async function curl(args: string[]): Promise<{ code: number; body: string }> {
  const child = Bun.spawn(["curl", "-sS", ...args], { stdout: "pipe", stderr: "pipe" });
  const [body, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return { code, body };
}

describe("client certificates (mTLS), as curl --cert --key", () => {
  test("a server that requires a client certificate accepts the probe's, as it accepts curl's; without one, or with a stranger's, both fail", async () => {
    const anchor = await curl(["--cacert", ca.caCert, "--cert", client.cert, "--key", client.key, url]);
    expect(anchor).toEqual({ code: 0, body: '{"client":true}' });
    const ok = await probe(["--cacert", ca.caCert, "--cert", client.cert, "--key", client.key, url, "--expect", 'body.json.client == true']);
    expect(ok.code).toBe(0);
    expect(ok.result.tls.subject).toContain("CN=mtls-server");

    expect((await curl(["--cacert", ca.caCert, url])).code).not.toBe(0);
    const without = await probe(["--cacert", ca.caCert, url]);
    expect(without.code).toBe(1);
    expect((await curl(["--cacert", ca.caCert, "--cert", stranger.cert, "--key", stranger.key, url])).code).not.toBe(0);
    const refused = await probe(["--cacert", ca.caCert, "--cert", stranger.cert, "--key", stranger.key, url]);
    expect(refused.code).toBe(1);
  });

  test("a certificate file holding its key needs no --key, as with curl; tls:// and a probe file's tls: present it too", async () => {
    const both = join(ca.dir, "client-with-key.pem");
    await writeFile(both, readFileSync(client.cert, "utf8") + readFileSync(client.key, "utf8"));
    expect((await curl(["--cacert", ca.caCert, "--cert", both, url])).code).toBe(0);
    expect((await probe(["--ca", ca.caCert, "--cert", both, url])).code).toBe(0);
    expect((await probe(["--ca", ca.caCert, "--cert", both, url.replace("https://", "tls://")])).code).toBe(0);
    const file = join(ca.dir, "targets.yaml");
    await writeFile(file, `targets:\n  - url: ${url}\n    tls: { ca: ca.pem, cert: probe-client.pem, key: probe-client.key }\n    expect: body.json.client == true\n`);
    const run = await runBuilt(["probe", "--json", "-f", file]);
    expect(parseJsonLines(run.stdout).results[0]!.verdict).toBe("healthy");
    expect(run.code).toBe(0);
  });

  test("a missing or unreadable key, or a certificate without its key, is a clear error naming the file", async () => {
    const missing = await runBuilt(["probe", "--cert", client.cert, "--key", join(ca.dir, "nope.key"), url]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain(`cannot read --key ${join(ca.dir, "nope.key")}: no such file`);
    const notKey = await runBuilt(["probe", "--cert", client.cert, "--key", ca.caCert, url]);
    expect(notKey.code).toBe(64);
    expect(notKey.stderr).toContain(`--key ${ca.caCert} holds no private key`);
    const alone = await runBuilt(["probe", "--cert", client.cert, url]);
    expect(alone.code).toBe(64);
    expect(alone.stderr).toContain(`--cert ${client.cert} holds no private key`);
    if (process.getuid?.() !== 0) {
      await chmod(client.key, 0o000);
      const unreadable = await runBuilt(["probe", "--cert", client.cert, "--key", client.key, url]);
      expect(unreadable.stderr).toContain(`cannot read --key ${client.key}: permission denied`);
      await chmod(client.key, 0o600);
    }
  });
});
