import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runOpskit } from "./harness/cli.ts";

// examples/agent as shipped: it validates, and with its paths moved into a
// temporary directory its rules judge what the sources hold now.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("examples/agent", () => {
  test("validates as shipped", async () => {
    const run = await runOpskit(["validate", "-c", "examples/agent"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("ok: 0 hosts, 0 workflows, 0 rules, 0 checks, agent: 3 sources and 4 rules (examples/agent/opskit.yaml)\n");
    expect(run.code).toBe(0);
  });

  test("--once: a multi-line application record with Out of memory raises AppOutOfMemory, once, without sending", async () => {
    const dir = mkdtempSync(join(tmpdir(), "opskit-agent-example-"));
    dirs.push(dir);
    mkdirSync(join(dir, "logs"));
    const shipped = readFileSync(join(repoRoot, "examples/agent/opskit.yaml"), "utf8");
    const config = shipped.replace("/var/lib/opskit-agent", join(dir, "state")).replace("/var/log/app/*.log", join(dir, "logs/*.log"));
    expect(config).not.toBe(shipped);
    writeFileSync(join(dir, "opskit.yaml"), config);
    writeFileSync(join(dir, "logs/app.log"), "2026-12-06 10:00:00 error Out of memory: killed worker\n  at alloc (pool.c:12)\n2026-12-06 10:00:01 info ok\n");
    const run = await runOpskit(["agent", "-c", dir, "--once", "--json"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const alerts = lines.filter((l) => l.type === "alert");
    expect(alerts.map((a) => [a.rule, a.status, a.labels.alertname, a.labels.file])).toEqual([["app-out-of-memory", "firing", "AppOutOfMemory", join(dir, "logs/app.log")]]);
    const summary = lines.find((l) => l.type === "summary");
    expect(summary).toMatchObject({ alerts: 1, sent: false, events: { app: 2 } });
  }, 60_000);
});
