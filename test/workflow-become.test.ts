import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";
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
}, 60_000);

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
    ]);
    const run = await opskit(["run", "who", "-c", config, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    for (const [name, expected] of [["root", "0"], ["nobody", "nobody"], ["login", fleet.user]] as const) {
      const steps = finished(run.stdout, name);
      expect(steps).toHaveLength(3);
      for (const step of steps) expect(step.result.stdout.trim()).toBe(expected);
    }
    expect(finished(run.stdout, "nobody")[0]!.description).toBe("ssh: id -un (as nobody via sudo)");
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
    rmSync(pwnedMarker, { force: true });
    const values = hostileValues.filter((v) => v.value.length > 0);
    const steps = values.map((_, i) => `      - { name: v${i}, ssh: "printf '%s' {{ vars.v${i} }} | sha256sum", becomeUser: nobody }`);
    const config = await writeConfig(["  hostile:", "    targets: name=host-01", "    become: true", "    steps:", ...steps]);
    const run = await opskit(["run", "hostile", "-c", config, "--json", ...values.flatMap((v, i) => ["--var", `v${i}=${v.value}`])]);
    expect(run.code).toBe(0);
    values.forEach((v, i) => {
      const [step] = finished(run.stdout, `v${i}`);
      expect(`${v.name}: ${step!.result.stdout.split(" ")[0]}`).toBe(`${v.name}: ${createHash("sha256").update(v.value).digest("hex")}`);
    });
    expect(existsSync(pwnedMarker)).toBe(false);
  }, 60_000);

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
