import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";
import { parseJsonLines } from "./harness/cli.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { startHttpServer } from "./harness/http.ts";

let http: Server<undefined>;
let base: string;
let dir: string;

beforeAll(async () => {
  http = startHttpServer();
  base = `http://127.0.0.1:${http.port}`;
  dir = await mkdtemp(join(tmpdir(), "opskit-redirect-"));
});

afterAll(async () => {
  http.stop(true);
  await rm(dir, { recursive: true, force: true });
});

async function probe(args: string[]) {
  const run = await runBuilt(["probe", "--json", ...args]);
  const parsed = parseJsonLines(run.stdout);
  return { ...run, result: parsed.results[0]! };
}

/** curl -L's view of the same URL: final URL, status, redirects followed, its exit code and the body. */
async function curl(args: string[]): Promise<{ url: string; status: number; redirects: number; code: number; body: string }> {
  const out = join(dir, `body-${Math.random().toString(36).slice(2)}`);
  // Asynchronous: the server answering curl runs in this process.
  const child = Bun.spawn(["curl", "-sS", "-L", "-o", out, "-w", "%{url_effective} %{http_code} %{num_redirects}", ...args], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe" });
  const [text, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const [url, status, redirects] = text.split(" ");
  const body = await Bun.file(out).text().catch(() => "");
  return { url: url!, status: Number(status), redirects: Number(redirects), code, body };
}

describe("opskit probe -L follows redirects as curl -L", () => {
  test("the same chains end at the same URL and status after the same number of hops (301, 302, 303, 307, 308, relative and absolute Location)", async () => {
    const chains = [
      `${base}/chain/3`,
      `${base}/chain/2?status=301`,
      `${base}/chain/2?status=303`,
      `${base}/chain/2?status=307`,
      `${base}/chain/1?status=308`,
      `${base}/redirect?to=${encodeURIComponent(`http://localhost:${http.port}/chain/2`)}`,
      `${base}/redirect?to=/status/503`,
      `${base}/redirect?to=../ok&status=302`,
      `${base}/status/302`,
    ];
    for (const url of chains) {
      const anchor = await curl([url]);
      const { code, result } = await probe(["-L", url]);
      expect({ url, final: result.http.url, status: result.status, hops: (result.redirects ?? []).length }).toEqual({ url, final: anchor.url, status: anchor.status, hops: anchor.redirects });
      expect(code).toBe(anchor.status === 503 ? 2 : 0);
    }
  });

  test("each hop keeps its URL, status, Location and phase timings in --json, and CEL sees them as redirects", async () => {
    const { code, result } = await probe(["-L", `${base}/chain/2?status=307`, "--expect", 'size(redirects) == 2 && redirects[0].status == 307 && redirects[1].url.endsWith("/chain/1?status=307") && redirects[0].timings.connect < duration("5s") && http.url.endsWith("/chain/0?status=307")']);
    expect(result.expectations[0]).toMatchObject({ passed: true });
    expect(code).toBe(0);
    expect(result.redirects).toHaveLength(2);
    expect(result.redirects[0]).toMatchObject({ url: `${base}/chain/2?status=307`, status: 307, location: `${base}/chain/1?status=307` });
    for (const hop of result.redirects) for (const phase of ["connect", "firstByte", "total"]) expect(hop.timings[phase]).toBeGreaterThan(0);
    // Without -L the 307 itself is the answer.
    const direct = await probe([`${base}/chain/2?status=307`, "--expect", "status == 307 && size(redirects) == 0"]);
    expect(direct.code).toBe(0);
  });

  test("past --max-redirs the probe fails with its own error code, where curl exits 47", async () => {
    expect((await curl(["--max-redirs", "2", `${base}/chain/3`])).code).toBe(47);
    const { code, result } = await probe(["-L", "--max-redirs", "2", `${base}/chain/3`]);
    expect(code).toBe(2);
    expect(result.error.code).toBe("E_HTTP_TOO_MANY_REDIRECTS");
    expect(result.reason).toContain("more than 2 redirects");
    expect((await curl(["--max-redirs", "3", `${base}/chain/3`])).code).toBe(0);
    expect((await probe(["-L", "--max-redirs", "3", `${base}/chain/3`])).code).toBe(0);
    // 0 follows none, as curl's --max-redirs 0; -1 has no limit.
    expect((await probe(["-L", "--max-redirs", "0", `${base}/chain/1`])).result.error.code).toBe("E_HTTP_TOO_MANY_REDIRECTS");
    expect((await probe(["-L", "--max-redirs=-1", `${base}/chain/60`])).result.redirects).toHaveLength(60);
  });

  test("301/302/303 turn a POST into a GET without its body, 307/308 keep both; a probe file sets it per target, like curl --data -L", async () => {
    const file = join(dir, "targets.yaml");
    const statuses = [301, 302, 303, 307, 308];
    await writeFile(
      file,
      `targets:\n${statuses.map((s) => `  - { url: "${base}/chain/1?status=${s}", method: POST, body: "payload-${s}", followRedirects: true }`).join("\n")}\n  - { url: "${base}/chain/1", followRedirects: false }\n`,
    );
    const run = await runBuilt(["probe", "--json", "-f", file]);
    const results = parseJsonLines(run.stdout).results;
    for (const status of statuses) {
      const result = results.find((r) => r.target.includes(`status=${status}`))!;
      const anchor = JSON.parse((await curl(["--data-raw", `payload-${status}`, `${base}/chain/1?status=${status}`])).body);
      const echoed = result.body.json;
      expect({ status, method: echoed.method, body: echoed.body }).toEqual({ status, method: anchor.method, body: anchor.body });
    }
    expect(results.find((r) => r.target === `${base}/chain/1`)!.status).toBe(302);
  });

  test("Authorization and Cookie go with a redirect to the same origin, not to another host (curl without --location-trusted)", async () => {
    const headers = ["-H", "Authorization: Bearer hop-secret", "-H", "Cookie: session=abc", "-H", "X-Kept: yes"];
    const same = await probe(["-L", ...headers, `${base}/chain/1`]);
    expect(same.result.body.json.headers).toMatchObject({ authorization: "Bearer hop-secret", cookie: "session=abc", "x-kept": "yes" });
    const other = `${base}/redirect?to=${encodeURIComponent(`http://localhost:${http.port}/chain/0`)}`;
    const moved = await probe(["-L", ...headers, other]);
    const anchor = JSON.parse((await curl([...headers, other])).body);
    expect(moved.result.body.json.headers.authorization).toBeUndefined();
    expect(moved.result.body.json.headers.cookie).toBeUndefined();
    expect(moved.result.body.json.headers["x-kept"]).toBe("yes");
    expect(Object.keys(anchor.headers).filter((h) => h === "authorization" || h === "cookie")).toEqual([]);
  });

  test("a hostile Location is resolved as a URL or refused, never run: the probe ends healthy, unhealthy or down", async () => {
    // A header's value is Latin-1 without line breaks or NUL: the server could send no other.
    const sendable = hostileValues.filter(({ value }) => /^[\t\x20-\x7e\x80-\xff]*$/.test(value));
    expect(sendable.length).toBeGreaterThan(10);
    for (const { name, value } of sendable) {
      const { code } = await probe(["-L", "--timeout", "2s", `${base}/redirect?to=${encodeURIComponent(value)}`]);
      expect({ name, code: [0, 1, 2].includes(code) }).toEqual({ name, code: true });
    }
    expect(await Bun.file(pwnedMarker).exists()).toBe(false);
  });

  test("a Location of another scheme is refused, and a bad one named", async () => {
    const { code, result } = await probe(["-L", `${base}/redirect?to=${encodeURIComponent("file:///etc/passwd")}`]);
    expect(code).toBe(2);
    expect(result.error.code).toBe("E_HTTP_REDIRECT");
  });
});
