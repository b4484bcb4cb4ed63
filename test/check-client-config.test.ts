import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";
import { makeTestCa } from "./harness/certs.ts";

function configDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-check-client-"));
  writeFileSync(join(dir, "opskit.yaml"), yaml);
  return dir;
}

test("a check's TLS files, proxy and a /probe module are checked at validate: a missing key names the file, a proxy password in the config is refused, a bad regexp is named", async () => {
  const ca = await makeTestCa("opskit-check-client-");
  const client = await ca.issue("check-client", { client: true });
  const ok = configDir(`checks:\n  - name: web\n    probe: https://127.0.0.1:1/\n    followRedirects: true\n    maxRedirects: 5\n    proxy: env:SOME_PROXY\n    noProxy: [internal.example, 10.0.0.0/8]\n    tls: { ca: ${ca.caCert}, cert: ${client.cert}, key: ${client.key} }\nprobeModules:\n  web:\n    prober: http\n    targets: ["https://*.example.com/*"]\n    http: { validStatusCodes: [200], failIfBodyNotMatchesRegexp: ["UP"] }\n`);
  const valid = await runBuilt(["validate", "-c", ok], { env: { SOME_PROXY: "http://user:proxy-pass-1@127.0.0.1:3128" } });
  expect(valid.stderr).toBe("");
  expect(valid.code).toBe(0);
  expect(valid.stdout + valid.stderr).not.toContain("proxy-pass-1");

  const missingKey = configDir(`checks:\n  - name: web\n    probe: https://127.0.0.1:1/\n    tls: { cert: ${client.cert}, key: nope.key }\n`);
  const noKey = await runBuilt(["validate", "-c", missingKey]);
  expect(noKey.code).toBe(65);
  expect(noKey.stderr).toContain(`tls.key ${join(missingKey, "nope.key")}: no such file`);

  const literal = await runBuilt(["validate", "-c", configDir(`checks:\n  - name: web\n    probe: http://127.0.0.1:1/\n    proxy: http://user:literal-pass@127.0.0.1:3128\n`)]);
  expect(literal.code).toBe(65);
  expect(literal.stderr).toContain("no password in the config");

  const regexp = await runBuilt(["validate", "-c", configDir(`probeModules:\n  m:\n    prober: http\n    http: { failIfBodyMatchesRegexp: ["(unclosed"] }\n`)]);
  expect(regexp.code).toBe(65);
  expect(regexp.stderr).toContain("probeModules.m.http.failIfBodyMatchesRegexp[0]");

  const dnsWithout = await runBuilt(["validate", "-c", configDir(`probeModules:\n  m:\n    prober: dns\n`)]);
  expect(dnsWithout.code).toBe(65);
  expect(dnsWithout.stderr).toContain("a dns module needs dns: { queryName }");
});
