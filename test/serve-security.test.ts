import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { alertmanagerNotification, rawHttp, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// `opskit serve` against what a web page on the ops host, a rebound DNS
// name or a careless setup can do: every test starts the real server and
// sends the hostile request as a browser or a raw socket would.

const running: ServeProcess[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});

async function serve(yaml = "", options: Parameters<typeof startServe>[1] = {}): Promise<ServeProcess> {
  const server = await startServe(writeConfig(yaml), options);
  running.push(server);
  return server;
}

const port = (server: ServeProcess) => new URL(server.url).port;
const paused = async (server: ServeProcess) => (await server.get("/healthz")).paused as boolean;

async function notificationCount(server: ServeProcess): Promise<number> {
  await server.stop();
  const { Database } = await import("bun:sqlite");
  const db = new Database(server.journal, { readonly: true });
  const { n } = db.query("SELECT COUNT(*) AS n FROM notifications").get() as { n: number };
  db.close();
  return n;
}

/** `opskit serve` that must refuse to start: its exit code and what it said. */
async function serveFails(yaml: string, env: Record<string, string> = {}, args: string[] = []) {
  const dir = writeConfig(yaml);
  return { dir, ...(await runOpskit(["serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", join(dir, "journal.db"), ...args], { cwd: dir, env, timeoutMs: 20_000 })) };
}

describe("opskit serve: a token by default", () => {
  test("without server.token the first start creates a 0600 token beside the journal, says where, and later starts reuse it", async () => {
    const server = await serve();
    const file = join(server.dir, "server.token");
    const token = readFileSync(file, "utf8").trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(server.output()).toContain(`API token created in ${file}`);
    // Loopback is no pass: the API and the webhooks want the token.
    expect((await fetch(`${server.url}/api/v1/pause`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/incidents`)).status).toBe(401);
    const alert = JSON.stringify(alertmanagerNotification([{ labels: { alertname: "Broken" } }]));
    expect((await fetch(`${server.url}/api/v1/alerts/alertmanager`, { method: "POST", headers: { "content-type": "application/json" }, body: alert })).status).toBe(401);
    expect((await server.post("/api/v1/alerts/alertmanager", JSON.parse(alert))).status).toBe(200);
    expect(await paused(server)).toBe(false);
    await server.stop();

    const again = await startServe(server.dir, { journal: server.journal });
    running.push(again);
    expect(again.output()).toContain(`API token read from ${file}`);
    expect(readFileSync(file, "utf8").trim()).toBe(token);
    expect((await again.post("/api/v1/pause", {}, token)).status).toBe(200);
  });

  test("the CLI reads the generated token beside the journal when none is given, and $OPSKIT_TOKEN or server.token win over it", async () => {
    const server = await serve();
    const home = mkdtempSync(join(tmpdir(), "opskit-home-"));
    const base = { OPSKIT_SERVER: server.url, HOME: home, XDG_STATE_HOME: "" };
    const found = await runOpskit(["pause"], { env: { ...base, OPSKIT_JOURNAL: server.journal }, cwd: home });
    expect(found.stderr).toBe("");
    expect(found.code).toBe(0);
    expect(await paused(server)).toBe(true);
    const flag = await runOpskit(["resume", "--journal", server.journal], { env: base, cwd: home });
    expect(flag.code).toBe(0);
    expect(await paused(server)).toBe(false);
    // No token anywhere this client looks: the server says so.
    const none = await runOpskit(["pause"], { env: base, cwd: home });
    expect(none.code).toBe(64);
    expect(none.stderr).toContain("missing or wrong bearer token");
    const wrong = await runOpskit(["pause"], { env: { ...base, OPSKIT_JOURNAL: server.journal, OPSKIT_TOKEN: "not-the-token" }, cwd: home });
    expect(wrong.code).toBe(64);
    const empty = await runOpskit(["pause"], { env: { ...base, OPSKIT_JOURNAL: server.journal, OPSKIT_TOKEN: "" }, cwd: home });
    expect(empty.code).toBe(65);
    expect(empty.stderr).toContain("OPSKIT_TOKEN");
    expect(await paused(server)).toBe(false);
  });

  test("server.auth: none lets loopback in without a token only after a warning at every start", async () => {
    const server = await serve("server: { auth: none }");
    expect(server.output()).toMatch(/WARNING: server.auth is none/);
    expect((await fetch(`${server.url}/api/v1/pause`, { method: "POST" })).status).toBe(200);
    expect(await paused(server)).toBe(true);
    const beyond = await serveFails("server: { auth: none }", {}, ["--listen", "0.0.0.0:0"]);
    expect(beyond.code).toBe(64);
    expect(beyond.stderr).toContain("refusing to listen on 0.0.0.0:0 with server.auth: none");
  });

  test("a listen name that merely starts with 127. is not loopback", async () => {
    const result = await serveFails("server: { auth: none }", {}, ["--listen", "127.0.0.1.nip.io:0"]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("refusing to listen on 127.0.0.1.nip.io:0 with server.auth: none");
  });

  test("an empty token (file or environment variable) stops the start with the file and the fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "opskit-secret-"));
    const file = join(dir, "token");
    writeFileSync(file, "\n");
    const fromFile = await serveFails(`server: { token: "file:${file}" }`);
    expect(fromFile.code).toBe(65);
    expect(fromFile.stderr).toContain(`server.token: the file ${file} is empty`);
    expect(fromFile.stderr).toContain(`write the token into ${file}`);
    const hook = await serveFails(`server: { webhookToken: "file:${file}" }`);
    expect(hook.code).toBe(65);
    expect(hook.stderr).toContain(`server.webhookToken: the file ${file} is empty`);
    const fromEnv = await serveFails("server: { token: env:EMPTY_TEST_TOKEN }", { EMPTY_TEST_TOKEN: "" });
    expect(fromEnv.code).toBe(65);
    // A generated token file emptied by hand is not "no token" either.
    const generated = writeConfig("");
    writeFileSync(join(generated, "server.token"), "", { mode: 0o600 });
    const emptied = await runOpskit(["serve", "-c", generated, "--listen", "127.0.0.1:0", "--journal", join(generated, "journal.db")], { cwd: generated, timeoutMs: 20_000 });
    expect(emptied.code).toBe(65);
    expect(emptied.stderr).toContain(`the token file ${join(generated, "server.token")} is empty`);
  });

  test("a generated token file others may read is refused, as ssh refuses a readable key", async () => {
    const dir = writeConfig("");
    const file = join(dir, "server.token");
    writeFileSync(file, "a-token-someone-else-may-have-read\n", { mode: 0o644 });
    chmodSync(file, 0o644);
    const result = await runOpskit(["serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", join(dir, "journal.db")], { cwd: dir, timeoutMs: 20_000 });
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(`the token file ${file} may be read by others (mode 0644)`);
    expect(result.stderr).toContain(`chmod 600 ${file}`);
  });

  test("a token compares equal only whole: a prefix, an extension or a case change is refused", async () => {
    const server = await serve("server: { token: env:TEST_API_TOKEN }", { env: { TEST_API_TOKEN: "s3cret-Token" }, token: "s3cret-Token" });
    for (const given of ["s3cret-Toke", "s3cret-Token0", "S3CRET-TOKEN", "s3cret-Token s3cret-Token", ""]) {
      const response = await fetch(`${server.url}/api/v1/pause`, { method: "POST", headers: { authorization: `Bearer ${given}` } });
      expect({ given, status: response.status }).toEqual({ given, status: 401 });
    }
    expect((await server.post("/api/v1/pause")).status).toBe(200);
  });
});

describe("opskit serve: requests a browser can forge", () => {
  test("a form or text/plain body is refused with 415 on the API and the webhooks, and changes nothing", async () => {
    const server = await serve();
    const auth = { authorization: `Bearer ${server.token}` };
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1"]) {
      const pause = await fetch(`${server.url}/api/v1/pause`, { method: "POST", headers: { ...auth, "content-type": type }, body: "{}" });
      expect({ type, status: pause.status }).toEqual({ type, status: 415 });
      expect(((await pause.json()) as any).error.code).toBe("E_MEDIA_TYPE");
      const hook = await fetch(`${server.url}/api/v1/alerts`, { method: "POST", headers: { ...auth, "content-type": type }, body: JSON.stringify({ labels: { alertname: "Forged" } }) });
      expect({ type, status: hook.status }).toEqual({ type, status: 415 });
    }
    // A body with no type at all is no JSON either.
    const body = JSON.stringify({ labels: { alertname: "Raw" } });
    const untyped = await rawHttp(server.url, `POST /api/v1/alerts HTTP/1.1\r\nHost: 127.0.0.1:${port(server)}\r\nAuthorization: Bearer ${server.token}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(untyped.status).toBe(415);
    expect(await paused(server)).toBe(false);
    expect(await notificationCount(server)).toBe(0);
  });

  test("a foreign Origin is refused with 403; the server's own origin and no Origin are served", async () => {
    const server = await serve();
    const auth = { authorization: `Bearer ${server.token}`, "content-type": "application/json" };
    for (const origin of ["http://evil.example", "null", `http://127.0.0.1.nip.io:${port(server)}`, `http://localhost:${Number(port(server)) + 1}`]) {
      const response = await fetch(`${server.url}/api/v1/pause`, { method: "POST", headers: { ...auth, origin }, body: "{}" });
      expect({ origin, status: response.status }).toEqual({ origin, status: 403 });
      expect(((await response.json()) as any).error.code).toBe("E_ORIGIN");
    }
    expect(await paused(server)).toBe(false);
    expect((await fetch(`${server.url}/api/v1/pause`, { method: "POST", headers: { ...auth, origin: server.url }, body: "{}" })).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/resume`, { method: "POST", headers: auth, body: "{}" })).status).toBe(200);
  });

  test("a Host that does not name the server (DNS rebinding) is refused with 421; loopback names and server.publicUrl are served", async () => {
    const server = await serve("server: { publicUrl: https://opskit.example.com }");
    const get = (host: string) => rawHttp(server.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const p = port(server);
    for (const host of [`evil.example:${p}`, `127.0.0.1.nip.io:${p}`, `localhost.evil.example:${p}`, `127.0.0.1:${Number(p) + 1}`, "127.0.0.1", `opskit.example.com:${p}`, `10.0.0.1:${p}`]) {
      const answer = await get(host);
      expect({ host, status: answer.status }).toEqual({ host, status: 421 });
      expect(JSON.parse(answer.body).error.code).toBe("E_HOST");
    }
    for (const host of [`127.0.0.1:${p}`, `127.3.2.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, `[::1]:${p}`, "opskit.example.com", "opskit.example.com:443"]) {
      const answer = await get(host);
      expect({ host, status: answer.status }).toEqual({ host, status: 200 });
    }
    // The rebound page would also need the token; the Host check refuses it before that.
    const rebound = await fetch(`${server.url}/api/v1/pause`, { method: "POST", headers: { host: `rebind.evil.example:${p}`, authorization: `Bearer ${server.token}`, "content-type": "application/json" }, body: "{}" });
    expect(rebound.status).toBe(421);
    expect(await paused(server)).toBe(false);
  });

  test("a malformed Host gets a short JSON problem, never Bun's error page with stacks and source", async () => {
    const server = await serve();
    for (const host of ["a b", "[::1", "x:99999", "%00"]) {
      const answer = await rawHttp(server.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect({ host, status: answer.status }).toEqual({ host, status: 400 });
      expect(answer.headers.toLowerCase()).toContain("content-type: application/json");
      expect(answer.body.length).toBeLessThan(500);
      expect(JSON.parse(answer.body).error).toMatchObject({ code: "E_HOST", message: "the Host header is malformed" });
      for (const leak of ["<html", "at ", process.cwd(), "src/", ".ts"]) expect(answer.body).not.toContain(leak);
    }
    const missing = await rawHttp(server.url, "GET /healthz HTTP/1.0\r\n\r\n");
    expect(missing.status).toBe(400);
    expect(missing.body).not.toContain("<html");
  });
});

describe("opskit serve: failures inside the server", () => {
  test("an unexpected error answers a plain JSON 500; the detail goes only to the server's own log", async () => {
    const server = await serve();
    // Break the journal under the running server: its next read fails in SQLite.
    const { Database } = await import("bun:sqlite");
    const db = new Database(server.journal);
    db.run("DROP TABLE incidents");
    db.close();
    const response = await fetch(`${server.url}/api/v1/incidents`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/json");
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "E_INTERNAL", message: "internal error", hint: "the server's log has the detail" } });
    for (const leak of ["incidents", "SQLite", "at ", process.cwd(), ".ts"]) expect(text).not.toContain(leak);
    for (let i = 0; i < 40 && !server.output().includes("no such table"); i++) await Bun.sleep(25);
    expect(server.output()).toMatch(/internal error: .*no such table: incidents/);
  });
});

describe("opskit serve: the Alertmanager webhook's limits", () => {
  test("a notification with more alerts than the limit is refused with the reason and journals nothing", async () => {
    const server = await serve();
    const many = alertmanagerNotification(Array.from({ length: 1001 }, (_, i) => ({ labels: { alertname: "Storm", i: String(i) } })));
    const started = performance.now();
    const answer = await server.post("/api/v1/alerts/alertmanager", many);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: "E_ALERT_PAYLOAD", message: "alerts: 1001 alerts in one notification; the limit is 1000" });
    const limit = alertmanagerNotification(Array.from({ length: 1000 }, (_, i) => ({ labels: { alertname: "Storm", i: String(i) } })));
    expect((await server.post("/api/v1/alerts/alertmanager", limit)).status).toBe(200);
    expect(await notificationCount(server)).toBe(1);
  });
});
