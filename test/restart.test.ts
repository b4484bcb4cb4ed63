import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// Restarts of opskit serve resume exactly the work that was owed: nothing that
// finished runs again, and a run cut off mid-way continues from its first
// unfinished step.

const token = "restart-test-token";
const running: ServeProcess[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});

/** A config whose rule runs `steps` (YAML list items) for the alert Broken; MARKS is the marks directory. */
function config(rule: string, steps: string): string {
  return `
server: { token: "env:RESTART_TEST_TOKEN" }
workflows:
  fix:
    targets: local
    steps:
${steps
  .trim()
  .split("\n")
  .map((l) => `      ${l}`)
  .join("\n")}
rules:
  - name: fix-it
    match: { alertname: Broken }
    run: fix
${rule
  .trim()
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
`;
}

async function serve(dir: string): Promise<ServeProcess> {
  const server = await startServe(dir, { token, env: { RESTART_TEST_TOKEN: token } });
  running.push(server);
  return server;
}

async function serveWith(rule: string, steps: (marks: string) => string): Promise<{ server: ServeProcess; marks: string; dir: string }> {
  const dir = writeConfig("");
  const marks = join(dir, "marks");
  mkdirSync(marks);
  writeConfig(config(rule, steps(marks)), dir);
  return { server: await serve(dir), marks, dir };
}

const fire = (server: ServeProcess, service: string) =>
  server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Broken", service } }]));
const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
const settle = (server: ServeProcess, id: number, until: (view: any) => boolean, timeoutMs?: number) => server.waitFor(`/api/v1/incidents/${id}`, (v) => (until(v) ? v : false), timeoutMs);

describe("opskit serve: a restart resumes only what was owed", () => {
  test("a remediation that succeeded does not run again after a restart past its cooldown", async () => {
    const { server, marks, dir } = await serveWith("cooldown: 500ms\nmaxAttempts: 3", (m) => `- exec: "echo ran >> ${m}/log"`);
    for (const service of ["a", "b", "c"]) expect((await fire(server, service)).status).toBe(200);
    for (const id of [1, 2, 3]) await settle(server, id, (v) => v.attempts[0]?.status === "succeeded");
    expect(await server.stop()).toBe(0);
    await Bun.sleep(800);
    const again = await serve(dir);
    // Longer than the cooldown: a re-run would have started by now.
    await Bun.sleep(1500);
    for (const id of [1, 2, 3]) {
      const view = await again.get(`/api/v1/incidents/${id}`, token);
      expect(view.incident.status).toBe("open");
      expect(view.attempts.map((a: any) => a.status)).toEqual(["succeeded"]);
    }
    expect(lines(join(marks, "log"))).toHaveLength(3);
  }, 30_000);

  test("a failed attempt still gets the retry its cooldown promised after a restart", async () => {
    const { server, marks, dir } = await serveWith("cooldown: 2s\nmaxAttempts: 2", (m) => `- exec: "echo ran >> ${m}/log; exit 1"`);
    expect((await fire(server, "a")).status).toBe(200);
    await settle(server, 1, (v) => v.attempts[0]?.status === "failed");
    // Killed inside the cooldown: the retry it owes has not started yet.
    await server.kill();
    const again = await serve(dir);
    const view = await settle(again, 1, (v) => v.incident.escalated, 20_000);
    expect(view.attempts.map((a: any) => a.status)).toEqual(["failed", "failed"]);
    expect(lines(join(marks, "log"))).toHaveLength(2);
  }, 30_000);
});

describe("opskit serve: a run cut off by SIGKILL continues from its first unfinished step", () => {
  test("onInterrupted: retry reruns only the step that was under way; the step that finished runs once", async () => {
    const { server, marks, dir } = await serveWith("cooldown: 10m\nmaxAttempts: 3\nonInterrupted: retry", (m) =>
      [
        "- name: first",
        `  exec: "echo first >> ${m}/first"`,
        "- name: second",
        `  exec: "if [ -e ${m}/second ]; then echo again >> ${m}/second; exit 0; fi; echo once > ${m}/second; sleep 30"`,
      ].join("\n"),
    );
    expect((await fire(server, "api")).status).toBe(200);
    for (let i = 0; i < 200 && lines(join(marks, "second")).length === 0; i++) await Bun.sleep(50);
    expect(lines(join(marks, "second"))).toEqual(["once"]);
    await server.kill();
    const again = await serve(dir);
    const view = await settle(again, 1, (v) => v.attempts[1]?.status === "succeeded", 20_000);
    expect(view.attempts.map((a: any) => a.status)).toEqual(["interrupted", "succeeded"]);
    expect(lines(join(marks, "first"))).toEqual(["first"]);
    expect(lines(join(marks, "second"))).toEqual(["once", "again"]);
    const [cut, retry] = view.attempts.map((a: any) => a.runId);
    expect(view.events.map((e: any) => e.message).join("\n")).toContain(`continues run ${cut}: steps that finished there do not run again, second on local (cut off there) runs again`);
    const record = await again.get(`/api/v1/runs/${retry}`);
    expect(record.run.resumedFrom).toBe(cut);
    expect(record.steps.map((s: any) => [s.name, s.status])).toEqual([["first", "changed"], ["second", "changed"]]);
  }, 60_000);
});

describe("opskit runs resume: a run killed by SIGKILL", () => {
  test("resumes from the step it was cut off in; the step that finished does not run again", async () => {
    const dir = writeConfig("");
    const marks = join(dir, "marks");
    mkdirSync(marks);
    writeConfig(
      [
        "workflows:",
        "  fix:",
        "    targets: local",
        "    steps:",
        "      - name: first",
        `        exec: "echo first >> ${marks}/first"`,
        "      - name: second",
        `        exec: "if [ -e ${marks}/second ]; then echo again >> ${marks}/second; exit 0; fi; echo once > ${marks}/second; sleep 30"`,
        "",
      ].join("\n"),
      dir,
    );
    const journal = join(dir, "journal.db");
    const child = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "run", "fix", "--journal", journal], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200 && lines(join(marks, "second")).length === 0; i++) await Bun.sleep(50);
    child.kill("SIGKILL");
    await child.exited;
    const listed = await runOpskit(["runs", "--json", "--journal", journal], { cwd: dir });
    const [cut] = listed.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(cut.status).toBe("running");
    const resumed = await runOpskit(["runs", "resume", cut.id, "--journal", journal], { cwd: dir });
    expect(resumed.stderr).toContain(`step second on local started in ${cut.id} and did not finish: it runs again`);
    expect(resumed.code).toBe(0);
    expect(lines(join(marks, "first"))).toEqual(["first"]);
    expect(lines(join(marks, "second"))).toEqual(["once", "again"]);
    const runs = (await runOpskit(["runs", "--json", "--journal", journal], { cwd: dir })).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(runs.find((r: any) => r.id === cut.id).status).toBe("interrupted");
    const next = runs.find((r: any) => r.resumedFrom === cut.id);
    expect(next.status).toBe("succeeded");
    const shown = JSON.parse((await runOpskit(["runs", "show", next.id, "--json", "--journal", journal], { cwd: dir })).stdout);
    expect(shown.steps.map((s: any) => [s.name, s.status])).toEqual([["first", "changed"], ["second", "changed"]]);
  }, 60_000);
});

describe("opskit serve: the journal deleted under a running server", () => {
  test("/healthz turns 503 and the webhooks refuse with 503 naming the journal, rather than acknowledge what cannot be kept", async () => {
    const { server } = await serveWith("cooldown: 1m", (m) => `- exec: "echo ran >> ${m}/log"`);
    const health = async () => {
      const response = await fetch(`${server.url}/healthz`);
      return { status: response.status, body: (await response.json()) as any };
    };
    expect((await health()).status).toBe(200);
    expect((await fire(server, "a")).status).toBe(200);
    for (const suffix of ["", "-wal", "-shm"]) Bun.spawnSync(["rm", "-f", `${server.journal}${suffix}`]);
    const after = await health();
    expect(after.status).toBe(503);
    expect(after.body.status).toBe("unavailable");
    expect(after.body.error.code).toBe("E_JOURNAL_GONE");
    expect(after.body.error.message).toContain(`the journal at ${server.journal} is gone`);
    for (let i = 0; i < 3; i++) {
      const refused = await fire(server, `b${i}`);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe("E_JOURNAL_GONE");
      expect(refused.body.error.message).toContain(server.journal);
      expect(refused.body.error.hint).toContain("restart opskit serve");
    }
    const generic = await server.post("/api/v1/alerts", { labels: { alertname: "Broken", service: "c" } });
    expect(generic.status).toBe(503);
  }, 30_000);
});
