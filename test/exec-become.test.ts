import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtBinary, runBuilt } from "./harness/binary.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { ensureSudo, UNPRIVILEGED_USER } from "./harness/sudo.ts";

// `opskit exec -b` (Ansible's `ansible all -b --become-user ...`) through the
// built executable against real OpenSSH servers on loopback and Debian's
// sudo: hosts named with -H (no opskit.yaml, ~/.ssh/config as the only
// settings) and hosts a selector picks from opskit.yaml, a login user sudo
// refuses, the org policy's deny.sudo, quoted hostile values through the
// become shell, and a resume that keeps the become user.

let fleet: Fleet;
let home: string;
let work: string;
let config: string;
let port: number;

beforeAll(async () => {
  fleet = await startFleet({ size: 2, sshdConfig: [`AllowUsers ${UNPRIVILEGED_USER}`] });
  ensureSudo(fleet.user);
  port = fleet.hosts[0]!.port;
  home = await mkdtemp(join(tmpdir(), "opskit-exec-become-"));
  // Searchable by nobody: the resume test's flag file is read as the become user.
  await chmod(home, 0o755);
  work = join(home, "work");
  await mkdir(join(home, ".ssh"), { recursive: true });
  await mkdir(work);
  await writeFile(join(home, ".ssh", "known_hosts"), fleet.hosts.map((host) => `[${host.address}]:${port} ${fleet.hostPublicKey}\n`).join(""));
  await writeFile(join(home, ".ssh", "config"), [`Host 127.0.0.*`, `  User ${fleet.user}`, `  IdentityFile ${fleet.identityFile}`, ""].join("\n"));
  const first = fleet.hosts[0]!;
  config = join(work, "opskit.yaml");
  await writeFile(
    config,
    [
      ...fleetConfigLines(fleet, { labels: () => ({ role: "web" }) }),
      `    nosudo-1: { address: ${first.address}, port: ${first.port}, user: ${UNPRIVILEGED_USER}, labels: { role: nosudo } }`,
      "",
    ].join("\n"),
  );
  await builtBinary();
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

const opskit = (args: string[]) => runBuilt(args, { cwd: work, env: { HOME: home, OPSKIT_JOURNAL: join(home, "journal.db"), SSH_AUTH_SOCK: "" } });

const adHoc = (index: number, user?: string) => `${user ? `${user}@` : ""}${fleet.hosts[index]!.address}:${port}`;

function stepResults(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((event) => event.type === "step.finished");
}

/** A shell word that is exactly `text` (POSIX single quotes). */
const quoted = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

describe("opskit exec -b", () => {
  test("-H hosts: the command runs as --become-user, as root with -b alone, as the login user without -b", async () => {
    const nobody = await opskit(["exec", "-b", "--become-user", "nobody", "-H", adHoc(0), "--", "id", "-un"]);
    expect(nobody.stderr).toBe("");
    expect(nobody.code).toBe(0);
    expect(nobody.stdout).toContain("nobody");
    expect(nobody.stdout).not.toContain(fleet.user);

    const json = await opskit(["exec", "-b", "--become-user", "nobody", "-H", `127.0.0.[2-3]:${port}`, "--json", "--", "id", "-un"]);
    expect(json.code).toBe(0);
    const steps = stepResults(json.stdout);
    expect(steps.map((s) => [s.target, s.result.stdout, s.description]).sort()).toEqual([
      [adHoc(0), "nobody\n", "ssh: id -un (as nobody via sudo)"],
      [adHoc(1), "nobody\n", "ssh: id -un (as nobody via sudo)"],
    ]);

    const root = await opskit(["exec", "-b", "-H", adHoc(0), "--json", "--", "id", "-u"]);
    expect(stepResults(root.stdout).map((s) => s.result.stdout)).toEqual(["0\n"]);
    const login = await opskit(["exec", "-H", adHoc(0), "--json", "--", "id", "-un"]);
    expect(stepResults(login.stdout).map((s) => s.result.stdout)).toEqual([`${fleet.user}\n`]);
  }, 60_000);

  test("a selector over opskit.yaml: every matched host runs it as root; --dry-run shows who it would run as and touches nothing", async () => {
    const run = await opskit(["exec", "-c", config, "role=web", "-b", "--json", "--", "id", "-u"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(stepResults(run.stdout).map((s) => [s.target, s.result.stdout]).sort()).toEqual([
      ["host-01", "0\n"],
      ["host-02", "0\n"],
    ]);
    const marker = join(home, `dry-${crypto.randomUUID().slice(0, 8)}`);
    const plan = await opskit(["exec", "-c", config, "role=web", "-b", "--become-user", "nobody", "--dry-run", "--", "touch", marker]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`host-[01-02]: ssh: touch ${marker} (as nobody via sudo)`);
    const planJson = await opskit(["exec", "-c", config, "role=web", "-b", "--become-method", "doas", "--dry-run", "--json", "--", "touch", marker]);
    const planned = planJson.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line))
      .filter((event) => event.type === "plan.step");
    expect(planned.map((p) => p.become)).toEqual([
      { user: "root", method: "doas" },
      { user: "root", method: "doas" },
    ]);
    expect(existsSync(marker)).toBe(false);
  }, 60_000);

  test("a login user sudo asks a password of gets E_BECOME_PASSWORD and the NOPASSWD hint, with a selector and with -H", async () => {
    const selected = await opskit(["exec", "-c", config, "role=nosudo", "-b", "--json", "--", "id", "-u"]);
    expect(selected.code).toBe(2);
    const [step] = stepResults(selected.stdout);
    expect(step!.status).toBe("failed");
    expect(step!.result.error.code).toBe("E_BECOME_PASSWORD");
    expect(step!.result.error.hint).toContain("NOPASSWD");
    const named = await opskit(["exec", "-b", "-H", adHoc(0, UNPRIVILEGED_USER), "--", "id", "-u"]);
    expect(named.code).toBe(2);
    expect(named.stdout).toContain(`sudo on ${adHoc(0, UNPRIVILEGED_USER)} would not run the command as root without a password: sudo: a password is required`);
  }, 60_000);

  test("the org policy's deny.sudo refuses exec -b before it runs, and lets exec without -b run", async () => {
    const policy = join(work, "policy.yaml");
    await writeFile(policy, "deny:\n  sudo: true\n");
    const marker = join(home, `denied-${crypto.randomUUID().slice(0, 8)}`);
    const denied = await opskit(["exec", "-c", config, "name=host-01", "--policy", policy, "-b", "--json", "--", "touch", marker]);
    expect(denied.code).toBe(2);
    const [step] = stepResults(denied.stdout);
    expect(step!.result.error.message).toContain("runs as another user (sudo -n -u root --), denied by");
    expect(existsSync(marker)).toBe(false);
    const plain = await opskit(["exec", "-c", config, "name=host-01", "--policy", policy, "--", "true"]);
    expect(plain.code).toBe(0);
  }, 60_000);

  test("hostile values quoted in the command reach the become shell as data, byte for byte; a hostile --become-user is refused", async () => {
    rmSync(pwnedMarker, { force: true });
    const values = hostileValues.filter((v) => v.value.length > 0);
    // One word per value (each under the kernel's limit for one argument), joined by exec into one command.
    const words = values.map((v) => `printf '%s' ${quoted(v.value)} | sha256sum;`);
    for (const word of words) expect(Buffer.byteLength(word)).toBeLessThan(128 * 1024);
    const run = await opskit(["exec", "-b", "--become-user", "nobody", "-H", adHoc(0), "--json", "--", ...words, "id", "-un"]);
    expect(run.code).toBe(0);
    const [step] = stepResults(run.stdout);
    const lines = step!.result.stdout.trimEnd().split("\n");
    expect(lines.at(-1)).toBe("nobody");
    values.forEach((v, i) => expect(`${v.name}: ${lines[i]!.split(" ")[0]}`).toBe(`${v.name}: ${createHash("sha256").update(v.value).digest("hex")}`));
    expect(existsSync(pwnedMarker)).toBe(false);

    for (const user of [`root; touch ${pwnedMarker}`, `$(touch ${pwnedMarker})`, "-u root", "nobody'"]) {
      const refused = await opskit(["exec", "-b", "--become-user", user, "-H", adHoc(0), "--", "true"]);
      expect(refused.code).toBe(64);
      expect(refused.stderr).toContain("is not a user name");
    }
    expect(existsSync(pwnedMarker)).toBe(false);
  }, 120_000);

  test("runs resume runs the command again as the become user it was started with", async () => {
    const flag = join(home, `flag-${crypto.randomUUID().slice(0, 8)}`);
    // Fails until the flag exists; then prints who it runs as.
    const failed = await opskit(["exec", "-b", "--become-user", "nobody", "-H", adHoc(0), "--", "test", "-e", flag, "&&", "id", "-un"]);
    expect(failed.code).toBe(2);
    const runId = /opskit runs show (\S+)\)/.exec(failed.stdout)![1]!;
    await writeFile(flag, "");
    await chmod(flag, 0o644);
    const resumed = await opskit(["runs", "resume", runId, "--json"]);
    expect(resumed.stderr).toContain(`1 target to run (${adHoc(0)})`);
    expect(resumed.code).toBe(0);
    const steps = stepResults(resumed.stdout);
    expect(steps.map((s) => [s.result.stdout, s.description])).toEqual([["nobody\n", `ssh: test -e ${flag} && id -un (as nobody via sudo)`]]);
  }, 60_000);

  test("--become-user and --become-method without -b are usage errors", async () => {
    const run = await opskit(["exec", "--become-user", "nobody", "-H", adHoc(0), "--", "id", "-un"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--become-user has no effect without -b");
    const method = await opskit(["exec", "--become-method", "su", "-H", adHoc(0), "--", "id", "-un"]);
    expect(method.code).toBe(64);
    expect(method.stderr).toContain("--become-method has no effect without -b");
  }, 60_000);
});

describe("become settings on inventory hosts and groups", () => {
  let inventoryConfig: string;

  beforeAll(async () => {
    const [first, second] = fleet.hosts;
    inventoryConfig = join(work, "inventory-become.yaml");
    await writeFile(
      inventoryConfig,
      [
        ...fleetConfigLines(fleet).slice(0, 6),
        // doas is not what any host uses: the group's and hosts' methods win over it.
        "  becomeMethod: doas",
        "inventory:",
        "  hosts:",
        `    host-01: { address: ${first!.address}, port: ${first!.port}, labels: { role: db } }`,
        `    host-02: { address: ${second!.address}, port: ${second!.port}, labels: { role: db }, becomeUser: daemon }`,
        `    host-su: { address: ${first!.address}, port: ${first!.port}, labels: { role: su }, becomeMethod: su }`,
        "  groups:",
        "    dbs: { hosts: [host-01, host-02, host-su], becomeUser: nobody, becomeMethod: sudo }",
        "workflows:",
        "  who:",
        "    targets: role=db",
        "    steps:",
        "      - { name: inventory, ssh: id -un, become: true }",
        "      - { name: step-user, ssh: id -un, become: true, becomeUser: root }",
        "  workflow-user:",
        "    targets: role=db",
        "    become: true",
        "    becomeUser: root",
        "    steps:",
        "      - { name: as-workflow, ssh: id -un }",
        "  su:",
        "    targets: role=su",
        "    steps:",
        "      - { name: as-su, ssh: id -u, become: true }",
        "",
      ].join("\n"),
    );
  });

  const byTarget = (stdout: string, name: string) =>
    Object.fromEntries(
      stepResults(stdout)
        .filter((s) => s.name === name)
        .map((s) => [s.target, s.result.stdout.trim()]),
    );

  test("a become step without its own user or method takes the host's, else its group's, over defaults.becomeMethod; the step's and the workflow's win", async () => {
    const run = await opskit(["run", "who", "-c", inventoryConfig, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(byTarget(run.stdout, "inventory")).toEqual({ "host-01": "nobody", "host-02": "daemon" });
    expect(byTarget(run.stdout, "step-user")).toEqual({ "host-01": "root", "host-02": "root" });
    const workflow = await opskit(["run", "workflow-user", "-c", inventoryConfig, "--json"]);
    expect(workflow.code).toBe(0);
    expect(byTarget(workflow.stdout, "as-workflow")).toEqual({ "host-01": "root", "host-02": "root" });
    const plan = await opskit(["run", "who", "-c", inventoryConfig, "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("host-01: ssh: id -un (as nobody via sudo)");
    expect(plan.stdout).toContain("host-02: ssh: id -un (as daemon via sudo)");
  }, 60_000);

  test("a host's becomeMethod is the one used: su as a login user that is not root is refused with su's error", async () => {
    const run = await opskit(["run", "su", "-c", inventoryConfig, "--json"]);
    expect(run.code).toBe(2);
    const [step] = stepResults(run.stdout);
    expect(step!.description).toBe("ssh: id -u (as nobody via su)");
    expect(step!.result.error.code).toBe("E_BECOME_PASSWORD");
    expect(step!.result.error.message).toContain("su on host-su would not run the command as nobody");
  }, 60_000);

  test("exec -b takes the inventory's settings too, and --become-user wins over them", async () => {
    const run = await opskit(["exec", "-c", inventoryConfig, "role=db", "-b", "--json", "--", "id", "-un"]);
    expect(run.code).toBe(0);
    expect(byTarget(run.stdout, "command")).toEqual({ "host-01": "nobody", "host-02": "daemon" });
    const given = await opskit(["exec", "-c", inventoryConfig, "role=db", "-b", "--become-user", "root", "--json", "--", "id", "-un"]);
    expect(byTarget(given.stdout, "command")).toEqual({ "host-01": "root", "host-02": "root" });
  }, 60_000);

  test("an Ansible inventory's ansible_become_user is the host's become user", async () => {
    const first = fleet.hosts[0]!;
    await writeFile(join(work, "hosts.ini"), `[db]\nansible-1 ansible_host=${first.address} ansible_port=${first.port}\n\n[db:vars]\nansible_become_user=daemon\n`);
    const ansible = join(work, "ansible-become.yaml");
    await writeFile(ansible, [...fleetConfigLines(fleet).slice(0, 6), "inventory:", "  sources:", "    - ansible: hosts.ini", ""].join("\n"));
    const run = await opskit(["exec", "-c", ansible, "name=ansible-1", "-b", "--json", "--", "id", "-un"]);
    expect(run.stderr).toBe("");
    expect(byTarget(run.stdout, "command")).toEqual({ "ansible-1": "daemon" });
  }, 60_000);

  test("a becomeUser in the inventory that is not a user name is a config error at file:line:col", async () => {
    const bad = join(work, "inventory-bad.yaml");
    await writeFile(bad, ["inventory:", "  hosts:", "    h1: { becomeUser: 'root; reboot' }", ""].join("\n"));
    const run = await opskit(["validate", "-c", bad]);
    expect(run.code).toBe(65);
    expect(run.stderr + run.stdout).toMatch(/inventory-bad\.yaml:3:\d+.*a user name such as root/);
  }, 60_000);
});
