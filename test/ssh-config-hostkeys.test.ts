import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { startFleet, type Fleet } from "./harness/fleet.ts";

// An imported ~/.ssh/config against real OpenSSH servers: its
// UserKnownHostsFile is where the host keys are, opskit's own known_hosts is
// empty, and settings that would turn host key checking off are not followed.
let fleet: Fleet;
let home: string;
let config: string;
let journal: string;

beforeAll(async () => {
  fleet = await startFleet({ size: 2 });
  home = await mkdtemp(join(tmpdir(), "opskit-ssh-home-"));
  journal = join(home, "journal.db");
  await mkdir(join(home, ".ssh", "keys"), { recursive: true });
  // The fleet's keys under a path of the user's own choosing.
  await writeFile(join(home, ".ssh", "keys", "fleet_known_hosts"), await readFile(fleet.knownHostsFile, "utf8"));
  const [trusted, lab] = fleet.hosts as [Fleet["hosts"][0], Fleet["hosts"][0]];
  await writeFile(
    join(home, ".ssh", "config"),
    [
      // Relative to ~/.ssh, as ssh reads it; neither matches anything.
      "Include conf.d/*.conf",
      "Include ~/.ssh/missing-dir/*",
      "Host trusted",
      `  HostName ${trusted.address}`,
      `  Port ${trusted.port}`,
      "  UserKnownHostsFile ~/.ssh/keys/absent_known_hosts ~/.ssh/keys/fleet_known_hosts",
      "Host lab",
      `  HostName ${lab.address}`,
      `  Port ${lab.port}`,
      "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null",
      "Host *",
      `  User ${fleet.user}`,
      `  IdentityFile ${fleet.identityFile}`,
    ].join("\n") + "\n",
  );
  await writeFile(join(home, "empty_known_hosts"), "");
  config = join(home, "opskit.yaml");
  await writeFile(
    config,
    [
      "defaults:",
      `  knownHosts: ${join(home, "empty_known_hosts")}`,
      "  hostKeyChecking: strict",
      "  connectTimeout: 5s",
      "inventory:",
      "  sources:",
      "    - ssh_config: ~/.ssh/config",
    ].join("\n") + "\n",
  );
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

const opskit = (args: string[]) => runOpskit([args[0]!, "--journal", journal, ...args.slice(1)], { cwd: home, env: { HOME: home, SSH_AUTH_SOCK: "" } });

describe("ssh_config import", () => {
  test("an Include whose pattern matches nothing is skipped, as ssh skips it", async () => {
    const run = await runOpskit(["inventory", "-c", config, "--json"], { cwd: home, env: { HOME: home } });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"trusted"');
  });

  test("a host's UserKnownHostsFile is where its key is checked: it connects with an empty defaults.knownHosts", async () => {
    const run = await opskit(["exec", "-c", config, "name=trusted", "--", "echo", "reached"]);
    expect(run.stdout).toContain("reached");
    expect(run.code).toBe(0);
    expect(await readFile(join(home, "empty_known_hosts"), "utf8")).toBe("");
  });

  test("StrictHostKeyChecking no and UserKnownHostsFile /dev/null do not turn checking off: the unknown key is refused, and the message says why", async () => {
    const run = await opskit(["exec", "-c", config, "name=lab", "--", "echo", "reached"]);
    expect(run.code).toBe(1);
    const output = run.stdout + run.stderr;
    expect(output).not.toContain("\n    reached");
    expect(output).toContain("is not in");
    expect(output).toContain("host key checking stays on for this host: .ssh/config:10: StrictHostKeyChecking no is not followed (opskit's defaults.hostKeyChecking decides); .ssh/config:11: UserKnownHostsFile /dev/null is not followed (it would accept any host key)");
  });
});
