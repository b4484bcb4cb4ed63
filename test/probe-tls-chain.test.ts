// A server presenting its certificate and an intermediate that expires
// first, under a root that expires before both but is not presented: the
// expiry opskit reports is the intermediate's, as blackbox_exporter's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtBinary, runBuilt } from "./harness/binary.ts";
import { makeTestCa } from "./harness/certs.ts";
import { parseJsonLines } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";
import { startBlackboxExporter, type TestServer } from "./harness/prometheus.ts";
import { startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const day = 86_400_000;
let caCert: string;
let leafCert: string;
let intermediateCert: string;
let https: Server<undefined>;
let expiredChain: Server<undefined>;
let expiredIntermediateCert: string;
let serve: ServeProcess;
let blackbox: TestServer;

/** A certificate's notAfter in Unix seconds, as OpenSSL reads it. */
function enddate(file: string): number {
  const out = Bun.spawnSync(["openssl", "x509", "-enddate", "-noout", "-in", file]);
  if (out.exitCode !== 0) throw new Error(`openssl x509 failed: ${out.stderr}`);
  return Date.parse(out.stdout.toString().trim().replace("notAfter=", "")) / 1000;
}

beforeAll(async () => {
  // makeTestCa's root is valid for 3 days: it expires before the intermediate (10) and the leaf (20).
  const ca = await makeTestCa("opskit-chain-");
  caCert = ca.caCert;
  const intermediate = await ca.issue("chain-intermediate", { intermediate: true, to: new Date(Date.now() + 10 * day) });
  const leaf = await ca.issue("chain-leaf", { san: "DNS:localhost,IP:127.0.0.1", by: intermediate, to: new Date(Date.now() + 20 * day) });
  leafCert = leaf.cert;
  intermediateCert = intermediate.cert;
  const presented = join(ca.dir, "presented.pem");
  writeFileSync(presented, readFileSync(leaf.cert, "utf8") + readFileSync(intermediate.cert, "utf8"));
  https = startHttpServer({ cert: presented, key: leaf.key });
  // The same shape with an intermediate that expired yesterday: the server's own certificate is still valid.
  const expired = await ca.issue("chain-expired-intermediate", { intermediate: true, from: new Date(Date.now() - 10 * day), to: new Date(Date.now() - day) });
  const under = await ca.issue("chain-leaf-under-expired", { san: "DNS:localhost,IP:127.0.0.1", by: expired, to: new Date(Date.now() + 20 * day) });
  expiredIntermediateCert = expired.cert;
  const expiredPresented = join(ca.dir, "expired-presented.pem");
  writeFileSync(expiredPresented, readFileSync(under.cert, "utf8") + readFileSync(expired.cert, "utf8"));
  expiredChain = startHttpServer({ cert: expiredPresented, key: under.key });
  const dir = writeConfig(`probeModules:
  tls_connect:
    prober: tls
    tls: { ca: ${caCert} }
  https_2xx:
    prober: http
    tls: { ca: ${caCert} }
checks:
  - name: chained
    probe: https://127.0.0.1:${https.port}/ok
    interval: 200ms
    tls: { ca: ${caCert} }
`);
  serve = await startServe(dir, { executable: await builtBinary() });
  blackbox = await startBlackboxExporter({
    tls_connect: { prober: "tcp", tcp: { tls: true, tls_config: { ca_file: caCert } } },
    https_2xx: { prober: "http", http: { tls_config: { ca_file: caCert } } },
  });
});

afterAll(async () => {
  await serve?.stop();
  await blackbox?.stop();
  https?.stop(true);
  expiredChain?.stop(true);
});

const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(20_000) });

/** `name{labels} value` lines of the named metric, values parsed. */
function samples(text: string, name: string): { series: string; value: number }[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .map((line) => ({ series: line.slice(0, line.lastIndexOf(" ")), value: Number(line.slice(line.lastIndexOf(" ") + 1)) }));
}

describe("the earliest expiry over the chain the server presented", () => {
  test("GET /probe: probe_ssl_earliest_cert_expiry is the intermediate's notAfter and probe_tls_version_info names the version, as blackbox_exporter's for the same target", async () => {
    const intermediateEnd = enddate(intermediateCert);
    expect(intermediateEnd).toBeLessThan(enddate(leafCert));
    // The root, not presented, expires first: it must not count.
    expect(enddate(caCert)).toBeLessThan(intermediateEnd);
    for (const [module, target] of [["tls_connect", `127.0.0.1:${https.port}`], ["https_2xx", `https://127.0.0.1:${https.port}/ok`]] as const) {
      const query = `/probe?target=${encodeURIComponent(target)}&module=${module}`;
      const ours = await (await get(`${serve.url}${query}`, serve.token)).text();
      const theirs = await (await get(`${blackbox.url}${query}`)).text();
      expect({ module, success: samples(ours, "probe_success") }).toEqual({ module, success: samples(theirs, "probe_success") });
      expect(samples(theirs, "probe_success")[0]?.value).toBe(1);
      const [earliest] = samples(ours, "probe_ssl_earliest_cert_expiry");
      const [blackboxEarliest] = samples(theirs, "probe_ssl_earliest_cert_expiry");
      expect(Math.abs(earliest!.value - blackboxEarliest!.value)).toBeLessThanOrEqual(1);
      expect(Math.abs(earliest!.value - intermediateEnd)).toBeLessThanOrEqual(1);
      expect({ module, version: samples(ours, "probe_tls_version_info") }).toEqual({ module, version: samples(theirs, "probe_tls_version_info") });
      expect(samples(ours, "probe_tls_version_info")).toEqual([{ series: 'probe_tls_version_info{version="TLS 1.3"}', value: 1 }]);
    }
  });

  test("opskit_check_tls_expiry_timestamp_seconds is the intermediate's notAfter for a check of the server", async () => {
    const intermediateEnd = enddate(intermediateCert);
    let values: number[] = [];
    for (let i = 0; i < 100 && values.length === 0; i++) {
      values = samples(await (await get(`${serve.url}/metrics`, serve.token)).text(), "opskit_check_tls_expiry_timestamp_seconds").map((s) => s.value);
      if (values.length === 0) await Bun.sleep(100);
    }
    expect(values).toEqual([intermediateEnd]);
  });

  test("opskit probe --json: tls.notAfter is the server's certificate's, tls.chainNotAfter the intermediate's, and CEL sees both", async () => {
    const url = `https://127.0.0.1:${https.port}/ok`;
    const run = await runBuilt(["probe", "--json", "--cacert", caCert, url, "--expect", "tls.chainNotAfter < tls.notAfter && tls.chainExpiresIn < tls.expiresIn && tls.chainExpiresIn > duration(\"216h\")"]);
    const { results } = parseJsonLines(run.stdout);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const tls = results[0]!.tls as { notAfter: string; chainNotAfter: string; chainExpiresInMs: number };
    expect(Date.parse(tls.notAfter) / 1000).toBe(enddate(leafCert));
    expect(Date.parse(tls.chainNotAfter) / 1000).toBe(enddate(intermediateCert));
    expect(tls.chainExpiresInMs).toBeGreaterThan(9 * day);
    // The expectation can fail: the chain's expiry is within 11 days.
    const failing = await runBuilt(["probe", "--json", "--cacert", caCert, url, "--expect", 'tls.chainExpiresIn > duration("264h")']);
    expect(failing.code).toBe(2);
  });

  test("an expired intermediate under a valid server certificate fails the probe as expired (exit 2), naming the intermediate's date; --insecure reports it", async () => {
    const url = `https://127.0.0.1:${expiredChain.port}/ok`;
    const expiredOn = new Date(enddate(expiredIntermediateCert) * 1000).toISOString();
    const run = await runBuilt(["probe", "--json", "--cacert", caCert, url]);
    expect(run.code).toBe(2);
    const [result] = parseJsonLines(run.stdout).results;
    expect(result!.error.code).toBe("E_TLS_EXPIRED");
    expect(result!.error.message).toBe(`a certificate of the chain the server presented (not its own) expired on ${expiredOn}`);
    const insecure = await runBuilt(["probe", "--json", "--insecure", url, "--expect", "tls.chainExpiresIn < duration(\"0s\") && tls.expiresIn > duration(\"0s\")"]);
    expect({ code: insecure.code, stderr: insecure.stderr }).toEqual({ code: 0, stderr: "" });
    expect(parseJsonLines(insecure.stdout).results[0]!.tls.chainNotAfter).toBe(expiredOn);
  });
});
