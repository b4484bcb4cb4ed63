import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";

// A fleet of real OpenSSH servers on 127.0.0.2..., driven through the CLI
// exactly as users run it: opskit.yaml, opskit exec / run / runs.
let fleet: Fleet;
let dir: string;
let journal: string;


async function writeConfig(workflows: string, extra = ""): Promise<string> {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(
    file,
    [
      ...fleetConfigLines(fleet, { labels: (_host, i) => ({ role: i < 2 ? "db" : "web", zone: i % 2 === 0 ? "a" : "b" }) }),
      extra,
      "workflows:",
      workflows,
    ].join("\n"),
  );
  return file;
}

// --journal goes right after the command name: anything after -- belongs to the remote command.
const opskit = (args: string[], env: Record<string, string> = {}) => runOpskit([args[0]!, "--journal", journal, ...args.slice(1)], { cwd: dir, env });

function events(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

beforeAll(async () => {
  fleet = await startFleet({ size: 8 });
  dir = await mkdtemp(join(tmpdir(), "opskit-fleet-"));
  journal = join(dir, "journal.db");
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("opskit exec", () => {
  test("runs a command on every host a selector matches and folds identical output", async () => {
    const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }");
    const run = await opskit(["exec", "-c", config, "role=web", "--", "echo", "same-everywhere"]);
    expect(run.stderr).not.toContain("Error");
    expect(run.code).toBe(0);
    const webNames = fleet.hosts.slice(2).map((h) => h.name);
    expect(run.stdout).toContain(`(${webNames.length}): exit 0`);
    expect(run.stdout).toContain("    same-everywhere");
    expect(run.stdout).toMatch(/6 targets: 0 ok, 6 changed, 0 failed, 0 unreachable/);
  });

  test("a non-zero exit on some hosts is a failed step (exit 2), shown apart from the rest", async () => {
    const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }");
    const run = await opskit(["exec", "-c", config, "name=*", "--json", "--", `case "$SSH_CONNECTION" in *" ${fleet.hosts[0]!.address} "*) exit 3;; esac`]);
    expect(run.code).toBe(2);
    const finished = events(run.stdout).filter((e) => e.type === "step.finished");
    expect(finished).toHaveLength(fleet.hosts.length);
    const failed = finished.filter((e) => e.status === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.result.exitCode).toBe(3);
  });

  test("a target's connection ends with it: a later target on the same address dials anew, targets beside it share it", async () => {
    const host = fleet.hosts[3]!;
    const twins = ["twin-1", "twin-2", "twin-3"].map((name) => `    ${name}: { address: ${host.address}, port: ${host.port} }`).join("\n");
    const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }", twins);
    // $PPID of a remote command is the sshd process that serves its connection.
    const parents = async (concurrency: number) => {
      const run = await opskit(["exec", "-c", config, "name=twin-*", "--concurrency", String(concurrency), "--json", "--", "echo $PPID"]);
      expect(run.code).toBe(0);
      return events(run.stdout).filter((e) => e.type === "step.finished").map((e) => e.result.stdout.trim());
    };
    const oneByOne = await parents(1);
    expect(oneByOne).toHaveLength(3);
    expect(new Set(oneByOne).size).toBe(3);
    const together = await parents(3);
    expect(together).toHaveLength(3);
    expect(new Set(together).size).toBe(1);
  });

  test("a command that runs too long is stopped by the timeout", async () => {
    const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }");
    const started = performance.now();
    const run = await opskit(["exec", "-c", config, `name=${fleet.hosts[2]!.name}`, "--timeout", "1s", "--json", "--", "sleep 30"]);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(run.code).toBe(2);
    const step = events(run.stdout).find((e) => e.type === "step.finished")!;
    expect(step.result.error.message).toContain("timed out");
  });

  test("hostile text in vars reaches the remote command as literal text", async () => {
    const hostile = "$(touch /tmp/opskit-pwned); `id`; 'single' \"double\" \\ back\nsecond line";
    const config = await writeConfig(
      ["  say:", `    targets: name=${fleet.hosts[3]!.name}`, "    steps:", "      - name: echo", "        ssh: printf '%s' {{ vars.msg }}"].join("\n"),
      `vars:\n  msg: ${JSON.stringify(hostile)}`,
    );
    const run = await opskit(["run", "-c", config, "say", "--json"]);
    expect(run.code).toBe(0);
    const step = events(run.stdout).find((e) => e.type === "step.finished")!;
    expect(step.result.stdout).toBe(hostile);
    expect(await Bun.file("/tmp/opskit-pwned").exists()).toBe(false);
  });
});

describe("unreachable and refused hosts", () => {
  test("one host down is unreachable (exit 1) and the others go on", async () => {
    const down = fleet.hosts[4]!;
    await fleet.stopHost(down.name);
    try {
      const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }");
      const run = await opskit(["exec", "-c", config, "role=web", "--json", "--", "echo up"]);
      expect(run.code).toBe(1);
      const targets = events(run.stdout).filter((e) => e.type === "target.finished");
      expect(targets.filter((e) => e.status === "unreachable").map((e) => e.target)).toEqual([down.name]);
      expect(targets.filter((e) => e.status === "changed")).toHaveLength(5);
    } finally {
      await fleet.startHost(down.name);
    }
  });

  test("a wrong key is an authentication error naming the user", async () => {
    const wrongKey = join(dir, "wrong_ed25519");
    Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
    const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }");
    const text = (await Bun.file(config).text()).replace(`key: ${fleet.identityFile}`, `key: ${wrongKey}`);
    await writeFile(config, text);
    const run = await opskit(["exec", "-c", config, `name=${fleet.hosts[2]!.name}`, "--json", "--", "true"]);
    expect(run.code).toBe(1);
    const step = events(run.stdout).find((e) => e.type === "step.finished")!;
    expect(step.status).toBe("unreachable");
    expect(step.result.error.code).toBe("E_SSH_AUTH");
    expect(step.result.error.message).toContain(fleet.user);
  });

  test("a changed host key is refused with a clear error, never accepted", async () => {
    const victim = fleet.hosts[5]!;
    await fleet.restartHostWithNewKey(victim.name);
    const config = await writeConfig("  noop: { steps: [ { exec: 'true' } ] }");
    const before = await Bun.file(fleet.knownHostsFile).text();
    const run = await opskit(["exec", "-c", config, `name=${victim.name}`, "--json", "--", "true"]);
    expect(run.code).toBe(1);
    const step = events(run.stdout).find((e) => e.type === "step.finished")!;
    expect(step.result.error.code).toBe("E_SSH_HOSTKEY_CHANGED");
    expect(step.result.error.message).toContain("SHA256:");
    expect(await Bun.file(fleet.knownHostsFile).text()).toBe(before);
    await fleet.restartHostWithNewKey(victim.name, { restoreOriginal: true });
  });
});

describe("opskit run", () => {
  const rolling = (maxFailures: number) =>
    [
      "  deploy:",
      "    targets: role=web",
      `    strategy: { rolling: { batch: [1, 2, "100%"], maxFailures: ${maxFailures} } }`,
      "    hooks:",
      "      rollback:",
      "        - name: undo",
      "          ssh: rm -f /tmp/opskit-deploy-{{ target.name }}",
      "    steps:",
      "      - name: install",
      "        ssh: touch /tmp/opskit-deploy-{{ target.name }}",
      "      - name: verify",
      `        ssh: test "{{ target.name }}" != "${fleet.hosts[4]!.name}"`,
    ].join("\n");

  test("a rolling run stops at maxFailures and rolls back only the hosts that changed", async () => {
    const config = await writeConfig(rolling(0));
    const run = await opskit(["run", "-c", config, "deploy", "--json"]);
    expect(run.code).toBe(2);
    const all = events(run.stdout);
    // Batches: [h3], [h4, h5]; h5 fails in batch 2: the budget (0) is spent and batch 3 never starts.
    expect(all.filter((e) => e.type === "batch.started")).toHaveLength(2);
    const rolledBack = all.filter((e) => e.type === "step.finished" && e.phase === "rollback").map((e) => e.target).sort();
    expect(rolledBack).toEqual([fleet.hosts[2]!.name, fleet.hosts[3]!.name, fleet.hosts[4]!.name].sort());
    const finished = all.find((e) => e.type === "run.finished")!;
    expect(finished.counts).toMatchObject({ failed: 1, notStarted: 3 });
  });

  test("--dry-run prints batches and rendered commands and touches nothing", async () => {
    const config = await writeConfig(rolling(0));
    const before = (await opskit(["runs", "--json"])).stdout;
    const run = await opskit(["run", "-c", config, "deploy", "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("batch 1:");
    expect(run.stdout).toContain("ssh: touch /tmp/opskit-deploy-");
    expect(run.stdout).toContain("dry run");
    expect((await opskit(["runs", "--json"])).stdout).toBe(before);
  });

  test("the journal holds exactly the events the run printed, and runs show reads it back", async () => {
    const config = await writeConfig(["  two:", "    targets: zone=a", "    steps:", "      - { name: one, ssh: echo one }", "      - { name: two, ssh: echo two >&2 }"].join("\n"));
    const run = await opskit(["run", "-c", config, "two", "--json"]);
    expect(run.code).toBe(0);
    const printed = events(run.stdout);
    const runId = printed[0]!.runId as string;
    const { Database } = await import("bun:sqlite");
    const db = new Database(journal, { readonly: true });
    const rows = db.query<{ payload: string; at: string }, [string]>("SELECT payload, at FROM events WHERE run_id = ? ORDER BY seq").all(runId);
    db.close();
    // Each printed line is the stored event with the time it happened stamped first.
    expect(rows.map((r) => JSON.parse(r.payload))).toEqual(printed.map(({ at: _at, ...event }) => event));
    printed.forEach((event, i) => {
      expect(Object.keys(event)[0]).toBe("at");
      expect(Math.abs(Date.parse(event.at as string) - Date.parse(rows[i]!.at))).toBeLessThan(1000);
    });
    const show = await opskit(["runs", "show", runId]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`run ${runId}: workflow two · succeeded`);
    for (const host of fleet.hosts.filter((_, i) => i % 2 === 0)) expect(show.stdout).toContain(host.name);
  });

  test("Ctrl-C mid-run cancels in-flight steps, starts nothing new and exits 130", async () => {
    const config = await writeConfig(["  slow:", "    targets: name=*", "    strategy: { parallel: { concurrency: 2 } }", "    steps:", "      - ssh: sleep 30"].join("\n"));
    const child = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "run", "-c", config, "slow", "--json", "--journal", journal], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    await Bun.sleep(2500);
    const started = performance.now();
    child.kill("SIGINT");
    const [stdout, , code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(code).toBe(130);
    const finished = events(stdout).find((e) => e.type === "run.finished")!;
    expect(finished.status).toBe("interrupted");
    expect(finished.counts.notStarted).toBe(fleet.hosts.length - 2);
  }, 30_000);

  test("runs resume continues exactly the failed and never-started targets with the same vars", async () => {
    const flag = `/tmp/opskit-resume-${Date.now()}`;
    const config = await writeConfig(
      [
        "  gated:",
        "    targets: role=web",
        "    vars: { tag: original }",
        `    strategy: { rolling: { batch: 2, maxFailures: 0 } }`,
        "    steps:",
        `      - ssh: test -e ${flag} || test "{{ target.name }}" != "${fleet.hosts[3]!.name}"`,
        "      - { name: tag, ssh: 'echo {{ vars.tag }}' }",
      ].join("\n"),
    );
    const first = await opskit(["run", "-c", config, "gated", "--json", "--var", "tag=override"]);
    expect(first.code).toBe(2);
    const runId = events(first.stdout)[0]!.runId as string;
    await writeFile(flag, "");
    const resumed = await opskit(["runs", "resume", runId, "--json"]);
    expect(resumed.code).toBe(0);
    const again = events(resumed.stdout);
    const ran = again.filter((e) => e.type === "target.finished").map((e) => e.target).sort();
    // Batch 1 (hosts 3 and 4): host 4 failed; hosts 5..8 never started. Host 3 succeeded and is not run again.
    expect(ran).toEqual(fleet.hosts.slice(3).map((h) => h.name).sort());
    expect(again.filter((e) => e.type === "step.finished" && e.name === "tag").every((e) => e.result.stdout === "override\n")).toBe(true);
  });

  test("copy uploads with the mode and is unchanged the second time; script pipes a local script with quoted args", async () => {
    const payload = join(dir, "payload.txt");
    await writeFile(payload, `payload ${Date.now()}\n`);
    const script = join(dir, "check.sh");
    await writeFile(script, 'set -eu\nprintf "%s|" "$@"\nstat -c %a /tmp/opskit-copy-$(id -u)-payload\n');
    const config = await writeConfig(
      [
        "  ship:",
        `    targets: name=${fleet.hosts[6]!.name}`,
        "    steps:",
        `      - { name: upload, copy: { src: ${payload}, dest: "/tmp/opskit-copy-{{ target.vars.uid }}-payload", mode: "0640" } }`,
        `      - name: check`,
        `        script: { path: ${script}, args: ["two words", "$(id)"] }`,
      ].join("\n"),
    );
    const uid = Bun.spawnSync(["id", "-u", fleet.user]).stdout.toString().trim();
    const text = (await Bun.file(config).text()).replace(`${fleet.hosts[6]!.name}: { address`, `${fleet.hosts[6]!.name}: { vars: { uid: "${uid}" }, address`);
    await writeFile(config, text);
    const first = await opskit(["run", "-c", config, "ship", "--json"]);
    expect(first.code).toBe(0);
    const steps = events(first.stdout).filter((e) => e.type === "step.finished");
    expect(steps.find((e) => e.name === "upload")!.status).toBe("changed");
    expect(steps.find((e) => e.name === "check")!.result.stdout).toBe("two words|$(id)|640\n");
    const second = await opskit(["run", "-c", config, "ship", "--json"]);
    expect(events(second.stdout).find((e) => e.type === "step.finished" && e.name === "upload")!.status).toBe("ok");
  });
});
