import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";

// Timeouts and Ctrl-C through the CLI, against real sshd that refuses signal
// requests (ForceCommand sessions; other servers ignore them): the remote
// command's whole process group must end, the failure must come promptly,
// and no hook may run while the stopped command still does.
let fleet: Fleet;
let dir: string;
let journal: string;

beforeAll(async () => {
  fleet = await startFleet({ size: 1, sshdConfig: ['ForceCommand eval "$SSH_ORIGINAL_COMMAND"'] });
  dir = await mkdtemp(join(tmpdir(), "opskit-remote-stop-"));
  journal = join(dir, "journal.db");
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function writeConfig(workflows = ""): Promise<string> {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, [...fleetConfigLines(fleet), ...(workflows ? ["workflows:", workflows] : []), ""].join("\n"));
  return file;
}

/** A sleep duration no other run uses: `sleep 30.<digits>` is this test's process alone. */
const uniqueSleep = () => `30.${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;

function pgrep(pattern: string): number[] {
  const found = Bun.spawnSync(["pgrep", "-f", pattern], { stdout: "pipe" });
  return found.stdout.toString().split("\n").filter(Boolean).map(Number);
}

async function gone(pattern: string, timeoutMs = 1_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pgrep(pattern).length > 0 && Date.now() < deadline) await Bun.sleep(25);
  return pgrep(pattern).length === 0;
}

function events(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

const stepsOf = (stdout: string) => events(stdout).filter((e) => e.type === "step.finished");

describe("a remote command past its timeout", () => {
  test("opskit exec --timeout 1s (one exec channel): reported as a timeout within a second of the deadline, and no process of it is left", async () => {
    const config = await writeConfig();
    const sleep = uniqueSleep();
    const run = await runOpskit(["exec", "--journal", journal, "-c", config, `name=${fleet.hosts[0]!.name}`, "--timeout", "1s", "--json", "--", `echo before; sleep ${sleep} & sleep ${sleep}`], { cwd: dir });
    expect(run.code).toBe(2);
    const [step] = stepsOf(run.stdout);
    expect(step!.result.error.code).toBe("E_SSH_COMMAND_TIMEOUT");
    expect(step!.result.error.message).toContain("timed out after 1s");
    expect(step!.result.stdout).toBe("before\n");
    const stepMs = step!.result.durationMs as number;
    console.log(`  exec --timeout 1s over an exec channel: step failed after ${stepMs.toFixed(0)}ms`);
    expect(stepMs).toBeLessThan(2_000);
    expect(await gone(`sleep ${sleep}`)).toBe(true);
  });

  test("a workflow step on the long-lived remote shell: reported within a second of the deadline, and no process of it is left", async () => {
    const sleep = uniqueSleep();
    const config = await writeConfig(
      ["  slow:", `    targets: name=${fleet.hosts[0]!.name}`, "    steps:", "      - { name: first, ssh: echo first }", `      - { name: hang, ssh: 'sleep ${sleep} & sleep ${sleep}', timeout: 1s }`].join("\n"),
    );
    const run = await runOpskit(["run", "--journal", journal, "-c", config, "slow", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    const hang = stepsOf(run.stdout).find((s) => s.name === "hang")!;
    expect(hang.result.error.code).toBe("E_SSH_COMMAND_TIMEOUT");
    const stepMs = hang.result.durationMs as number;
    console.log(`  a 1s step on the remote shell: failed after ${stepMs.toFixed(0)}ms`);
    expect(stepMs).toBeLessThan(2_000);
    expect(await gone(`sleep ${sleep}`)).toBe(true);
  });

  test("on_failure and rollback hooks never see the stopped command still running", async () => {
    const sleep = uniqueSleep();
    // [s]leep: the hook's own command line must not match its pattern.
    const pattern = `[s]leep ${sleep}`;
    const check = `if pgrep -f '${pattern}' >/dev/null; then echo still-running; else echo gone; fi`;
    const config = await writeConfig(
      [
        "  deploy:",
        `    targets: name=${fleet.hosts[0]!.name}`,
        "    maxFailures: 0",
        "    hooks:",
        `      on_failure: [ { name: check-on-failure, ssh: "${check}" } ]`,
        `      rollback: [ { name: check-rollback, ssh: "${check}" } ]`,
        "    steps:",
        "      - { name: change, ssh: echo changed }",
        `      - { name: hang, ssh: 'sleep ${sleep} & sleep ${sleep}', timeout: 1s }`,
      ].join("\n"),
    );
    const run = await runOpskit(["run", "--journal", journal, "-c", config, "deploy", "--json"], { cwd: dir });
    const steps = stepsOf(run.stdout);
    const hooks = steps.filter((s) => s.name === "check-on-failure" || s.name === "check-rollback");
    expect(hooks.map((s) => [s.name, s.result.stdout])).toEqual([
      ["check-on-failure", "gone\n"],
      ["check-rollback", "gone\n"],
    ]);
    expect(await gone(`sleep ${sleep}`)).toBe(true);
  });
});

describe("Ctrl-C", () => {
  test("SIGINT to a running opskit exec kills the remote command's process group and exits 130", async () => {
    const config = await writeConfig();
    const sleep = uniqueSleep();
    const child = Bun.spawn(
      [process.execPath, `${repoRoot}src/cli/main.ts`, "exec", "--journal", journal, "-c", config, `name=${fleet.hosts[0]!.name}`, "--json", "--", `sleep ${sleep} & sleep ${sleep}`],
      { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
    );
    try {
      let seen: number[] = [];
      for (let i = 0; i < 200 && seen.length < 2; i++) {
        await Bun.sleep(25);
        // The sleeps themselves, not opskit or the remote shell, whose command lines hold the same text.
        seen = pgrep(`^sleep ${sleep}$`);
      }
      expect(seen).toHaveLength(2);
      const started = performance.now();
      child.kill("SIGINT");
      const [stdout, , code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      console.log(`  SIGINT to opskit exec: exited after ${(performance.now() - started).toFixed(0)}ms`);
      expect(code).toBe(130);
      expect(stepsOf(stdout)[0]!.result.error.code).toBe("E_INTERRUPTED");
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(await gone(`sleep ${sleep}`)).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 30_000);
});
