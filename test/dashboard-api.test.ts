import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";
import { createTestDatabase, type TestDatabase } from "./harness/postgres.ts";
import { rawHttp, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// The API the dashboard reads, against the real `opskit serve`: pages with
// filters, actions, the live event stream and step output, checks, MTTR,
// and the headers every answer carries.

const running: ServeProcess[] = [];
const databases: TestDatabase[] = [];
const helpers: { stop(force?: boolean): unknown }[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
  for (const helper of helpers.splice(0)) helper.stop(true);
});
afterAll(async () => {
  for (const database of databases) await database.drop();
});

/** A server whose workflows leave marks in a directory of the test's: `go` releases the talking step. */
async function serve(extra = "", options: Parameters<typeof startServe>[1] = {}): Promise<ServeProcess & { marks: string }> {
  const dir = writeConfig("");
  const marks = join(dir, "marks");
  mkdirSync(marks);
  const yaml = `
workflows:
  quick:
    targets: local
    steps:
      - name: ok
        exec: "true"
  talk:
    targets: local
    steps:
      - name: talk
        exec: "echo first-line; echo to-stderr >&2; while [ ! -f ${marks}/go ]; do sleep 0.05; done; echo after-go"
        timeout: 60s
  broken:
    targets: local
    steps:
      - name: fail
        exec: "exit 3"
rules:
  - name: quick-fix
    match: { alertname: Quick }
    run: quick
    cooldown: 0s
  - name: talk-fix
    match: { alertname: Talk }
    run: talk
  - name: ask
    match: { alertname: Ask }
    run: quick
    approval: true
    escalate:
      - exec: "touch ${marks}/paged"
  - name: cool
    match: { alertname: Cool }
    run: broken
    cooldown: 1h
    maxAttempts: 3
${extra}`;
  const server = await startServe(writeConfig(yaml, dir), options);
  running.push(server);
  return Object.assign(server, { marks });
}

const alerts = (server: ServeProcess, list: { labels: Record<string, string>; status?: "firing" | "resolved"; startsAt?: string }[]) => server.post("/api/v1/alerts", list);
const get = (server: ServeProcess, path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}`, ...headers }, signal: AbortSignal.timeout(15_000) });

/** Every page of a list, following nextCursor. */
async function allPages(server: ServeProcess, path: string, key: "incidents" | "runs"): Promise<{ items: any[]; totals: number[]; pages: number }> {
  const items: any[] = [];
  const totals: number[] = [];
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    const page = await server.get(`${path}${path.includes("?") ? "&" : "?"}${cursor ? `cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page[key]);
    totals.push(page.total);
    if (!page.nextCursor) return { items, totals, pages };
    cursor = page.nextCursor;
  }
}

/** Server-sent events read with fetch and the token in a header, as the dashboard reads them. */
async function events(server: ServeProcess, path = "/api/v1/events") {
  const controller = new AbortController();
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` }, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    response,
    close: () => controller.abort(),
    /** The next event that `match` accepts (others are skipped), within the test's own timeout. */
    async next(match: (event: string, data: any) => boolean): Promise<{ event: string; data: any }> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data && match(event, JSON.parse(data))) return { event, data: JSON.parse(data) };
          continue;
        }
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended; left unread: ${buffer}`);
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

const securityHeaders = {
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};
const headersOf = (response: Response) => Object.fromEntries(Object.keys(securityHeaders).map((name) => [name, response.headers.get(name)]));

describe("dashboard API: the page and the headers of every answer", () => {
  test("the page and its files are served open, with the strict headers, an ETag and HEAD; the API, errors and 404s carry the headers and no-store", async () => {
    const server = await serve();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(headersOf(page)).toEqual(securityHeaders);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toContain("<html");
    // The page holds no inline script: everything it runs comes from the server's own files.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    const script = /<script[^>]*src="([^"]+)"/.exec(html)![1]!;
    const js = await fetch(`${server.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(headersOf(js)).toEqual(securityHeaders);
    const tag = js.headers.get("etag")!;
    const body = await js.arrayBuffer();
    expect(tag).toMatch(/^"[0-9a-z]+"$/);
    const again = await fetch(`${server.url}${script}`, { headers: { "if-none-match": tag } });
    expect(again.status).toBe(304);
    expect(headersOf(again)).toEqual(securityHeaders);
    const head = await fetch(`${server.url}${script}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(body.byteLength));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    expect((await fetch(`${server.url}/favicon.ico`)).status).toBe(204);

    for (const path of ["/nothing-here", "/assets/nothing.js", "/incidents/5"]) {
      const missing = await fetch(`${server.url}${path}`);
      expect({ path, status: missing.status }).toEqual({ path, status: 404 });
      expect(headersOf(missing)).toEqual(securityHeaders);
      expect(missing.headers.get("cache-control")).toBe("no-store");
    }
    const refused = await fetch(`${server.url}/api/v1/incidents`);
    expect(refused.status).toBe(401);
    expect(headersOf(refused)).toEqual(securityHeaders);
    const api = await get(server, "/api/v1/overview");
    expect(api.status).toBe(200);
    expect(headersOf(api)).toEqual(securityHeaders);
    expect(api.headers.get("cache-control")).toBe("no-store");
    expect((await fetch(`${server.url}/healthz`)).headers.get("cache-control")).toBe("no-store");
    // The page is under the same guard as the API: a foreign origin and a rebound name are refused.
    const foreign = await fetch(`${server.url}/`, { headers: { origin: "https://evil.example" } });
    expect(foreign.status).toBe(403);
    expect(headersOf(foreign)).toEqual(securityHeaders);
    const rebound = await rawHttp(server.url, "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    expect(rebound.status).toBe(421);
    expect(rebound.headers.toLowerCase()).toContain("x-frame-options: deny");
    // Only reads are open: a POST to the page is not a thing, and the API's reads need the token under HEAD too.
    expect((await fetch(`${server.url}/`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${server.url}/api/v1/incidents`, { method: "HEAD" })).status).toBe(405);
  });
});

describe("dashboard API: history pages", () => {
  for (const kind of ["SQLite", "PostgreSQL"] as const) {
    test(`incidents page through every match of their filters, newest first, with the total and gate state; runs page by filter too (${kind})`, async () => {
      let options: Parameters<typeof startServe>[1] = {};
      let extra = "";
      if (kind === "PostgreSQL") {
        const database = await createTestDatabase();
        databases.push(database);
        const token = "dashboard-test-token-0123456789abcdef";
        options = { journal: database.url, env: { OPSKIT_TOKEN: token }, token };
        extra = "server: { token: env:OPSKIT_TOKEN }";
      }
      const server = await serve(extra, options);
      const startsAt = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();
      const list = Array.from({ length: 130 }, (_, n) => ({ labels: { alertname: n % 3 === 0 ? "DiskFull" : "Latency", service: `svc-${n % 4}`, n: String(n) }, startsAt: startsAt(n) }));
      expect((await alerts(server, list)).status).toBe(200);
      const resolved = list.filter((_, n) => n % 5 === 0);
      expect((await alerts(server, resolved.map((a) => ({ ...a, status: "resolved" as const })))).status).toBe(200);
      await server.waitFor("/api/v1/incidents?status=resolved&limit=1", (v) => v.total === resolved.length);

      const byN = (items: any[]) => items.map((i) => Number(i.labels.n));
      const expected = (match: (n: number) => boolean) => list.map((_, n) => n).filter(match).reverse();
      const whole = await allPages(server, "/api/v1/incidents?limit=17", "incidents");
      expect(byN(whole.items)).toEqual(expected(() => true));
      expect(new Set(whole.totals)).toEqual(new Set([130]));
      expect(whole.pages).toBe(Math.ceil(130 / 17));
      const open = await allPages(server, "/api/v1/incidents?status=open&q=svc-2&limit=7", "incidents");
      expect(byN(open.items)).toEqual(expected((n) => n % 5 !== 0 && n % 4 === 2));
      expect(open.totals[0]).toBe(open.items.length);
      // No rule matches these: each open one waits for a person.
      expect(new Set(open.items.map((i) => i.gate?.state))).toEqual(new Set(["unmatched"]));
      const inRange = await allPages(server, `/api/v1/incidents?q=DISKFULL&since=${Date.parse(startsAt(30))}&until=${Date.parse(startsAt(90))}&limit=500`, "incidents");
      expect(byN(inRange.items)).toEqual(expected((n) => n % 3 === 0 && n >= 30 && n < 90));
      const closed = (await server.get("/api/v1/incidents?status=resolved&limit=500")).incidents;
      expect(closed.every((i: any) => i.gate === undefined && i.status === "resolved")).toBe(true);

      for (const [query, message] of [
        ["limit=0", 'limit must be 1..500, not "0"'],
        ["limit=501", 'limit must be 1..500, not "501"'],
        ["status=closed", 'status must be one of open, resolved, all, not "closed"'],
        ["since=10&until=5", "since (10) must be before until (5)"],
        ["cursor=bm90LWEtY3Vyc29y", "cursor is not one this list gave out"],
      ] as const) {
        const answer = await get(server, `/api/v1/incidents?${query}`);
        expect({ query, status: answer.status }).toEqual({ query, status: 400 });
        const { error } = (await answer.json()) as { error: { code: string; message: string; hint: string } };
        expect(error).toMatchObject({ code: "E_QUERY", message });
        expect(error.hint.length).toBeGreaterThan(0);
      }
      const runsCursor = (await server.get("/api/v1/runs?limit=1")).nextCursor;
      expect(runsCursor).toBeUndefined();

      // Runs: one per Quick alert, each remediated.
      expect((await alerts(server, Array.from({ length: 12 }, (_, n) => ({ labels: { alertname: "Quick", n: String(n) } })))).status).toBe(200);
      await server.waitFor("/api/v1/runs?status=succeeded&limit=1", (v) => v.total === 12);
      const runs = await allPages(server, "/api/v1/runs?workflow=quick&trigger=remediation&target=local&limit=5", "runs");
      expect(runs.items).toHaveLength(12);
      expect(new Set(runs.totals)).toEqual(new Set([12]));
      const order = runs.items.map((r) => `${r.startedAt} ${r.id}`);
      expect(order).toEqual([...order].sort().reverse());
      expect(runs.items.every((r) => r.live === false && r.status === "succeeded" && r.params.trigger.rule === "quick-fix")).toBe(true);
      expect((await server.get("/api/v1/runs?trigger=schedule")).total).toBe(0);
      expect((await get(server, "/api/v1/runs?trigger=cron")).status).toBe(400);
      expect((await get(server, "/api/v1/runs?status=done")).status).toBe(400);
    }, 60_000);
  }
});

describe("dashboard API: approvals", () => {
  test("a denial needs the token, rejects the waiting attempt with who and why, escalates to people, and a second one is a 409", async () => {
    const server = await serve();
    await alerts(server, [{ labels: { alertname: "Ask", service: "pay" } }]);
    const overview = await server.waitFor("/api/v1/overview", (v) => v.awaitingApproval.length === 1 && v);
    const [waiting] = overview.awaitingApproval;
    expect(waiting.gate).toEqual({ state: "awaiting_approval", attempt: 1, reason: "approval required for attempt 1" });
    expect(overview).toMatchObject({ paused: false, dryRun: false, replicas: 1, openIncidents: 1, running: [], replica: { leader: true } });
    const id = waiting.id;

    expect((await fetch(`${server.url}/api/v1/incidents/${id}/deny`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/incidents/${id}/deny`, { method: "POST", headers: { authorization: `Bearer ${server.token}`, "content-type": "text/plain" }, body: "{}" })).status).toBe(415);
    expect((await server.post(`/api/v1/incidents/${id}/deny`, { by: "x".repeat(201) })).status).toBe(400);
    const denied = await server.post(`/api/v1/incidents/${id}/deny`, { by: "alice", reason: "not during the sale" });
    expect(denied.status).toBe(200);
    expect(denied.body.attempts).toEqual([expect.objectContaining({ attempt: 1, status: "rejected", detail: "denied by alice: not during the sale" })]);
    expect(denied.body.incident).toMatchObject({ status: "open", escalated: true });
    expect(denied.body.gate).toEqual({ state: "escalated", reason: "attempt 1 was denied by alice: not during the sale" });
    const lines = denied.body.events.map((e: any) => e.message);
    expect(lines).toContain("denied: attempt 1 by alice: not during the sale");
    // The rule's escalation runs: its run is the incident's too.
    const view = await server.waitFor(`/api/v1/incidents/${id}`, (v) => v.runs.length === 1 && v.runs[0].status === "succeeded" && v);
    expect(view.runs[0]).toMatchObject({ name: "escalate:ask", params: { trigger: { incident: id, attempt: 0, rule: "ask" } }, live: false });
    expect(view.targets[view.runs[0].id]).toEqual([expect.objectContaining({ target: "local", status: "changed" })]);
    expect(existsSync(join(server.marks, "paged"))).toBe(true);

    for (const verb of ["deny", "approve"]) {
      const again = await server.post(`/api/v1/incidents/${id}/${verb}`, { by: "bob" });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe(verb === "deny" ? "E_NOTHING_TO_DENY" : "E_NOTHING_TO_APPROVE");
    }
    expect((await server.post("/api/v1/incidents/999/deny", {})).status).toBe(404);
    const acked = await server.post(`/api/v1/incidents/${id}/ack`, {});
    expect(acked.body.events.map((e: any) => e.message)).toContain("acknowledged: by api");
    expect((await server.get("/api/v1/overview")).awaitingApproval).toEqual([]);
  });

  test("an approval records who approved it; a cooldown after a failed attempt shows when it lifts", async () => {
    const server = await serve();
    await alerts(server, [{ labels: { alertname: "Ask", service: "web" } }]);
    const waiting = await server.waitFor("/api/v1/incidents?status=open", (v) => v.incidents[0]?.gate?.state === "awaiting_approval" && v.incidents[0]);
    const approved = await server.post(`/api/v1/incidents/${waiting.id}/approve`, { by: "carol" });
    expect(approved.status).toBe(200);
    expect(approved.body.events.map((e: any) => e.message)).toContain("approved: attempt 1 by carol");

    const before = Date.now();
    await alerts(server, [{ labels: { alertname: "Cool", service: "db" } }]);
    const cool = await server.waitFor("/api/v1/incidents?rule=cool", (v) => v.incidents[0]?.gate?.state === "suppressed" && v.incidents[0]);
    expect(cool.gate.reason).toBe("cooldown");
    const view = await server.get(`/api/v1/incidents/${cool.id}`);
    const started = view.attempts[0].startedAt;
    expect(view.attempts[0].status).toBe("failed");
    // The cooldown runs an hour from the attempt's start, give or take the time the decision took.
    expect(cool.gate.until).toBeGreaterThanOrEqual(started + 3_600_000 - 1000);
    expect(cool.gate.until).toBeLessThanOrEqual(started + 3_600_000 + 1000);
    expect(cool.gate.until).toBeGreaterThan(before + 3_000_000);
    expect(view.phases.detect).toBeGreaterThanOrEqual(0);
    expect(view.phases.resolve).toBeUndefined();
  });
});

describe("dashboard API: live events and output", () => {
  test("the stream carries an incident's events and its run's output as it prints; the output downloads while it runs and after", async () => {
    const server = await serve();
    for (const [headers, what] of [[{}, "no token"], [{ authorization: "Bearer wrong" }, "a wrong token"]] as const) {
      expect({ what, status: (await fetch(`${server.url}/api/v1/events`, { headers })).status }).toEqual({ what, status: 401 });
    }
    // The token is taken from the header only: not from the query string, not from a cookie.
    expect((await fetch(`${server.url}/api/v1/events?token=${server.token}&access_token=${server.token}`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/events`, { headers: { cookie: `token=${server.token}` } })).status).toBe(401);

    const feed = await events(server);
    expect(feed.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    await alerts(server, [{ labels: { alertname: "Talk", service: "chatty" } }]);
    const opened = await feed.next((event, data) => event === "heal" && data.type === "incident.opened");
    expect(opened.data).toMatchObject({ title: "Talk", labels: { alertname: "Talk", service: "chatty" }, rule: "talk-fix" });
    const started = await feed.next((event, data) => event === "run" && data.type === "run.started");
    const runId: string = started.data.runId;
    // The general feed has no output; the run's own stream has it.
    const follow = await events(server, `/api/v1/events?run=${runId}`);
    const run = await server.get(`/api/v1/runs/${runId}?steps=summary`);
    expect(run).toMatchObject({ live: true, run: { status: "running" }, steps: [] });
    const download = (query = "") => get(server, `/api/v1/runs/${runId}/output?target=local&phase=main&index=0${query}`);
    // What it printed so far, while it waits for the go file.
    const live = await (async () => {
      for (;;) {
        const answer = await download();
        if (answer.status === 200) {
          const text = await answer.text();
          if (text.includes("first-line") && text.includes("to-stderr")) return answer;
        }
        await Bun.sleep(50);
      }
    })();
    expect(live.headers.get("x-output-source")).toBe("live; running");
    expect(live.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(live.headers.get("content-disposition")).toBe(`attachment; filename="${runId}-local-main-0.txt"`);
    expect(headersOf(live)).toEqual(securityHeaders);
    expect(await (await download("&stream=stdout")).text()).toBe("first-line\n");
    expect(await (await download("&stream=stderr")).text()).toBe("to-stderr\n");
    expect((await server.get(`/api/v1/runs/${runId}`)).live).toBe(true);

    writeFileSync(join(server.marks, "go"), "");
    const after = await follow.next((event, data) => event === "output" && data.text.includes("after-go"));
    expect(after.data).toMatchObject({ runId, target: "local", phase: "main", index: 0, step: "talk", stream: "stdout" });
    expect(after.data.offset).toBe("first-line\n".length);
    const finished = await follow.next((event, data) => event === "run" && data.type === "run.finished");
    expect(finished.data.status).toBe("succeeded");
    const resolved = await feed.next((event, data) => event === "heal" && data.type === "remediation.finished");
    expect(resolved.data).toMatchObject({ runId, status: "succeeded" });
    feed.close();
    follow.close();

    // After the run: the journal's copy, once this server has let its own go.
    const recorded = await (async () => {
      for (;;) {
        const answer = await download();
        if (answer.headers.get("x-output-source") === "journal") return answer.text();
        expect(answer.status).toBe(200);
        await Bun.sleep(200);
      }
    })();
    expect(recorded).toBe("first-line\nafter-go\nto-stderr\n");
    const summary = await server.get(`/api/v1/runs/${runId}?steps=summary`);
    expect(summary.live).toBe(false);
    expect(summary.steps).toEqual([expect.objectContaining({ name: "talk", status: "changed", stdoutBytes: "first-line\nafter-go\n".length, stderrBytes: "to-stderr\n".length })]);
    expect(summary.steps[0].stdout).toBeUndefined();
    const full = await server.get(`/api/v1/runs/${runId}`);
    expect(full.steps[0].stdout).toBe("first-line\nafter-go\n");

    expect((await get(server, `/api/v1/runs/${runId}/output?phase=main&index=0`)).status).toBe(400);
    expect((await get(server, `/api/v1/runs/${runId}/output?target=local&index=x`)).status).toBe(400);
    expect((await get(server, `/api/v1/runs/${runId}/output?target=local&index=5`)).status).toBe(404);
    expect((await get(server, "/api/v1/runs/no-such-run/output?target=local&index=0")).status).toBe(404);
    expect((await get(server, `/api/v1/runs/${runId}?steps=some`)).status).toBe(400);
  }, 60_000);

  test("stopping the server ends the streams it serves", async () => {
    const server = await serve();
    const feed = await events(server);
    const stopped = server.stop();
    await expect(feed.next(() => false)).rejects.toThrow();
    expect(await stopped).toBe(0);
  });
});

describe("dashboard API: checks and MTTR", () => {
  test("each check shows its kind, target, labels, group, interval, recent results and uptime", async () => {
    const http = startHttpServer();
    helpers.push(http);
    const base = `http://127.0.0.1:${http.port}`;
    const server = await serve(`checks:
  - name: up
    probe: ${base}/ok
    interval: 100ms
    labels: { group: edge, team: web }
  - name: down
    probe: ${base}/status/503
    interval: 100ms
    failureThreshold: 100
`);
    const { checks } = await server.waitFor("/api/v1/checks", (v) => v.checks.every((c: any) => c.history.length >= 3) && v);
    const [up, down] = checks;
    expect(up).toMatchObject({ name: "up", status: "passing", kind: "http", target: `${base}/ok`, labels: { group: "edge", team: "web" }, group: "edge", intervalMs: 100, uptime: 1 });
    expect(down).toMatchObject({ name: "down", status: "failing", kind: "http", target: `${base}/status/503`, labels: {}, intervalMs: 100, uptime: 0 });
    expect(down.group).toBeUndefined();
    expect(up.history.length).toBeLessThanOrEqual(60);
    for (const point of up.history) expect(Object.keys(point).sort()).toEqual(["at", "durationMs", "ok"]);
    expect(up.history.at(-1).at).toBe(up.lastRunAt);
  });

  test("MTTR reads as `opskit mttr --format json` does for the same range, in all and for one rule, with its weeks", async () => {
    const server = await serve();
    const now = Date.now();
    const minutes = (m: number) => new Date(now - m * 60_000).toISOString();
    // Started 10-50 minutes ago; some resolved, some still open.
    const fired = [10, 20, 30, 40, 50].map((m, n) => ({ labels: { alertname: n % 2 === 0 ? "Quick" : "Other", n: String(n) }, startsAt: minutes(m) }));
    await alerts(server, fired);
    await server.waitFor("/api/v1/incidents?limit=10", (v) => v.total === 5);
    await alerts(server, fired.slice(0, 3).map((a) => ({ ...a, status: "resolved" as const })));
    await server.waitFor("/api/v1/incidents?status=resolved", (v) => v.total === 3);
    const since = now - 24 * 3_600_000;
    const until = now + 60_000;
    const api = await server.get(`/api/v1/mttr?since=${since}&until=${until}`);
    const cli = await runOpskit(["mttr", "--format", "json", "--journal", server.journal, "--since", new Date(since).toISOString(), "--until", new Date(until).toISOString()]);
    expect(cli.code).toBe(0);
    const report = JSON.parse(cli.stdout);
    const { label: _label, phases, since: _s, until: _u, ...counts } = report.overall[0];
    expect(api.summary).toEqual(counts);
    expect(api.phases).toEqual(phases);
    expect(api.range).toEqual({ since, until });
    expect(api.summary).toMatchObject({ incidents: 5, resolved: 3, open: 2 });
    // The weeks: the same time to resolve as the report's weekly series.
    expect(api.weekly.map((w: any) => [new Date(w.weekStart).toISOString().slice(0, 10), w.resolved, w.mttrMs])).toEqual(report.weekly.map((w: any) => [w.week, w.count, w.median]));
    expect(api.weekly.reduce((n: number, w: any) => n + w.incidents, 0)).toBe(5);

    const rule = await server.get(`/api/v1/mttr?since=${since}&until=${until}&rule=quick-fix`);
    const byRule = JSON.parse((await runOpskit(["mttr", "--format", "json", "--by", "rule", "--journal", server.journal, "--since", new Date(since).toISOString(), "--until", new Date(until).toISOString()])).stdout);
    const group = byRule.groups.find((g: any) => g.group === "quick-fix").cohorts[0];
    expect(rule.phases).toEqual(group.phases);
    expect(rule.summary.incidents).toBe(group.incidents);
    expect(rule.rule).toBe("quick-fix");
    expect((await get(server, `/api/v1/mttr?since=0&until=${until}`)).status).toBe(400);
  }, 60_000);
});
