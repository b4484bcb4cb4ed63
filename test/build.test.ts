import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { repoRoot } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";

// The shipped artifact is the standalone executable, so one test builds it
// for this machine and runs it with no Bun or node_modules on its path.
let http: Server<undefined>;
const binary = `${repoRoot}dist/opskit`;

beforeAll(() => {
  http = startHttpServer();
});

afterAll(() => {
  http.stop(true);
});

describe("standalone executable", () => {
  test("builds, reports version and commit, and probes", async () => {
    const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--host"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
    expect(build.stderr.toString()).toBe("");
    expect(build.success).toBe(true);

    const env = { PATH: "/usr/bin:/bin", NO_COLOR: "1" };
    const version = Bun.spawnSync([binary, "--version"], { env, cwd: "/" });
    const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: repoRoot }).stdout.toString().trim();
    expect(version.stdout.toString()).toMatch(new RegExp(`^opskit \\d+\\.\\d+\\.\\d+ \\(${commit}(-dirty)?\\) bun \\d`));

    // Async spawn: the server under test lives in this process's event loop.
    const probe = Bun.spawn([binary, "probe", "--json", `http://127.0.0.1:${http.port}/json`, "--expect", 'body.json.status == "UP"'], { env, cwd: "/", stdout: "pipe" });
    const [stdout, code] = await Promise.all([new Response(probe.stdout).text(), probe.exited]);
    expect(code).toBe(0);
    const first = JSON.parse(stdout.split("\n")[0]!);
    expect(first).toMatchObject({ type: "result", verdict: "healthy", status: 200 });

    // Worker threads load an embedded entry point: check the executable finds it.
    const urls = Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${http.port}/ok?i=${i}`);
    const sharded = Bun.spawn([binary, "probe", "--json", "--workers", "2", ...urls], { env, cwd: "/", stdout: "pipe", stderr: "pipe" });
    const [shardedOut, shardedErr, shardedCode] = await Promise.all([new Response(sharded.stdout).text(), new Response(sharded.stderr).text(), sharded.exited]);
    expect(shardedErr).toBe("");
    expect(shardedCode).toBe(0);
    expect(JSON.parse(shardedOut.trim().split("\n").at(-1)!)).toMatchObject({ type: "summary", healthy: 20 });

    // The demo starts the executable itself again (services, and the runbook's restart).
    const demo = Bun.spawn([binary, "demo"], { env, cwd: "/", stdout: "pipe", stderr: "pipe" });
    const [demoOut, demoErr, demoCode] = await Promise.all([new Response(demo.stdout).text(), new Response(demo.stderr).text(), demo.exited]);
    expect(demoErr).toBe("");
    expect(demoCode).toBe(0);
    expect(demoOut).toMatch(/incident 1 \(ServiceDown api\) closed: alert resolved/);
  }, 180_000);
});
