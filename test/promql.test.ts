import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import fc from "fast-check";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapePromqlString } from "../src/expr/index.ts";
import { makeTestPki, type TestPki } from "./harness/certs.ts";
import { probeJson, runOpskit } from "./harness/cli.ts";
import { refusedPort } from "./harness/net.ts";
import { waitForQuery, startMetricTarget, startPrometheus, type MetricTarget, type TestServer } from "./harness/prometheus.ts";

// The promql probe kind and action against Debian's Prometheus, scraping a
// target whose gauges the test sets: `opskit probe promql+http://...` (instant
// and range queries, Prometheus's errors, credentials through a recording
// proxy), the promql step and a wait polling it through `opskit run`, and
// hostile values templated into a query, checked by what Prometheus answers.

let target: MetricTarget;
let prometheus: TestServer;
let proxy: Server<undefined>;
let tlsProxy: Server<undefined>;
let pki: TestPki;
const proxied: { authorization: string | null; tenant: string | null; path: string; body: string }[] = [];
let dir: string;

/** The hostile label values the target exposes as demo_hostile{v="..."}; each must be selected alone. */
const hostile = ['"} or vector(1) #', ".*", "a|b", "\\", '\\"', "'", "line\nbreak", "$1", "(?i)X", "x{y}", "`", "é ✓ 𝄞"];

const seen = (expr: string, until: (values: number[]) => boolean) => waitForQuery(prometheus.url, expr, until);

const promqlUrl = (query: string, extra = "") => `promql+${prometheus.url}/?query=${query.replaceAll("%", "%25").replaceAll("&", "%26").replaceAll("#", "%23")}${extra}`;

async function setConnections(value: number): Promise<void> {
  target.set("demo_connections", value, { db: "main" });
  await seen('demo_connections{db="main"}', (values) => values[0] === value);
}

async function runWorkflow(yaml: string, args: string[] = [], env: Record<string, string> = {}) {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, yaml);
  const run = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", file, "w", "--json", ...args], { cwd: dir, env });
  const events = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);
  return { ...run, steps: events.filter((e) => e.type === "step.finished"), events };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-promql-"));
  target = startMetricTarget();
  target.set("demo_connections", 100, { db: "main" });
  for (const v of [...hostile, "other"]) target.set("demo_hostile", 1, { v });
  prometheus = await startPrometheus({ scrapeTargets: [{ job: "demo", targets: [target.address] }] });
  pki = await makeTestPki();
  proxy = startProxy();
  tlsProxy = startProxy(pki.valid);
  await seen('demo_connections{db="main"}', (values) => values[0] === 100);
  await seen("count(demo_hostile)", (values) => values[0] === hostile.length + 1);
}, 60_000);

/** A proxy in front of Prometheus that records what each request carried (Prometheus itself takes no credentials), over TLS when given a certificate. */
function startProxy(tls?: { cert: string; key: string }): Server<undefined> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: tls ? { cert: Bun.file(tls.cert), key: Bun.file(tls.key) } : undefined,
    async fetch(request) {
      const body = await request.text();
      const url = new URL(request.url);
      proxied.push({ authorization: request.headers.get("authorization"), tenant: request.headers.get("x-scope-orgid"), path: url.pathname, body });
      const headers = { "content-type": request.headers.get("content-type") ?? "application/x-www-form-urlencoded" };
      const answer = await fetch(`${prometheus.url}${url.pathname}${url.search}`, { method: request.method, headers, body: request.method === "POST" ? body : undefined });
      return new Response(await answer.arrayBuffer(), { status: answer.status, headers: { "content-type": answer.headers.get("content-type") ?? "application/json" } });
    },
  });
}

afterAll(async () => {
  proxy?.stop(true);
  tlsProxy?.stop(true);
  await prometheus?.stop();
  await target?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("opskit probe promql+http://", () => {
  test("an instant query passes and fails as the scraped metric changes, with and without a condition", async () => {
    await setConnections(250);
    const high = await probeJson([promqlUrl('demo_connections{db="main"} > 200')]);
    expect(high.code).toBe(0);
    expect(high.result).toMatchObject({ kind: "promql", verdict: "healthy", promql: { resultType: "vector" } });
    expect(high.result.promql.result).toEqual([{ labels: { __name__: "demo_connections", db: "main", instance: target.address, job: "demo" }, value: 250, values: [{ t: expect.any(Number), v: 250 }] }]);
    const exists = await runOpskit(["probe", promqlUrl('demo_connections{db="main"}'), "--expect", "result.exists(s, s.value > 200.0)", "--expect", 'result.all(s, s.labels.job == "demo")']);
    expect(exists.code).toBe(0);

    await setConnections(50);
    const low = await probeJson([promqlUrl('demo_connections{db="main"} > 200')]);
    expect(low.code).toBe(2);
    expect(low.result.reason).toBe("the query returned no series");
    const condition = await runOpskit(["probe", promqlUrl('demo_connections{db="main"}'), "--expect", "result.exists(s, s.value > 200.0)"]);
    expect(condition.code).toBe(2);
    expect(condition.stdout).toContain("expected result.exists(s, s.value > 200.0)");
    const empty = await runOpskit(["probe", promqlUrl('demo_connections{db="main"} > 200'), "--expect", "size(result) == 0"]);
    expect(empty.code).toBe(0);
    // A plus sign in the URL form stays a plus (not a space, as a form would read it).
    const plus = await probeJson([promqlUrl('demo_connections{db="main"}+1'), "--expect", "result[0].value == 51.0"]);
    expect(plus.code).toBe(0);
  });

  test("a range query gives every point in the range, by the range= shorthand and by start/end/step", async () => {
    await setConnections(10);
    await Bun.sleep(2_000);
    await setConnections(300);
    const both = "result.exists(s, s.values.exists(p, p.v == 10.0) && s.values.exists(p, p.v == 300.0))";
    const range = await probeJson([promqlUrl('demo_connections{db="main"}', "&range=60s&step=1s"), "--expect", both, "--expect", "size(result[0].values) > 2", "--expect", 'resultType == "matrix"']);
    expect(range.code).toBe(0);
    const values = range.result.promql.result[0].values as { t: number; v: number }[];
    expect(values.map((p) => p.t)).toEqual([...values.map((p) => p.t)].sort((a, b) => a - b));
    expect(range.result.promql.result[0].value).toBe(values.at(-1)!.v);
    // A little past now: the last step evaluates after the latest scrape.
    const end = Math.ceil(Date.now() / 1000) + 2;
    const between = await probeJson([promqlUrl('demo_connections{db="main"}', `&start=${end - 60}&end=${end}&step=2s`), "--expect", both]);
    expect(between.code).toBe(0);
    // The range holds the low value: "never below 200 over the range" is false.
    const never = await runOpskit(["probe", promqlUrl('demo_connections{db="main"}', "&range=60s&step=1s"), "--expect", "result.all(s, s.values.all(p, p.v > 200.0))"]);
    expect(never.code).toBe(2);
  });

  test("Prometheus's error answers are clear errors with its errorType and message; an unreachable Prometheus exits 1", async () => {
    const bad = await probeJson([promqlUrl("sum(demo_connections")]);
    expect(bad.code).toBe(2);
    expect(bad.result.error).toMatchObject({ code: "E_PROMQL_ERROR" });
    expect(bad.result.error.message).toContain("400 bad_data");
    expect(bad.result.error.message).toContain("parse error");
    const text = await runOpskit(["probe", promqlUrl("rate(demo_connections)")]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("bad_data");
    expect(text.stdout).toContain("expected type range vector");
    const badStep = await probeJson([promqlUrl("up", "&start=abc&end=def&step=1s")]);
    expect(badStep.code).toBe(2);
    expect(badStep.result.error.message).toContain("bad_data");

    const down = await probeJson([`promql+http://127.0.0.1:${await refusedPort()}/?query=up`]);
    expect(down.code).toBe(1);
    expect(down.result.verdict).toBe("down");
    const notPrometheus = await probeJson([`promql+http://127.0.0.1:${proxy.port}/nothing-here?query=up`]);
    expect(notPrometheus.code).toBe(2);
    expect(notPrometheus.result.error.code).toBe("E_PROMQL_HTTP");
  });

  test("promql+https verifies Prometheus's certificate: trusted by ca= or --ca, or skipped by insecure=1 or --insecure", async () => {
    const base = `promql+https://127.0.0.1:${tlsProxy.port}/?query=up`;
    const untrusted = await probeJson([base]);
    // As for https://: an untrusted certificate is a failed check, not an unreachable server.
    expect(untrusted.code).toBe(2);
    expect(untrusted.result.reason).toContain("failed in tls: certificate not trusted");
    expect((await probeJson([`${base}&ca=${pki.caCert}`])).code).toBe(0);
    expect((await probeJson(["--ca", pki.caCert, base])).code).toBe(0);
    expect((await probeJson([`${base}&insecure=1`])).code).toBe(0);
    expect((await probeJson(["--insecure", base])).code).toBe(0);
  });

  test("bad targets are usage errors before anything is sent", async () => {
    const cases: [string, string][] = [
      ["promql+http://127.0.0.1:9/?query=", "has no query"],
      ["promql+http://127.0.0.1:9/?query=up&range=5m&time=1", "takes no start=, end= or time="],
      ["promql+http://127.0.0.1:9/?query=up&step=5s", "step= needs range="],
      ["promql+http://127.0.0.1:9/?query=up&nope=1", 'unknown parameter "nope"'],
      ["promql+http://127.0.0.1:9/?query=up # comment", "%23"],
      ["promql+http://127.0.0.1:9/?query=up % 2", "%25"],
    ];
    for (const [url, message] of cases) {
      const run = await runOpskit(["probe", url]);
      expect({ url, code: run.code }).toEqual({ url, code: 64 });
      expect(run.stderr).toContain(message);
    }
    const literal = await runOpskit(["probe", "promql+http://127.0.0.1:9/?query=up&bearer=s3cret-token-value"]);
    expect(literal.code).toBe(64);
    expect(literal.stderr).toContain("bearer= must name where the token is");
    expect(literal.stderr + literal.stdout).not.toContain("s3cret-token-value");
  });

  test("credentials from env: and file: references are sent as the Authorization header and never printed", async () => {
    const token = "tok-9f2c7a1e-never-printed";
    proxied.length = 0;
    const bearer = await runOpskit(["probe", "--json", "-H", "X-Scope-OrgID: team-a", `promql+http://127.0.0.1:${proxy.port}/?query=up&bearer=env:PROM_TOKEN`], { env: { PROM_TOKEN: token } });
    expect(bearer.code).toBe(0);
    expect(proxied.map((r) => r.authorization)).toEqual([`Bearer ${token}`]);
    expect(proxied[0]!.tenant).toBe("team-a");
    expect(proxied[0]!.path).toBe("/api/v1/query");
    expect(new URLSearchParams(proxied[0]!.body).get("query")).toBe("up");
    expect(bearer.stdout + bearer.stderr).not.toContain(token);

    const passwordFile = join(dir, "prom-password");
    await writeFile(passwordFile, "pa:ss-word-7d1b\n");
    proxied.length = 0;
    const basic = await runOpskit(["probe", `promql+http://127.0.0.1:${proxy.port}/?query=up&range=10s&user=reader&password=file:${passwordFile}`]);
    expect(basic.code).toBe(0);
    expect(proxied.map((r) => r.authorization)).toEqual([`Basic ${Buffer.from("reader:pa:ss-word-7d1b").toString("base64")}`]);
    expect(proxied[0]!.path).toBe("/api/v1/query_range");
    expect(basic.stdout + basic.stderr).not.toContain("pa:ss-word-7d1b");

    const unset = await probeJson([`promql+http://127.0.0.1:${proxy.port}/?query=up&bearer=env:OPSKIT_TEST_UNSET_TOKEN`]);
    expect(unset.code).not.toBe(0);
    expect(unset.result.error.message).toContain("OPSKIT_TEST_UNSET_TOKEN is not set");
  });
});

describe("the promql step and wait", () => {
  const workflow = (steps: string[]) => ["workflows:", "  w:", "    steps:", ...steps.map((s) => `      - ${s}`)].join("\n");

  test("a promql step registers its series for later steps; a wait polls a promql condition until it holds", async () => {
    await setConnections(500);
    const url = prometheus.url;
    const yaml = workflow([
      `{ name: conns, promql: { url: "${url}", query: 'demo_connections{db="main"}' } }`,
      "{ name: show, exec: 'echo value={{ steps.conns.result[0].value }} type={{ steps.conns.resultType }}' }",
      `{ name: settle, wait: { promql: { url: "${url}", query: 'demo_connections{db="main"}' }, until: "result.exists(s, s.value < 50.0)", timeout: 60s, interval: 300ms } }`,
    ]);
    const running = runWorkflow(yaml);
    // The wait has begun polling a condition that is false; make it true.
    await Bun.sleep(2_500);
    target.set("demo_connections", 20, { db: "main" });
    const { code, steps, stdout } = await running;
    expect(code).toBe(0);
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["conns", "ok"],
      ["show", "changed"],
      ["settle", "ok"],
    ]);
    expect(stdout).toContain("value=500 type=vector");
    const settle = steps.find((s) => s.name === "settle")!;
    expect(settle.result.data.attempts).toBeGreaterThan(1);
    expect(settle.result.data.result[0].value).toBe(20);
  });

  test("a step's expect decides it; a bad query fails it with Prometheus's message", async () => {
    const url = prometheus.url;
    const { code, steps } = await runWorkflow(
      workflow([
        `{ name: ok, promql: { url: "${url}", query: "vector(0.004)", expect: "result.all(s, s.value < 0.01)" } }`,
        `{ name: high, promql: { url: "${url}", query: "vector(0.5)", expect: "result.all(s, s.value < 0.01)" }, continueOnError: true }`,
        `{ name: bad, promql: { url: "${url}", query: "sum(", range: 1m } }`,
      ]),
    );
    expect(code).toBe(2);
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["ok", "ok"],
      ["high", "failed"],
      ["bad", "failed"],
    ]);
    expect(steps[2]!.result.error.message).toContain("bad_data");
  });

  test("hostile --var values in a query's string literal select only the series labelled with exactly that value", async () => {
    const url = prometheus.url;
    const yaml = workflow([
      `{ name: eq, promql: { url: "${url}", query: 'demo_hostile{v="{{ vars.v }}"}' } }`,
      `{ name: single, promql: { url: "${url}", query: "demo_hostile{v='{{ vars.v }}'}" } }`,
      `{ name: re, promql: { url: "${url}", query: 'demo_hostile{v=~"{{ vars.v }}"}' } }`,
    ]);
    for (const value of hostile) {
      const { code, steps } = await runWorkflow(yaml, ["--var", `v=${value}`]);
      expect({ value, code }).toEqual({ value, code: 0 });
      for (const step of steps) {
        const labels = (step.result.data.result as { labels: Record<string, string> }[]).map((s) => s.labels.v);
        expect({ value, step: step.name, labels }).toEqual({ value, step: step.name, labels: [value] });
      }
    }
    // A value no series carries selects nothing: the injection attempt did not add `or vector(1)`.
    const { code, steps } = await runWorkflow(yaml, ["--var", 'v=nothing"} or vector(1) #']);
    expect(code).toBe(0);
    for (const step of steps) expect(step.result.data.result).toEqual([]);
  });

  test("a {{ }} outside a string literal, or in the query of a promql+http URL, is refused before anything runs", async () => {
    const url = prometheus.url;
    const outside = await runWorkflow(workflow([`{ promql: { url: "${url}", query: "demo_connections > {{ vars.v }}" } }`]), ["--var", "v=1"]);
    expect(outside.code).toBe(65);
    expect(outside.stderr).toContain("E_TEMPLATE_UNSAFE");
    expect(outside.stderr).toContain("outside a string literal");
    const raw = await runWorkflow(workflow([`{ promql: { url: "${url}", query: 'demo_hostile{v=\`{{ vars.v }}\`}' } }`]), ["--var", "v=1"]);
    expect(raw.code).toBe(65);
    expect(raw.stderr).toContain("raw string");
    const inUrl = await runWorkflow(workflow([`{ probe: 'promql+${url}/?query=demo_hostile{v="{{ vars.v }}"}' }`]), ["--var", "v=1"]);
    expect(inUrl.code).toBe(65);
    expect(inUrl.stderr).toContain("would be read as code");
  });
});

describe("PromQL string escaping against Prometheus's own parser", () => {
  const ask = async (query: string) => {
    const response = await fetch(`${prometheus.url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query }), signal: AbortSignal.timeout(5_000) });
    return (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string> }[] } };
  };
  // Prometheus keeps label values as UTF-8 text: generated strings are well-formed Unicode.
  const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 });
  const tricky = fc.stringMatching(/^[\\"'`\n\r\t\x00-\x1f.*+?()|[\]{}^$#a-z]{1,20}$/);

  test("a value escaped for a double- or single-quoted string reads back as exactly itself", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(text, tricky), fc.constantFrom('"' as const, "'" as const), async (value, quote) => {
        // label_join with two absent source labels yields the separator alone: the string literal's value.
        const answer = await ask(`label_join(vector(1), "v", ${quote}${escapePromqlString(value, quote, false)}${quote}, "a", "b")`);
        expect(answer.status).toBe("success");
        expect(answer.data!.result.map((s) => s.metric.v)).toEqual([value]);
      }),
      { numRuns: 150 },
    );
  });

  test("a value escaped for a regex matcher matches itself and nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(text, tricky), fc.oneof(text, tricky), async (value, other) => {
        const labelled = (v: string) => `label_join(vector(1), "v", "${escapePromqlString(v, '"', false)}", "a", "b")`;
        // label_replace anchors its regex, as a =~ matcher does, and sets m only when it matches.
        const matches = async (v: string) => {
          const answer = await ask(`label_replace(${labelled(v)}, "m", "yes", "v", "${escapePromqlString(value, '"', true)}")`);
          expect(answer.status).toBe("success");
          return answer.data!.result[0]?.metric.m === "yes";
        };
        expect(await matches(value)).toBe(true);
        if (other !== value) expect(await matches(other)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

test("examples/promql validates: a promql check, a rule with a query and a promql verify with for:, a workflow polling a query", async () => {
  const run = await runOpskit(["validate", "-c", "examples/promql"], { env: { PROM_TOKEN: "example-token" } });
  expect(run.stderr).toBe("");
  expect(run.stdout).toMatch(/^ok: 0 hosts, 1 workflow, 1 rule, 1 check /);
  // Without the token the credentials it references are reported, not sent empty.
  const unset = await runOpskit(["validate", "-c", "examples/promql"], { env: { PROM_TOKEN: "" } });
  expect(unset.code).toBe(65);
  expect(unset.stderr).toContain("promql.bearer: environment variable PROM_TOKEN is not set");
});
