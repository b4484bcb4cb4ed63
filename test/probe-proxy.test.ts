import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { runBuilt } from "./harness/binary.ts";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { parseJsonLines } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";
import { startTinyproxy, type TestProxy } from "./harness/proxy.ts";

const PASSWORD = "tp-Secret-77";
let http: Server<undefined>;
let https: Server<undefined>;
let pki: TestPki;
let open: TestProxy;
let guarded: TestProxy;
let base: string;
let secure: string;
/** The environment without the machine's own proxy variables. */
const cleanEnv: Record<string, string> = {};

beforeAll(async () => {
  pki = await makeTestPki();
  http = startHttpServer();
  https = startHttpServer(pki.valid);
  base = `http://127.0.0.1:${http.port}`;
  secure = `https://127.0.0.1:${https.port}`;
  open = await startTinyproxy();
  guarded = await startTinyproxy({ credentials: { user: "probe", password: PASSWORD } });
  for (const name of ["http_proxy", "https_proxy", "HTTPS_PROXY", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"]) cleanEnv[name] = "";
});

afterAll(async () => {
  http.stop(true);
  https.stop(true);
  await open?.stop();
  await guarded?.stop();
});

async function probe(args: string[], env: Record<string, string> = {}) {
  const run = await runBuilt(["probe", "--json", ...args], { env: { ...cleanEnv, ...env } });
  return { ...run, result: parseJsonLines(run.stdout).results[0]! };
}

async function curl(args: string[], env: Record<string, string> = {}): Promise<{ code: number; status: string }> {
  const child = Bun.spawn(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  const [status, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return { code, status };
}

/** How many requests the proxy logged so far, to see whether the next went through it. */
const seen = async (proxy: TestProxy) => (await proxy.requests()).length;

describe("opskit probe through an HTTP proxy (tinyproxy), as curl", () => {
  test("plain http goes in absolute form; https by CONNECT then TLS to the origin, each phase timed apart", async () => {
    const plain = await probe(["--proxy", open.url, `${base}/headers`]);
    expect(plain.code).toBe(0);
    expect(plain.result.http.headers.via).toContain("tinyproxy");
    expect(await open.requests()).toContain(`GET ${base}/headers HTTP/1.1`);

    const anchor = await curl(["-x", open.url, "--cacert", pki.caCert, `${secure}/ok`]);
    const tunnelled = await probe(["-x", open.url, "--cacert", pki.caCert, `${secure}/ok`]);
    expect(anchor.status).toBe("200");
    expect(tunnelled.code).toBe(0);
    expect(tunnelled.result.status).toBe(200);
    expect(tunnelled.result.tls.subject).toContain("CN=valid");
    for (const phase of ["connect", "proxy", "tls", "firstByte"]) expect(tunnelled.result.timings[phase]).toBeGreaterThan(0);
    expect((await open.requests()).filter((line) => line === `CONNECT 127.0.0.1:${https.port} HTTP/1.1`)).toHaveLength(2);
  });

  test("the environment as curl reads it: http_proxy only in lower case, HTTPS_PROXY in either, NO_PROXY by host, domain, IP or *", async () => {
    const cases: { env: Record<string, string>; url: string; args?: string[]; via: boolean }[] = [
      { env: { http_proxy: open.url }, url: `${base}/ok`, via: true },
      { env: { HTTP_PROXY: open.url }, url: `${base}/ok`, via: false },
      { env: { HTTPS_PROXY: open.url }, url: `${secure}/ok`, via: true },
      { env: { https_proxy: open.url }, url: `${secure}/ok`, via: true },
      { env: { HTTPS_PROXY: open.url }, url: `${base}/ok`, via: false },
      { env: { all_proxy: open.url }, url: `${base}/ok`, via: true },
      { env: { http_proxy: open.url, NO_PROXY: "127.0.0.1" }, url: `${base}/ok`, via: false },
      { env: { http_proxy: open.url, no_proxy: "*" }, url: `${base}/ok`, via: false },
      { env: { http_proxy: open.url, no_proxy: "example.com,.localhost" }, url: `http://localhost:${http.port}/ok`, via: false },
      { env: { http_proxy: open.url, no_proxy: "example.com" }, url: `http://localhost:${http.port}/ok`, via: true },
      { env: { http_proxy: open.url, no_proxy: "127.0.0.1" }, url: `${base}/ok`, args: ["--noproxy", "other.example"], via: true },
      { env: {}, url: `${base}/ok`, args: ["--proxy", open.url, "--noproxy", "127.0.0.1"], via: false },
    ];
    for (const c of cases) {
      const curlArgs = (c.args ?? []).map((a) => (a === "--proxy" ? "-x" : a));
      const before = await seen(open);
      const anchor = await curl([...curlArgs, "--cacert", pki.caCert, c.url], c.env);
      const viaCurl = (await seen(open)) > before;
      const middle = await seen(open);
      const run = await probe([...(c.args ?? []), "--cacert", pki.caCert, c.url], c.env);
      const viaOpskit = (await seen(open)) > middle;
      expect({ ...c, curl: anchor.status, viaCurl, opskit: run.result.status, viaOpskit }).toEqual({ ...c, curl: "200", viaCurl: c.via, opskit: 200, viaOpskit: c.via });
    }
  });

  test("credentials in the proxy URL go as Proxy-Authorization and are never printed", async () => {
    const anchor = await curl(["-x", guarded.url, `${base}/ok`]);
    expect(anchor.status).toBe("200");
    const ok = await probe(["-x", guarded.url, `${base}/ok`]);
    expect(ok.code).toBe(0);
    const tunnel = await probe(["-x", guarded.url, "--cacert", pki.caCert, `${secure}/ok`]);
    expect(tunnel.code).toBe(0);
    // Without them: tinyproxy refuses the tunnel (the probe is down) and answers a plain request itself.
    const refused = await probe(["-x", `http://127.0.0.1:${guarded.port}`, "--cacert", pki.caCert, `${secure}/ok`]);
    expect(refused.code).toBe(1);
    expect(refused.result.phase).toBe("proxy");
    expect(["E_PROXY_AUTH", "E_PROXY_CONNECT"]).toContain(refused.result.error.code);
    // Wrong credentials, a bad proxy URL, a refused tunnel, text and JSON: the password shows nowhere.
    const wrong = `http://probe:${PASSWORD}x@127.0.0.1:${guarded.port}`;
    const runs = [
      await runBuilt(["probe", "-x", wrong, "--cacert", pki.caCert, `${secure}/ok`], { env: cleanEnv }),
      await runBuilt(["probe", "--json", "-x", wrong, "--cacert", pki.caCert, `${secure}/ok`], { env: cleanEnv }),
      await runBuilt(["probe", "-x", `socks5://probe:${PASSWORD}@127.0.0.1:1`, `${base}/ok`], { env: cleanEnv }),
      await runBuilt(["probe", `${secure}/ok`, "--cacert", pki.caCert], { env: { ...cleanEnv, HTTPS_PROXY: `http://probe:${PASSWORD}@127.0.0.1:1` } }),
    ];
    expect(runs.map((r) => r.code)).toEqual([1, 1, 64, 1]);
    for (const run of runs) {
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(run.stdout + run.stderr).not.toContain(Buffer.from(`probe:${PASSWORD}`).toString("base64"));
    }
    expect(runs[2]!.stderr).toContain("socks5:// proxies are not supported");
  });
});
