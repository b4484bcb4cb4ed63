import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtBinary, runBuilt } from "./harness/binary.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { ensureSudo, UNPRIVILEGED_USER } from "./harness/sudo.ts";

// Ansible's step conventions through the built executable against real
// OpenSSH servers on loopback and Debian's sudo: become (per step and per
// workflow, sudo -n, another user, a login user sudo refuses), runOnce
// (once per run, across batches and a resume), delegate: local, and copy's
// diff under --dry-run.

let fleet: Fleet;
let dir: string;
let journal: string;

beforeAll(async () => {
  // The second login user (no sudo rights) logs in with the fleet's key too (AllowUsers lines add up).
  fleet = await startFleet({ size: 3, sshdConfig: [`AllowUsers ${UNPRIVILEGED_USER}`] });
  ensureSudo(fleet.user);
  dir = await mkdtemp(join(tmpdir(), "opskit-become-"));
  await chmod(dir, 0o755);
  journal = join(dir, "journal.db");
  // Built before any test watches the processes a run starts.
  await builtBinary();
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** opskit.yaml reaching the fleet, plus `nosudo-1`: the first host, logged into as the user sudo refuses. */
async function writeConfig(workflows: string[], extra: string[] = []): Promise<string> {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  const first = fleet.hosts[0]!;
  await writeFile(
    file,
    [
      ...fleetConfigLines(fleet, { labels: () => ({ role: "web" }) }),
      `    nosudo-1: { address: ${first.address}, port: ${first.port}, user: ${UNPRIVILEGED_USER}, labels: { role: nosudo } }`,
      ...extra,
      "workflows:",
      ...workflows,
    ].join("\n") + "\n",
  );
  return file;
}

const opskit = (args: string[], env: Record<string, string> = {}) => runBuilt([args[0]!, "--journal", journal, ...args.slice(1)], { cwd: dir, env });

function events(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

const finished = (stdout: string, name: string) => events(stdout).filter((e) => e.type === "step.finished" && e.name === name);

describe("become", () => {
  test("runs a step as root by default, as becomeUser when named, and a step's become: false overrides its workflow's", async () => {
    const config = await writeConfig([
      "  who:",
      "    targets: role=web",
      "    become: true",
      "    steps:",
      "      - { name: root, ssh: id -u }",
      "      - { name: nobody, ssh: id -un, becomeUser: nobody }",
      "      - { name: login, ssh: id -un, become: false }",
      "      - { name: input, ssh: { command: 'printf %s: $(id -un); cat', stdin: 'given input' }, becomeUser: nobody }",
      "      - { name: script, script: { path: who.sh, args: [x] }, becomeUser: nobody }",
    ]);
    await writeFile(join(dir, "who.sh"), '#!/bin/sh\necho "$(id -un) $1"\n');
    const run = await opskit(["run", "who", "-c", config, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    for (const [name, expected] of [["root", "0"], ["nobody", "nobody"], ["login", fleet.user]] as const) {
      const steps = finished(run.stdout, name);
      expect(steps).toHaveLength(3);
      for (const step of steps) expect(step.result.stdout.trim()).toBe(expected);
    }
    expect(finished(run.stdout, "nobody")[0]!.description).toBe("ssh: id -un (as nobody via sudo)");
    for (const step of finished(run.stdout, "input")) expect(step.result.stdout).toBe("nobody:given input");
    for (const step of finished(run.stdout, "script")) expect(step.result.stdout.trim()).toBe("nobody x");
  });

  test("a login user sudo asks a password of fails the step with E_BECOME_PASSWORD and the NOPASSWD hint", async () => {
    const config = await writeConfig(["  refused:", "    targets: role=nosudo", "    steps:", "      - { name: as-root, ssh: id -u, become: true }"]);
    const run = await opskit(["run", "refused", "-c", config, "--json"]);
    expect(run.code).toBe(2);
    const [step] = finished(run.stdout, "as-root");
    expect(step!.status).toBe("failed");
    expect(step!.result.error.code).toBe("E_BECOME_PASSWORD");
    expect(step!.result.error.message).toContain("sudo: a password is required");
    expect(step!.result.error.hint).toContain("NOPASSWD");
    const text = await opskit(["run", "refused", "-c", config]);
    expect(text.stdout).toContain("sudo on nosudo-1 would not run the command as root without a password: sudo: a password is required");
  });

  test("hostile --var values through a become step reach the remote shell as data, byte for byte", async () => {
    await expectValuesAsData("hostile", ["    become: true"], "becomeUser: nobody");
  }, 60_000);

  test("a become step's values and env secrets are on no command line of the host while it runs, and a timeout stops it whole", async () => {
    const secret = `tok-${crypto.randomUUID()}`;
    const value = `val-${crypto.randomUUID()}`;
    const sleeper = `${Math.floor(Math.random() * 1000) + 40}.${Math.floor(Math.random() * 1000)}`;
    const config = await writeConfig([
      "  quiet:",
      "    targets: name=host-01",
      "    become: true",
      "    becomeUser: nobody",
      `    vars: { v: ${value} }`,
      "    steps:",
      `      - { name: wait, ssh: { command: 'sleep 2; test "$TOKEN" = ${secret} && echo {{ vars.v }}', env: { TOKEN: "env:OPSKIT_TEST_BECOME_TOKEN" } } }`,
      `      - { name: stuck, ssh: 'sleep ${sleeper}', timeout: 1s }`,
    ]);
    const cmdlines = async () => {
      const found: string[] = [];
      for (const entry of await readdir("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const line = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
        if (line) found.push(line.replaceAll("\0", " "));
      }
      return found;
    };
    const running = opskit(["run", "quiet", "-c", config, "--json"], { OPSKIT_TEST_BECOME_TOKEN: secret });
    let done = false;
    void running.then(() => (done = true));
    const seen: string[] = [];
    let sawSleep = false;
    const deadline = Date.now() + 30_000;
    for (let i = 0; i < 3000 && !done && Date.now() < deadline; i++) {
      for (const line of await cmdlines()) {
        if (line.includes(secret) || line.includes(value)) seen.push(line);
        if (line.includes("sleep 2")) sawSleep = true;
      }
      await Bun.sleep(10);
    }
    const run = await running;
    expect(finished(run.stdout, "wait")[0]?.result).toMatchObject({ ok: true });
    expect(sawSleep).toBe(true);
    expect(seen).toEqual([]);
    expect(finished(run.stdout, "wait")[0]!.result.stdout.trim()).toBe(value);
    expect(finished(run.stdout, "stuck")[0]!.status).toBe("failed");
    // What the timeout stopped is gone: no `sleep` of it is left, as nobody or anyone.
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = (await cmdlines()).filter((line) => line.includes(`sleep ${sleeper}`));
      if (left.length === 0) break;
      await Bun.sleep(100);
    }
    expect(left).toEqual([]);
  });

  test("copy with become writes the file as the become user, and is unchanged the second time", async () => {
    const src = join(dir, "motd.txt");
    await writeFile(src, "hello from opskit\n");
    const dest = `/root/opskit-become-${crypto.randomUUID().slice(0, 8)}.txt`;
    const asNobody = join("/tmp", `opskit-become-nobody-${crypto.randomUUID().slice(0, 8)}.txt`);
    const config = await writeConfig([
      "  files:",
      "    targets: name=host-01",
      "    steps:",
      `      - { name: root-file, copy: { src: motd.txt, dest: ${dest}, mode: "0640" }, become: true }`,
      `      - { name: nobody-file, copy: { src: motd.txt, dest: ${asNobody} }, become: true, becomeUser: nobody }`,
    ]);
    try {
      const first = await opskit(["run", "files", "-c", config, "--json"]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(finished(first.stdout, "root-file")[0]!.status).toBe("changed");
      expect(readFileSync(dest, "utf8")).toBe("hello from opskit\n");
      expect([statSync(dest).uid, statSync(dest).mode & 0o777]).toEqual([0, 0o640]);
      const nobody = Number(Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString());
      expect(statSync(asNobody).uid).toBe(nobody);
      const again = await opskit(["run", "files", "-c", config, "--json"]);
      expect(finished(again.stdout, "root-file")[0]!.status).toBe("ok");
      expect(finished(again.stdout, "nobody-file")[0]!.status).toBe("ok");
    } finally {
      rmSync(dest, { force: true });
      rmSync(asNobody, { force: true });
    }
  });

  test("become on a step that runs nothing on the host is refused at file:line:col", async () => {
    const config = await writeConfig(["  bad:", "    steps:", "      - { name: local, exec: 'true', become: true }"]);
    const run = await runBuilt(["validate", "-c", config], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr + run.stdout).toMatch(/opskit-\w+\.yaml:\d+:\d+: become applies to steps that run on the host/);
  });
});

/** Each hostile value, given by --var to one step of workflow `name` (with `stepKeys`), reaches its shell byte for byte (by sha256) and runs nothing. */
async function expectValuesAsData(name: string, workflowKeys: string[], stepKeys: string): Promise<void> {
  rmSync(pwnedMarker, { force: true });
  const values = hostileValues.filter((v) => v.value.length > 0);
  const steps = values.map((_, i) => `      - { name: v${i}, ssh: "printf '%s' {{ vars.v${i} }} | sha256sum", ${stepKeys} }`);
  const config = await writeConfig([`  ${name}:`, "    targets: name=host-01", ...workflowKeys, "    steps:", ...steps]);
  const run = await opskit(["run", name, "-c", config, "--json", ...values.flatMap((v, i) => ["--var", `v${i}=${v.value}`])]);
  expect(run.code).toBe(0);
  values.forEach((v, i) => {
    const [step] = finished(run.stdout, `v${i}`);
    expect(`${v.name}: ${step!.result.stdout.split(" ")[0]}`).toBe(`${v.name}: ${createHash("sha256").update(v.value).digest("hex")}`);
  });
  expect(existsSync(pwnedMarker)).toBe(false);
}

/** An empty file every login user on the hosts may append to: who ran a step. */
async function writableLog(): Promise<string> {
  const log = join(dir, `once-${crypto.randomUUID().slice(0, 8)}.log`);
  await writeFile(log, "");
  await chmod(log, 0o666);
  return log;
}

describe("runOnce", () => {
  test("runs once per run on the first target, every target records its result, later steps read it", async () => {
    const log = await writableLog();
    const config = await writeConfig([
      "  migrate:",
      "    targets: role=web",
      "    strategy: { rolling: { batch: 1 } }",
      "    steps:",
      `      - { name: migrate, ssh: "echo {{ target.name }} >> ${log}; echo migrated-by-{{ target.name }}", runOnce: true }`,
      "      - { name: after, ssh: 'echo saw {{ steps.migrate.stdout }}' }",
    ]);
    const run = await opskit(["run", "migrate", "-c", config, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("host-01\n");
    const once = finished(run.stdout, "migrate");
    expect(once.map((e) => [e.target, e.status, e.result.stdout.trim()])).toEqual([
      ["host-01", "changed", "migrated-by-host-01"],
      ["host-02", "changed", "migrated-by-host-01"],
      ["host-03", "changed", "migrated-by-host-01"],
    ]);
    expect(once.slice(1).every((e) => e.ranOn === "host-01" && e.description.endsWith("(ran once on host-01)"))).toBe(true);
    for (const step of finished(run.stdout, "after")) expect(step.result.stdout.trim()).toBe("saw migrated-by-host-01");

    const plan = await opskit(["run", "migrate", "-c", config, "--dry-run", "--json"]);
    expect(plan.code).toBe(0);
    const planned = events(plan.stdout).filter((e) => e.type === "plan.step" && e.name === "migrate");
    expect(planned.map((e) => [e.target, e.runOnce])).toEqual([["host-01", true]]);
    const text = await opskit(["run", "migrate", "-c", config, "--dry-run"]);
    expect(text.stdout).toContain("  - migrate (once)");
  });

  test("a failed runOnce step fails it on every target, and the failure budget counts each", async () => {
    const config = await writeConfig([
      "  broken:",
      "    targets: role=web",
      "    maxFailures: 5",
      "    steps:",
      "      - { name: once, ssh: 'echo nope >&2; exit 3', runOnce: true }",
      "      - { name: never, ssh: 'true' }",
    ]);
    const run = await opskit(["run", "broken", "-c", config, "--json"]);
    expect(run.code).toBe(2);
    expect(finished(run.stdout, "once").map((e) => e.status)).toEqual(["failed", "failed", "failed"]);
    expect(finished(run.stdout, "once").filter((e) => e.attempts > 0)).toHaveLength(1);
    expect(finished(run.stdout, "never")).toHaveLength(0);
    const end = events(run.stdout).find((e) => e.type === "run.finished")!;
    expect(end.counts.failed).toBe(3);
  });

  test("when the first target cannot be reached, the next one runs it, and the rest take that result", async () => {
    const log = await writableLog();
    const config = await writeConfig([
      "  reach:",
      "    targets: role=web",
      "    strategy: { rolling: { batch: 1, maxUnreachable: 1 } }",
      "    steps:",
      `      - { name: once, ssh: "echo {{ target.name }} >> ${log}; echo from-{{ target.name }}", runOnce: true }`,
    ]);
    await fleet.stopHost("host-01");
    try {
      const run = await opskit(["run", "reach", "-c", config, "--json"]);
      expect(run.code).toBe(1);
      expect(readFileSync(log, "utf8")).toBe("host-02\n");
      const once = finished(run.stdout, "once");
      expect(once.map((e) => [e.target, e.status])).toEqual([
        ["host-01", "unreachable"],
        ["host-02", "changed"],
        ["host-03", "changed"],
      ]);
      expect(once[2]!.ranOn).toBe("host-02");
      expect(once[2]!.result.stdout.trim()).toBe("from-host-02");
    } finally {
      await fleet.startHost("host-01");
    }
  });

  test("a resumed run does not run a runOnce step again, even for targets that never reached it", async () => {
    const log = await writableLog();
    const flag = join(dir, `flag-${crypto.randomUUID().slice(0, 8)}`);
    const config = await writeConfig([
      "  resumable:",
      "    targets: role=web",
      "    strategy: { rolling: { batch: 1, maxFailures: 0 } }",
      "    steps:",
      `      - { name: once, ssh: "echo {{ target.name }} >> ${log}; echo from-{{ target.name }}", runOnce: true }`,
      `      - { name: gate, ssh: "test -e ${flag} && echo {{ steps.once.stdout }}" }`,
    ]);
    const first = await opskit(["run", "resumable", "-c", config, "--json"]);
    expect(first.code).toBe(2);
    const runId = events(first.stdout).find((e) => e.type === "run.started")!.runId;
    expect(events(first.stdout).filter((e) => e.type === "target.started").map((e) => e.target)).toEqual(["host-01"]);
    await writeFile(flag, "");
    const resumed = await opskit(["runs", "resume", runId, "-c", config, "--json"]);
    expect(resumed.stderr).not.toContain("Error");
    expect(resumed.code).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("host-01\n");
    const once = finished(resumed.stdout, "once");
    expect(once.map((e) => e.target).sort()).toEqual(["host-01", "host-02", "host-03"]);
    expect(once.every((e) => e.resumedFrom === runId && e.result.stdout.trim() === "from-host-01")).toBe(true);
    for (const step of finished(resumed.stdout, "gate")) expect(step.result.stdout.trim()).toBe("from-host-01");
  });
});

describe("delegate: local", () => {
  test("runs the step on this machine with the target's vars and labels, recorded under the target; with runOnce, once", async () => {
    const config = await writeConfig([
      "  lb:",
      "    targets: role=web",
      "    steps:",
      "      - { name: deregister, ssh: 'echo $(id -un) {{ target.name }} {{ target.labels.role }}', delegate: local }",
      "      - { name: deploy, ssh: 'id -un' }",
      "      - { name: announce, ssh: 'id -un', delegate: local, runOnce: true }",
    ]);
    const run = await opskit(["run", "lb", "-c", config, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const local = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
    expect(finished(run.stdout, "deregister").map((e) => [e.target, e.result.stdout.trim()]).sort()).toEqual(fleet.hosts.map((h) => [h.name, `${local} ${h.name} web`]));
    for (const step of finished(run.stdout, "deploy")) expect(step.result.stdout.trim()).toBe(fleet.user);
    const announce = finished(run.stdout, "announce");
    expect(announce.filter((e) => e.attempts > 0)).toHaveLength(1);
    expect(announce.every((e) => e.result.stdout.trim() === local)).toBe(true);
    expect(announce[0]!.description).toBe("ssh: id -un (on this machine)");
  });

  test("hostile --var values in a delegated step stay data in the local shell", async () => {
    await expectValuesAsData("hostile-local", [], "delegate: local");
  }, 60_000);
});

describe("copy --dry-run", () => {
  test("shows a unified diff for text, sizes and SHA-256 for binary, new and unchanged files, secrets masked, and writes nothing", async () => {
    const id = crypto.randomUUID().slice(0, 8);
    const remote = (name: string) => join(dir, `remote-${id}-${name}`);
    await writeFile(join(dir, `new-${id}.conf`), "listen 80\nworkers 8\ntoken s3cr3t-value-9f2\n");
    await writeFile(remote("changed.conf"), "listen 80\nworkers 4\n");
    await writeFile(join(dir, `same-${id}.conf`), "same\n");
    await writeFile(remote("same.conf"), "same\n");
    await chmod(remote("same.conf"), 0o644);
    await writeFile(join(dir, `blob-${id}.bin`), Buffer.from([0, 1, 2, 3, 255]));
    await writeFile(remote("blob.bin"), Buffer.from([0, 1, 2]));
    const before = readFileSync(remote("changed.conf"), "utf8");
    const config = await writeConfig([
      "  files:",
      "    targets: name=host-01",
      "    steps:",
      `      - { name: changed, copy: { src: new-${id}.conf, dest: ${remote("changed.conf")} } }`,
      `      - { name: fresh, copy: { src: new-${id}.conf, dest: ${remote("missing.conf")} } }`,
      `      - { name: same, copy: { src: same-${id}.conf, dest: ${remote("same.conf")} } }`,
      `      - { name: blob, copy: { src: blob-${id}.bin, dest: ${remote("blob.bin")} } }`,
      `      - { name: uses-token, ssh: { command: 'true', env: { TOKEN: "env:OPSKIT_TEST_COPY_TOKEN" } } }`,
    ]);
    const env = { OPSKIT_TEST_COPY_TOKEN: "s3cr3t-value-9f2" };
    const text = await opskit(["run", "files", "-c", config, "--dry-run"], env);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("host-01: +2 -1 lines");
    expect(text.stdout).toContain(`host-01: +2 -1 lines\n          --- ${remote("changed.conf")}\n`);
    expect(text.stdout).toContain("          -workers 4");
    expect(text.stdout).toContain("          +workers 8");
    expect(text.stdout).toContain("          +token ***");
    expect(text.stdout).not.toContain("s3cr3t-value-9f2");
    expect(text.stdout).toContain("host-01: new file, 43 bytes, mode 0644");
    expect(text.stdout).toContain("host-01: unchanged");
    expect(text.stdout).toMatch(/host-01: 3 bytes \(sha256 [0-9a-f]{12}\) -> 5 bytes \(sha256 [0-9a-f]{12}\)/);
    const json = await opskit(["run", "files", "-c", config, "--dry-run", "--json"], env);
    const previews = Object.fromEntries(events(json.stdout).filter((e) => e.type === "plan.step" && e.preview).map((e) => [e.name, e.preview]));
    expect([previews.changed.status, previews.fresh.status, previews.same.status, previews.blob.status]).toEqual(["changed", "new", "unchanged", "changed"]);
    expect(previews.blob.after).toMatchObject({ bytes: 5, sha256: createHash("sha256").update(Buffer.from([0, 1, 2, 3, 255])).digest("hex") });
    expect(previews.blob.diff).toBeUndefined();
    expect(json.stdout).not.toContain("s3cr3t-value-9f2");
    expect(readFileSync(remote("changed.conf"), "utf8")).toBe(before);
    expect(existsSync(remote("missing.conf"))).toBe(false);
  });

  test("reads the remote file as the become user", async () => {
    const dest = `/root/opskit-preview-${crypto.randomUUID().slice(0, 8)}.txt`;
    await writeFile(dest, "old\n");
    await chmod(dest, 0o600);
    await writeFile(join(dir, "preview-src.txt"), "new\n");
    try {
      const config = await writeConfig(["  root-file:", "    targets: name=host-01", "    steps:", `      - { name: put, copy: { src: preview-src.txt, dest: ${dest}, mode: "0600" }, become: true }`]);
      const plan = await opskit(["run", "root-file", "-c", config, "--dry-run"]);
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain("(as root via sudo)");
      expect(plan.stdout).toContain("host-01: +1 -1 lines");
      expect(plan.stdout).toContain("          -old");
      expect(readFileSync(dest, "utf8")).toBe("old\n");
    } finally {
      rmSync(dest, { force: true });
    }
  });
});

describe("config", () => {
  test("the keys are in opskit schema, and mistakes are refused at file:line:col with the fix", async () => {
    const schema = await runBuilt(["schema"], { cwd: dir });
    expect(schema.code).toBe(0);
    const step = JSON.stringify(JSON.parse(schema.stdout));
    for (const key of ["become", "becomeUser", "becomeMethod", "becomeFlags", "runOnce", "delegate"]) expect(step).toContain(`"${key}"`);
    const cases: [string[], RegExp][] = [
      [["    steps:", "      - { ssh: id, become: true, becomeUser: 'root; rm -rf /' }"], /:\d+:\d+: .*becomeUser.*a user name such as root/],
      [["    steps:", "      - { ssh: id, becomeUser: nobody }"], /:\d+:\d+: becomeUser has no effect without become/],
      [["    steps:", "      - { ssh: id, become: true, becomeMethod: pkexec }"], /:\d+:\d+: .*becomeMethod/],
      [["    steps:", "      - { ssh: id, delegate: remote }"], /:\d+:\d+: .*delegate/],
      [["    steps:", "      - { ssh: id }", "    hooks:", "      rollback:", "        - { ssh: id, runOnce: true }"], /:\d+:\d+: runOnce applies to steps and pre and post hooks/],
    ];
    for (const [lines, expected] of cases) {
      const config = await writeConfig(["  bad:", "    targets: role=web", ...lines]);
      const run = await runBuilt(["validate", "-c", config], { cwd: dir });
      expect([run.code, run.stderr]).toEqual([65, expect.stringMatching(expected)]);
    }
    // A flag is one option word, never shell text.
    const flags = await writeConfig(["  ok:", "    targets: role=web", "    steps:", "      - { ssh: id, become: true }"]);
    await writeFile(flags, readFileSync(flags, "utf8").replace("defaults:\n", "defaults:\n  becomeFlags: { sudo: ['-H; id'] }\n"));
    const refused = await runBuilt(["validate", "-c", flags], { cwd: dir });
    expect([refused.code, refused.stderr]).toEqual([65, expect.stringMatching(/:\d+:\d+: .*becomeFlags.*one word, starting with -/)]);
  });

  test("defaults.becomeFlags reach the method, and permissions judge a become step as sudo", async () => {
    const lines = (sudo: boolean) => [
      "  flagged:",
      "    targets: name=host-01",
      `    permissions: { commands: ['echo *'], hosts: 'role=web'${sudo ? ", sudo: true" : ""} }`,
      "    steps:",
      "      - { name: home, ssh: 'echo $HOME', become: true }",
    ];
    const withFlags = async (sudo: boolean) => {
      const file = await writeConfig(lines(sudo));
      await writeFile(file, readFileSync(file, "utf8").replace("defaults:\n", "defaults:\n  becomeFlags: { sudo: [-H] }\n"));
      return file;
    };
    const denied = await opskit(["run", "flagged", "-c", await withFlags(false), "--json"]);
    expect(denied.code).toBe(2);
    const [refusal] = finished(denied.stdout, "home");
    expect(refusal!.result.error.code).toBe("E_POLICY_DENIED");
    expect(refusal!.result.error.message).toContain("runs as another user (sudo -n -H -u root --)");
    const allowed = await opskit(["run", "flagged", "-c", await withFlags(true), "--json"]);
    expect(allowed.code).toBe(0);
    // -H: sudo sets HOME to the become user's.
    expect(finished(allowed.stdout, "home")[0]!.result.stdout.trim()).toBe("/root");
  });
});
