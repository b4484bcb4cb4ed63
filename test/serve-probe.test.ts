import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtBinary } from "./harness/binary.ts";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { startHttpServer } from "./harness/http.ts";
import { dnsRecords, startDnsmasq, type TestDnsmasq } from "./harness/dns.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { startHangServer } from "./harness/net.ts";
import { startBlackboxExporter, startPrometheus, waitForQuery, type TestServer } from "./harness/prometheus.ts";
import { startTinyproxy, type TestProxy } from "./harness/proxy.ts";
import { startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

let pki: TestPki;
let http: Server<undefined>;
let https: Server<undefined>;
let hang: { port: number; stop(): Promise<void> };
let proxy: TestProxy;
let serve: ServeProcess;
let blackbox: TestServer;
let dns: TestDnsmasq;
let base: string;
let secure: string;

/** One module each way: opskit.yaml's spelling, blackbox.yml's. */
function modules(caFile: string) {
  return {
    opskit: `probeModules:
  http_2xx:
    prober: http
    timeout: 5s
  https_body:
    prober: http
    tls: { ca: ${caFile} }
    http:
      validStatusCodes: [200]
      failIfBodyNotMatchesRegexp: ["UP"]
  tcp_connect:
    prober: tcp
  tls_connect:
    prober: tls
    tls: { ca: ${caFile} }
  dns_a:
    prober: dns
    dns: { queryName: ${dnsRecords.a.name}, queryType: A }
  dns_missing:
    prober: dns
    dns: { queryName: ${dnsRecords.missing.name} }
  local_only:
    prober: http
    targets: ["http://127.0.0.1:*/ok"]
  slow:
    prober: http
    timeout: 30s
`,
    blackbox: {
      http_2xx: { prober: "http", timeout: "5s" },
      https_body: { prober: "http", http: { valid_status_codes: [200], fail_if_body_not_matches_regexp: ["UP"], tls_config: { ca_file: caFile } } },
      tcp_connect: { prober: "tcp" },
      tls_connect: { prober: "tcp", tcp: { tls: true, tls_config: { ca_file: caFile } } },
      dns_a: { prober: "dns", dns: { query_name: dnsRecords.a.name, query_type: "A", transport_protocol: "udp" } },
      dns_missing: { prober: "dns", dns: { query_name: dnsRecords.missing.name, transport_protocol: "udp" } },
    },
  };
}

beforeAll(async () => {
  pki = await makeTestPki();
  http = startHttpServer();
  https = startHttpServer(pki.valid);
  hang = await startHangServer();
  dns = await startDnsmasq();
  proxy = await startTinyproxy({ credentials: { user: "checker", password: "chk-Pass-42" } });
  base = `http://127.0.0.1:${http.port}`;
  secure = `https://127.0.0.1:${https.port}`;
  const { opskit, blackbox: bb } = modules(pki.caCert);
  const dir = writeConfig(`${opskit}
checks:
  - name: web
    probe: ${secure}/chain/2
    interval: 200ms
    followRedirects: true
    proxy: env:CHECK_PROXY
    tls: { ca: ${pki.caCert} }
    expect: status == 200 && size(redirects) == 2
`);
  serve = await startServe(dir, { executable: await builtBinary(), env: { CHECK_PROXY: proxy.url } });
  blackbox = await startBlackboxExporter(bb);
});

afterAll(async () => {
  await serve?.stop();
  await blackbox?.stop();
  await proxy?.stop();
  await hang?.stop();
  await dns?.stop();
  http?.stop(true);
  https?.stop(true);
});

const get = (url: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, signal: AbortSignal.timeout(20_000) });

/** The series of the named metrics: `name{label="value",...}`, labels sorted, values left out. */
function seriesOf(text: string, names: readonly string[]): string[] {
  return text
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.slice(0, line.lastIndexOf(" ")))
    .filter((series) => names.includes(series.replace(/\{.*$/, "")))
    .map((series) => {
      const brace = series.indexOf("{");
      if (brace < 0) return series;
      const labels = series.slice(brace + 1, -1).split(",").sort();
      return `${series.slice(0, brace)}{${labels.join(",")}}`;
    })
    .sort();
}

function valueOf(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

const LISTED = [
  "probe_dns_answer_rrs",
  "probe_success", "probe_duration_seconds", "probe_http_status_code", "probe_http_duration_seconds", "probe_http_redirects", "probe_http_ssl",
  "probe_http_version", "probe_http_content_length", "probe_ssl_earliest_cert_expiry", "probe_dns_lookup_time_seconds", "probe_failed_due_to_regex", "probe_ip_protocol",
  "probe_tls_version_info",
] as const;

describe("opskit serve's GET /probe, as blackbox_exporter's", () => {
  test("the metric names and label sets match blackbox_exporter's for the same target and module; the values agree", async () => {
    const cases = [
      { module: "http_2xx", target: `${base}/ok` },
      { module: "http_2xx", target: `${base}/redirect?to=${encodeURIComponent("/redirect?to=/json")}` },
      { module: "http_2xx", target: `${base}/status/503` },
      { module: "https_body", target: `${secure}/json` },
      { module: "https_body", target: `${secure}/ok` },
      { module: "tcp_connect", target: `127.0.0.1:${http.port}` },
      { module: "tls_connect", target: `127.0.0.1:${https.port}` },
      { module: "tls_connect", target: `127.0.0.1:${http.port}` },
      { module: "dns_a", target: dns.server },
      { module: "dns_missing", target: dns.server },
    ];
    for (const c of cases) {
      const query = `/probe?target=${encodeURIComponent(c.target)}&module=${c.module}`;
      const ours = await (await get(`${serve.url}${query}`, serve.token)).text();
      const theirs = await (await get(`${blackbox.url}${query}`)).text();
      expect({ ...c, series: seriesOf(ours, LISTED) }).toEqual({ ...c, series: seriesOf(theirs, LISTED) });
      for (const name of ["probe_dns_answer_rrs", "probe_success", "probe_http_status_code", "probe_http_redirects", "probe_http_ssl", "probe_http_version", "probe_failed_due_to_regex", "probe_ip_protocol", "probe_http_content_length"]) {
        if (!theirs.includes(`\n${name} `)) continue;
        expect({ ...c, name, value: valueOf(ours, name) }).toEqual({ ...c, name, value: valueOf(theirs, name) });
      }
      if (theirs.includes("\nprobe_ssl_earliest_cert_expiry ")) expect(Math.abs(valueOf(ours, "probe_ssl_earliest_cert_expiry") - valueOf(theirs, "probe_ssl_earliest_cert_expiry"))).toBeLessThan(2);
    }
  });

  test("a real Prometheus scrapes it with blackbox's standard relabelling and a credentials file: probe_success 1 for a healthy target, 0 for a failing one", async () => {
    const tokenFile = join(serve.dir, "prometheus-token");
    writeFileSync(tokenFile, serve.token ?? "");
    const opskit = new URL(serve.url).host;
    const healthy = `${base}/ok`;
    const failing = `${base}/status/503`;
    const prometheus = await startPrometheus({
      scrapeTargets: [
        {
          job: "blackbox",
          targets: [healthy, failing],
          config: {
            metrics_path: "/probe",
            params: { module: ["http_2xx"] },
            authorization: { credentials_file: tokenFile },
            relabel_configs: [
              { source_labels: ["__address__"], target_label: "__param_target" },
              { source_labels: ["__param_target"], target_label: "instance" },
              { target_label: "__address__", replacement: opskit },
            ],
          },
        },
        { job: "opskit", targets: [opskit] },
      ],
    });
    try {
      await waitForQuery(prometheus.url, `probe_success{instance="${healthy}"}`, (v) => v.length === 1 && v[0] === 1);
      await waitForQuery(prometheus.url, `probe_success{instance="${failing}"}`, (v) => v.length === 1 && v[0] === 0);
      await waitForQuery(prometheus.url, `probe_http_status_code{instance="${failing}"}`, (v) => v[0] === 503);
      // The check's own metrics, scraped from /metrics: each phase of its last probe (through the proxy, after two redirects) and the certificate's expiry.
      await waitForQuery(prometheus.url, 'opskit_check_up{check="web"}', (v) => v[0] === 1);
      for (const phase of ["connect", "proxy", "tls", "firstByte", "transfer", "total"]) await waitForQuery(prometheus.url, `opskit_check_duration_seconds{check="web",phase="${phase}"}`, (v) => v.length === 1 && v[0]! > 0);
      // The certificate's notAfter as OpenSSL reads it.
      const enddate = Bun.spawnSync(["openssl", "x509", "-enddate", "-noout", "-in", pki.valid.cert]).stdout.toString().trim().replace("notAfter=", "");
      const notAfter = Date.parse(enddate) / 1000;
      expect(notAfter).toBeGreaterThan(Date.now() / 1000);
      await waitForQuery(prometheus.url, 'opskit_check_tls_expiry_timestamp_seconds{check="web"}', (v) => v.length === 1 && v[0] === notAfter);
    } finally {
      await prometheus.stop();
    }
  });

  test("secure by default: the token, configured modules only, a clear 400 for a bad target or module, a module's targets: allow-list", async () => {
    const ok = `/probe?target=${encodeURIComponent(`${base}/ok`)}&module=http_2xx`;
    expect((await get(`${serve.url}${ok}`)).status).toBe(401);
    expect((await get(`${serve.url}${ok}`, "wrong-token-value")).status).toBe(401);
    const unknown = await get(`${serve.url}/probe?target=${encodeURIComponent(`${base}/ok`)}&module=nope`, serve.token);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain('unknown module \\"nope\\"');
    const missing = await get(`${serve.url}/probe?module=http_2xx`, serve.token);
    expect(missing.status).toBe(400);
    for (const target of ["ftp://127.0.0.1/", "http://", "not a url at all"]) {
      const bad = await get(`${serve.url}/probe?target=${encodeURIComponent(target)}&module=http_2xx`, serve.token);
      expect({ target, status: bad.status }).toEqual({ target, status: 400 });
    }
    expect((await get(`${serve.url}/probe?target=${encodeURIComponent("http://127.0.0.1:1/")}&module=tcp_connect`, serve.token)).status).toBe(400);
    const allowed = await get(`${serve.url}/probe?target=${encodeURIComponent(`${base}/ok`)}&module=local_only`, serve.token);
    expect(allowed.status).toBe(200);
    const refused = await get(`${serve.url}/probe?target=${encodeURIComponent(`http://localhost:${http.port}/ok`)}&module=local_only`, serve.token);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain("may not probe");
  });

  test("hostile targets stay data: a 200 or a 400 for each (431 for a request line too long), on loopback only (a path, a port, an allow-list), never a 5xx or a command run", async () => {
    // A lone surrogate cannot travel in a URL's query at all.
    const encodable = hostileValues.filter(({ value }) => !/[\ud800-\udfff]/.test(value.replace(/[\ud800-\udbff][\udc00-\udfff]/g, "")));
    for (const { name, value } of encodable) {
      for (const [module, target] of [["http_2xx", `${base}/${value}`], ["tcp_connect", `127.0.0.1:${value}`], ["local_only", value], ["local_only", `http://127.0.0.1:${http.port}/ok${value}`]] as const) {
        const response = await get(`${serve.url}/probe?target=${encodeURIComponent(target)}&module=${module}`, serve.token);
        await response.arrayBuffer();
        expect({ name, module, ok: response.status === 200 || response.status === 400 || response.status === 431 }).toEqual({ name, module, ok: true });
      }
    }
    expect(await Bun.file(pwnedMarker).exists()).toBe(false);
  });

  test("the module's timeout is capped by Prometheus's X-Prometheus-Scrape-Timeout-Seconds less half a second, as blackbox_exporter", async () => {
    const response = await get(`${serve.url}/probe?target=${encodeURIComponent(`http://127.0.0.1:${hang.port}/`)}&module=slow`, serve.token, { "x-prometheus-scrape-timeout-seconds": "1.5" });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(valueOf(text, "probe_success")).toBe(0);
    // The module allows 30 s; the scrape 1.5 s, of which the probe takes 1 s.
    const took = valueOf(text, "probe_duration_seconds");
    expect(took).toBeGreaterThanOrEqual(0.9);
    expect(took).toBeLessThan(10);
  });
});
