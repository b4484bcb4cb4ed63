import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, copyFile, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runOpskit, type CliResult } from "./harness/cli.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";

// `opskit wrap` runs legacy scripts (testdata/wrap/) as they are, in a
// directory without opskit.yaml, and on hosts of a real sshd fleet.
const scripts = join(repoRoot, "testdata", "wrap");
let dir: string;
let journal: string;
let fleet: Fleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-wrap-"));
  journal = join(dir, "journal.db");
  for (const name of await readdir(scripts)) await copyFile(join(scripts, name), join(dir, name));
  fleet = await startFleet({ size: 3 });
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// --journal goes before --: everything after it belongs to the script.
const wrap = (args: string[], env: Record<string, string> = {}) => runOpskit(["wrap", "--journal", journal, ...args], { cwd: dir, env });

function events(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

const stepOf = (run: CliResult) => events(run.stdout).find((e) => e.type === "step.finished")!;

function pgrep(marker: string): number[] {
  const found = Bun.spawnSync(["pgrep", "-f", marker], { stdout: "pipe" });
  return found.stdout.toString().split("\n").filter(Boolean).map(Number);
}

/** Runs opskit with a stdin that stays open, and reports its peak memory. */
async function wrapWithOpenStdin(args: string[], timeoutMs = 30_000): Promise<CliResult & { maxRssBytes: number }> {
  const child = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "wrap", "--journal", journal, ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1" },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  child.stdin.end();
  return { code, stdout, stderr, maxRssBytes: child.resourceUsage()?.maxRSS ?? 0 };
}

describe("opskit wrap on this machine", () => {
  test("runs a script with its arguments as they are, without opskit.yaml, and the run is in the journal", async () => {
    expect(await Bun.file(join(dir, "opskit.yaml")).exists()).toBe(false);
    const run = await wrap(["--name", "nightly", "--", "./exit-with.sh", "0", "{{ not a template }}", "it's $(id)"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("exec wrap:nightly · 1 target");
    expect(run.stdout).toContain("local (1): exit 0");
    expect(run.stdout).toContain("    args: {{ not a template }}|it's $(id)|");
    const runId = /run (\S+)\n/.exec(run.stdout)![1]!;

    const listed = await runOpskit(["runs", "--journal", journal, "--json"], { cwd: dir });
    const record = listed.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((r) => r.id === runId);
    expect([record.kind, record.name, record.status]).toEqual(["exec", "wrap:nightly", "succeeded"]);
    const shown = await runOpskit(["runs", "--journal", journal, "show", runId], { cwd: dir });
    expect(shown.stdout).toContain("local");
    expect(shown.stdout).toContain("script=changed");
  });

  test("the exit map makes 24 ok, 1 failed (exit 2) and 3 a visible warning (exit 0)", async () => {
    const map = ["--exit-map", "24=ok,1=failed,3=warning"];
    const ok = await wrap([...map, "--json", "--", "./exit-with.sh", "24"]);
    expect(ok.code).toBe(0);
    expect(stepOf(ok).result.data).toEqual({ exitClass: "ok", exitCode: 24 });
    expect(stepOf(ok).result.exitCode).toBe(24);

    const failed = await wrap([...map, "--json", "--", "./exit-with.sh", "1"]);
    expect(failed.code).toBe(2);
    expect([stepOf(failed).status, stepOf(failed).result.data.exitClass]).toEqual(["failed", "failed"]);

    const warning = await wrap([...map, "--", "./exit-with.sh", "3"]);
    expect(warning.code).toBe(0);
    expect(warning.stdout).toContain("local (1): exit 3 · warning: exit status 3 reads as a warning (exit map)");
    const warningJson = await wrap([...map, "--json", "--", "./exit-with.sh", "3"]);
    expect(stepOf(warningJson).result.data).toEqual({ exitClass: "warning", exitCode: 3 });

    const unlisted = await wrap([...map, "--", "./exit-with.sh", "5"]);
    expect(unlisted.code).toBe(2);
  });

  test("a timeout kills the script and every process it started (the whole process group)", async () => {
    const marker = `opskit-wrap-marker-${crypto.randomUUID().slice(0, 8)}`;
    const sleeper = join(dir, `sleep-${marker}`);
    await symlink(Bun.which("sleep")!, sleeper);
    const started = performance.now();
    const running = wrap(["--timeout", "2s", "--json", "--", "./background-child.sh", sleeper]);
    // Both sleeps (the script's background child and its own) are up before the timeout.
    const sleeps = `sleep-${marker} 300`;
    let seen: number[] = [];
    for (let i = 0; i < 80 && seen.length < 2; i++) {
      await Bun.sleep(25);
      seen = pgrep(sleeps);
    }
    expect(seen).toHaveLength(2);
    const run = await running;
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(run.code).toBe(2);
    expect(stepOf(run).result.error.message).toContain("timed out");
    // Nothing carrying the marker is left: not the sleeps, not the script.
    let left = pgrep(marker);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await Bun.sleep(50);
      left = pgrep(marker);
    }
    expect(left).toEqual([]);
  });

  test("a timeout shows what the script printed before it, and reads 300ms", async () => {
    const script = join(dir, "prints-then-sleeps.sh");
    await writeFile(script, "#!/bin/sh\necho 'got this far'\necho 'warned' >&2\nexec sleep 30\n");
    await chmod(script, 0o755);
    const run = await wrap(["--timeout", "300ms", "--", "./prints-then-sleeps.sh"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("command timed out after 300ms");
    expect(run.stdout).toContain("    got this far");
    const json = await wrap(["--timeout", "300ms", "--json", "--", "./prints-then-sleeps.sh"]);
    expect(stepOf(json).result).toMatchObject({ stdout: "got this far\n", stderr: "warned\n", error: { code: "E_COMMAND_TIMEOUT", message: "command timed out after 300ms" } });
  });

  test("500 MB of output finishes with the captured output capped and memory bounded", async () => {
    const run = await wrapWithOpenStdin(["--json", "--", "./flood.sh", String(500 * 1024 * 1024)], 60_000);
    expect(run.code).toBe(0);
    const step = stepOf(run);
    expect(step.result.stdout.length).toBeLessThanOrEqual(64 * 1024);
    expect(step.result.stdout).toMatch(/^x*\n$/);
    // Holding the output would take 500 MB or more (as bytes; 1 GB as UTF-16 strings); with the cap,
    // opskit stays below that whatever the garbage collector's timing (measured 110-135 MB alone,
    // once 351 MB with 200 MB of output while the rest of the suite ran).
    expect(run.maxRssBytes).toBeGreaterThan(0);
    expect(run.maxRssBytes).toBeLessThan(450 * 1024 * 1024);
  }, 90_000);

  test("--metrics-file writes the last run for node_exporter's textfile collector", async () => {
    const file = join(dir, "wrap.prom");
    const ok = await wrap(["--name", "nightly-backup", "--metrics-file", file, "--", "./exit-with.sh", "0"]);
    expect(ok.code).toBe(0);
    const text = await Bun.file(file).text();
    expect(text).toContain('opskit_wrap_last_run_success{name="nightly-backup"} 1');
    expect(text).toContain('opskit_wrap_last_run_exit_code{name="nightly-backup"} 0');
    const at = Number(/opskit_wrap_last_run_timestamp_seconds\{name="nightly-backup"\} ([\d.]+)/.exec(text)![1]);
    expect(Math.abs(at * 1000 - Date.now())).toBeLessThan(60_000);
    const failed = await wrap(["--name", "nightly-backup", "--metrics-file", file, "--", "./exit-with.sh", "1"]);
    expect(failed.code).toBe(2);
    expect(await Bun.file(file).text()).toContain('opskit_wrap_last_run_success{name="nightly-backup"} 0');
  });

  test("an org policy's denials apply to a wrapped script", async () => {
    const policy = join(dir, "policy.yaml");
    await writeFile(policy, "deny:\n  commands: ['*exit-with.sh*']\n");
    const run = await wrap(["--json", "--policy", policy, "--", "./exit-with.sh", "0"]);
    expect(run.code).toBe(2);
    expect(stepOf(run).result.error.code).toBe("E_POLICY_DENIED");
  });

  test("on this machine a script runs where it is, so files beside it ($(dirname \"$0\")/lib.sh) are found", async () => {
    const run = await wrap(["--json", "--", "./uses-lib.sh", "ops"]);
    expect(run.code).toBe(0);
    expect(stepOf(run).result.stdout).toBe("hello from lib, ops\n");
  });

  test("a script that reads stdin gets EOF and finishes, even with opskit's own stdin open", async () => {
    const run = await wrapWithOpenStdin(["--timeout", "20s", "--json", "--", "./read-stdin.sh"]);
    expect(run.code).toBe(0);
    expect(stepOf(run).result.stdout).toBe("read: eof\n");
  });

  test("--retries reruns a failing script with the delay until it succeeds", async () => {
    const counter = join(dir, `counter-${crypto.randomUUID().slice(0, 8)}`);
    const run = await wrap(["--retries", "2", "--retry-delay", "100ms", "--json", "--", "./fail-twice.sh", counter]);
    expect(run.code).toBe(0);
    expect([stepOf(run).attempts, stepOf(run).result.stdout]).toEqual([3, "attempt 3 ok\n"]);
    expect(await Bun.file(counter).text()).toBe("3\n");

    const other = join(dir, `counter-${crypto.randomUUID().slice(0, 8)}`);
    const short = await wrap(["--retries", "1", "--retry-delay", "100ms", "--json", "--", "./fail-twice.sh", other]);
    expect([short.code, stepOf(short).attempts]).toEqual([2, 2]);
  });

  test("a python3 script runs under the interpreter its #! line names; python3 job.py works too", async () => {
    const run = await wrap(["--json", "--", "./hello.py", "there"]);
    expect(run.code).toBe(0);
    expect(stepOf(run).result.stdout).toBe("python 3 says hello there\n");
    expect(stepOf(run).description).toEndWith("(via python3)");
    const named = await wrap(["--json", "--", "python3", "hello.py", "again"]);
    expect(stepOf(named).result.stdout).toBe("python 3 says hello again\n");
  });

  test("usage errors exit 64: no script, a script that is not there, a bad option", async () => {
    const none = await wrap([]);
    expect(none.code).toBe(64);
    const missing = await wrap(["--", "./no-such-script.sh"]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("no script ./no-such-script.sh");
    expect(missing.stderr).toContain("hint: wrap runs a script file");
    expect((await wrap(["--exit-map", "24=fine", "--", "./exit-with.sh", "0"])).code).toBe(64);
    expect((await wrap(["--retries", "-1", "--", "./exit-with.sh", "0"])).code).toBe(64);
    expect((await wrap(["--timeout", "soon", "--", "./exit-with.sh", "0"])).code).toBe(64);
  });
});

describe("opskit wrap --on", () => {
  async function writeConfig(): Promise<string> {
    const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
    await writeFile(file, [...fleetConfigLines(fleet, { labels: () => ({ role: "web" }) }), ""].join("\n"));
    return file;
  }

  test("copies the script to each host, runs it there with stdin at EOF, reports per host and removes the copy", async () => {
    const config = await writeConfig();
    const before = (await readdir("/tmp")).filter((n) => n.startsWith("opskit-script-") && n.endsWith("-on-host.sh"));
    const run = await wrap(["-c", config, "--on", "role=web", "--exit-map", "7=warning", "--json", "--", "./on-host.sh", "two words"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const steps = events(run.stdout).filter((e) => e.type === "step.finished");
    expect(steps.map((s) => s.target).sort()).toEqual(fleet.hosts.map((h) => h.name));
    for (const host of fleet.hosts) {
      const step = steps.find((s) => s.target === host.name)!;
      expect(step.result.stdout).toBe(`${fleet.user} on ${host.address}: two words|stdin eof\n`);
      expect(step.result.data).toEqual({ exitClass: "warning", exitCode: 7 });
    }
    const text = await wrap(["-c", config, "--on", "role=web", "--exit-map", "7=warning", "--", "./on-host.sh", "x"]);
    expect(text.stdout).toContain("3 targets: 0 ok, 3 changed, 0 failed, 0 unreachable");
    // The fleet's hosts share this machine's /tmp: every copy is gone.
    const after = (await readdir("/tmp")).filter((n) => n.startsWith("opskit-script-") && n.endsWith("-on-host.sh"));
    expect(after).toEqual(before);
  });

  test("a timeout on a host kills the script and its background child there, and the copy is still removed", async () => {
    const config = await writeConfig();
    const marker = `opskit-wrap-remote-${crypto.randomUUID().slice(0, 8)}`;
    // The fleet user must reach the marked sleep binary: a directory of its own outside the test's private one.
    const shared = await mkdtemp(join(tmpdir(), "opskit-wrap-shared-"));
    try {
      await chmod(shared, 0o755);
      const sleeper = join(shared, `sleep-${marker}`);
      await symlink(Bun.which("sleep")!, sleeper);
      const host = fleet.hosts[0]!;
      const started = performance.now();
      const run = await wrap(["-c", config, "--on", `name=${host.name}`, "--timeout", "1s", "--json", "--", "./background-child.sh", sleeper]);
      expect(performance.now() - started).toBeLessThan(15_000);
      expect(run.code).toBe(2);
      expect(stepOf(run).result.error.message).toContain("timed out");
      let left = pgrep(marker);
      for (let i = 0; i < 60 && left.length > 0; i++) {
        await Bun.sleep(50);
        left = pgrep(marker);
      }
      expect(left).toEqual([]);
      expect((await readdir("/tmp")).filter((n) => n.startsWith("opskit-script-") && n.endsWith("-background-child.sh"))).toEqual([]);
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });

  test("a timeout on a host keeps what the script printed there before it", async () => {
    const config = await writeConfig();
    const script = join(dir, "prints-then-sleeps-remote.sh");
    await writeFile(script, "#!/bin/sh\necho 'got this far'\nsleep 30\n");
    await chmod(script, 0o755);
    const run = await wrap(["-c", config, "--on", `name=${fleet.hosts[2]!.name}`, "--timeout", "1s", "--json", "--", "./prints-then-sleeps-remote.sh"]);
    expect(run.code).toBe(2);
    expect(stepOf(run).result).toMatchObject({ stdout: "got this far\n", error: { code: "E_SSH_COMMAND_TIMEOUT" } });
    // The step's whole budget, not what was left of it after the copy.
    expect(stepOf(run).result.error.message).toContain("timed out after 1s");
  });

  test("a host that is down is unreachable (exit 1) and the others run", async () => {
    const config = await writeConfig();
    const down = fleet.hosts[1]!;
    await fleet.stopHost(down.name);
    try {
      const run = await wrap(["-c", config, "--on", "role=web", "--exit-map", "7=ok", "--json", "--", "./on-host.sh", "x"]);
      expect(run.code).toBe(1);
      const targets = events(run.stdout).filter((e) => e.type === "target.finished");
      expect(targets.filter((e) => e.status === "unreachable").map((e) => e.target)).toEqual([down.name]);
      expect(targets.filter((e) => e.status === "changed")).toHaveLength(2);
    } finally {
      await fleet.startHost(down.name);
    }
  });

  test("a script step in a workflow reads its exit map and env from opskit.yaml", async () => {
    const config = await writeConfig();
    await writeFile(
      config,
      (await Bun.file(config).text()) +
        [
          "workflows:",
          "  legacy:",
          "    targets: role=web",
          "    steps:",
          "      - name: check",
          `        script: { path: ${join(dir, "env-and-exit.sh")}, args: ["{{ target.name }}"], exitMap: { 24: ok, 3: warning }, env: { GREETING: "hi $(id)" } }`,
        ].join("\n"),
    );
    const run = await runOpskit(["run", "--journal", journal, "-c", config, "legacy", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    const steps = events(run.stdout).filter((e) => e.type === "step.finished");
    expect(steps).toHaveLength(3);
    for (const step of steps) {
      expect(step.result.stdout).toBe(`hi $(id) from ${step.target}\n`);
      expect(step.result.data).toEqual({ exitClass: "ok", exitCode: 24 });
    }
  });
});
