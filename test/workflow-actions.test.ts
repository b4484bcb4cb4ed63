import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";

// The actions that run from this machine (exec, http, probe, wait, notify),
// through `opskit run` on the local target, against real loopback servers.
let http: Server<undefined>;
let hook: Server<undefined>;
const received: unknown[] = [];
let dir: string;

beforeAll(async () => {
  http = startHttpServer();
  hook = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      received.push({ auth: request.headers.get("authorization"), body: await request.json() });
      return new Response("accepted", { status: 202 });
    },
  });
  dir = await mkdtemp(join(tmpdir(), "opskit-actions-"));
});

afterAll(async () => {
  http.stop(true);
  hook.stop(true);
  await rm(dir, { recursive: true, force: true });
});

async function runWorkflow(yaml: string, env: Record<string, string> = {}, args: string[] = []) {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, yaml);
  const run = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", file, "w", "--json", ...args], { cwd: dir, env });
  const events = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);
  return { ...run, steps: events.filter((e) => e.type === "step.finished"), events };
}

describe("local actions", () => {
  test("http asserts with CEL, probe reuses the probe engine, and later steps read their results", async () => {
    const base = `http://127.0.0.1:${http.port}`;
    const { code, steps } = await runWorkflow(
      [
        "workflows:",
        "  w:",
        "    steps:",
        `      - { name: api, http: { url: "${base}/json", expect: 'body.json.status == "UP"' } }`,
        `      - { name: port, probe: "tcp://127.0.0.1:${http.port}" }`,
        "      - { name: version, exec: 'echo {{ steps.api.body.json.version }}' }",
      ].join("\n"),
    );
    expect(code).toBe(0);
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["api", "ok"],
      ["port", "ok"],
      ["version", "changed"],
    ]);
    expect(steps[2]!.result.stdout).toBe("1.4.2\n");
  });

  test("a failing http assertion fails the step with the expectation as reason", async () => {
    const { code, steps } = await runWorkflow(["workflows:", "  w:", "    steps:", `      - { http: { url: "http://127.0.0.1:${http.port}/status/503" } }`].join("\n"));
    expect(code).toBe(2);
    expect(steps[0]!.result.error.message).toContain("status 503");
  });

  test("wait polls until its condition holds, and fails at its timeout with the last reason", async () => {
    const key = crypto.randomUUID();
    const ok = await runWorkflow(
      ["workflows:", "  w:", "    steps:", `      - wait: { http: { url: "http://127.0.0.1:${http.port}/flaky?key=${key}&fail=2" }, until: "status == 200", interval: 50ms, timeout: 10s }`].join("\n"),
    );
    expect(ok.code).toBe(0);
    expect(ok.steps[0]!.result.data.attempts).toBe(3);

    const late = await runWorkflow(
      ["workflows:", "  w:", "    steps:", `      - wait: { exec: "echo not-yet", until: 'stdout.contains("ready")', interval: 50ms, timeout: 300ms }`].join("\n"),
    );
    expect(late.code).toBe(2);
    expect(late.steps[0]!.result.error.code).toBe("E_WAIT_TIMEOUT");
    expect(late.steps[0]!.result.error.message).toContain('stdout.contains("ready") was false');
  });

  test("notify posts JSON to a webhook given as a secret reference, without printing the URL", async () => {
    received.length = 0;
    const { code, steps } = await runWorkflow(
      [
        "workflows:",
        "  w:",
        "    vars: { service: api }",
        "    steps:",
        "      - notify: { url: 'env:OPSKIT_TEST_HOOK', headers: { authorization: 'Bearer t0k3n' }, body: { text: 'restarted {{ vars.service }}' } }",
      ].join("\n"),
      { OPSKIT_TEST_HOOK: `http://127.0.0.1:${hook.port}/hook?token=secret-in-url` },
    );
    expect(code).toBe(0);
    expect(received).toEqual([{ auth: "Bearer t0k3n", body: { text: "restarted api" } }]);
    expect(JSON.stringify(steps)).not.toContain("secret-in-url");
  });

  test("a missing secret fails the step with a hint", async () => {
    const { code, steps } = await runWorkflow(["workflows:", "  w:", "    steps:", "      - notify: { url: 'env:OPSKIT_TEST_UNSET' }"].join("\n"));
    expect(code).toBe(2);
    expect(steps[0]!.result.error).toMatchObject({ code: "E_SECRET_ENV", hint: expect.stringContaining("export OPSKIT_TEST_UNSET") });
  });
});
