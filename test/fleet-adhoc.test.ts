import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";
import { startFleet, type Fleet } from "./harness/fleet.ts";

// Hosts named on the command line (opskit exec -H, as pssh and ClusterShell
// users name them) and -v, through the built executable against real sshd on
// 127.0.0.2, .3 and .4: no opskit.yaml, the user's ~/.ssh/config and
// known_hosts as the only settings. 127.0.0.4's key is not in known_hosts.
let fleet: Fleet;
let home: string;
let work: string;
let knownHosts: string;
let port: number;
const SECRET = `adhoc-secret-${crypto.randomUUID()}`;

beforeAll(async () => {
  fleet = await startFleet({ size: 3 });
  port = fleet.hosts[0]!.port;
  home = await mkdtemp(join(tmpdir(), "opskit-adhoc-home-"));
  work = join(home, "work");
  await mkdir(join(home, ".ssh"), { recursive: true });
  await mkdir(work);
  knownHosts = join(home, ".ssh", "known_hosts");
  await writeFile(knownHosts, fleet.hosts.slice(0, 2).map((host) => `[${host.address}]:${port} ${fleet.hostPublicKey}\n`).join(""));
  await writeFile(join(home, ".ssh", "config"), [`Host 127.0.0.*`, `  User ${fleet.user}`, `  IdentityFile ${fleet.identityFile}`, ""].join("\n"));
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

const opskit = (args: string[], env: Record<string, string> = {}) =>
  runBuilt(args, { cwd: work, env: { HOME: home, OPSKIT_JOURNAL: join(home, "journal.db"), SSH_AUTH_SOCK: "", ...env } });

/** `SHA256:...` of the fleet's host key, as ssh-keygen prints it. */
async function hostKeyFingerprint(): Promise<string> {
  const file = join(home, "fleet_host.pub");
  await writeFile(file, `${fleet.hostPublicKey}\n`);
  const listed = Bun.spawnSync(["ssh-keygen", "-lf", file], { stdout: "pipe" }).stdout.toString();
  return /SHA256:\S+/.exec(listed)![0];
}

describe("opskit exec -H", () => {
  test("a range with a port reaches each host with ~/.ssh/config's settings, no opskit.yaml needed", async () => {
    const run = await opskit(["exec", "-H", `127.0.0.[2-3]:${port}`, "--json", "--", "echo", "adhoc"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const finished = run.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line))
      .filter((event) => event.type === "target.finished");
    expect(finished.map((event) => [event.target, event.status]).sort()).toEqual([
      [`127.0.0.2:${port}`, "changed"],
      [`127.0.0.3:${port}`, "changed"],
    ]);
  }, 60_000);

  test("an unknown host key is refused as for a configured host, and not learned", async () => {
    const before = await readFile(knownHosts, "utf8");
    const run = await opskit(["exec", "-H", `${fleet.user}@127.0.0.[2-4]:${port}`, "--", "true"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/3 targets: 0 ok, 2 changed, 0 failed, 1 unreachable/);
    expect(run.stdout).toContain(`${fleet.user}@127.0.0.4:${port}`);
    expect(run.stdout).toContain(`UNREACHABLE  ${fleet.user}@127.0.0.4:${port}`);
    expect(run.stdout).toContain(`is not in ${knownHosts} (offered ssh-ed25519 SHA256:`);
    expect(run.stdout).toContain("and host key checking is strict");
    expect(await readFile(knownHosts, "utf8")).toBe(before);
  }, 60_000);

  test("runs resume names the hosts again from the recorded pattern and carries on with the one that failed", async () => {
    const before = await readFile(knownHosts, "utf8");
    const failed = await opskit(["exec", "-H", `127.0.0.[2-4]:${port}`, "--", "echo", "resumed"]);
    expect(failed.code).toBe(1);
    const runId = /opskit runs show (\S+)\)/.exec(failed.stdout)![1]!;
    try {
      await writeFile(knownHosts, `${before}[127.0.0.4]:${port} ${fleet.hostPublicKey}\n`);
      const resumed = await opskit(["runs", "resume", runId]);
      expect(resumed.stderr).toContain(`1 target to run (127.0.0.4:${port})`);
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toMatch(/1 targets?: 0 ok, 1 changed, 0 failed, 0 unreachable/);
      expect(resumed.stdout).toContain(`127.0.0.4:${port}`);
    } finally {
      await writeFile(knownHosts, before);
    }
  }, 60_000);

  test("@file reads a pattern a line, with comments and blank lines", async () => {
    await writeFile(join(work, "hosts.txt"), `# the two we know\n\n127.0.0.[2,3]:${port}   # both\n127.0.0.2:${port}\n`);
    const run = await opskit(["exec", "-H", "@hosts.txt", "--", "echo", "ok"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/2 targets: 0 ok, 2 changed, 0 failed, 0 unreachable/);
  }, 60_000);

  test("a malformed pattern is a usage error that points at the column and says how to write it", async () => {
    const run = await opskit(["exec", "-H", "web[01-40,db1", "--", "uptime"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('opskit: -H: column 4 of "web[01-40,db1": "[" is not closed');
    expect(run.stderr).toContain("hint: close the range with ], e.g. web[1-3]");
    const huge = await opskit(["exec", "-H", "n[1-1000]x[1-1000]", "--", "uptime"]);
    expect(huge.code).toBe(64);
    expect(huge.stderr).toContain("expands to more than 100,000 hosts");
  }, 60_000);
});

describe("-v", () => {
  test("exec -v tells the connection, the host-key decision with sshd's fingerprint, the auth method, the command and the timings", async () => {
    const fingerprint = await hostKeyFingerprint();
    const run = await opskit(["exec", "-v", "-H", `127.0.0.2:${port}`, "--", "echo", "traced"]);
    expect(run.code).toBe(0);
    const name = `127.0.0.2:${port}`;
    expect(run.stderr).toContain(`debug1: ${name}: connecting to ${fleet.user}@127.0.0.2:${port} (host from -H, ${join(home, ".ssh", "config")})`);
    expect(run.stderr).toContain(`debug1: ${name}: connected to 127.0.0.2 port ${port}`);
    expect(run.stderr).toContain(`debug1: ${name}: host key: ssh-ed25519 ${fingerprint} matches ${knownHosts}:1`);
    expect(run.stderr).toContain(`debug1: ${name}: auth: trying key ${fleet.identityFile}`);
    expect(run.stderr).toContain(`debug1: ${name}: auth: key ${fleet.identityFile} accepted for ${fleet.user}`);
    expect(run.stderr).toContain(`debug1: ${name}: exec: echo traced`);
    expect(run.stderr).toMatch(/debug1: .*: exit 0; timings: connect \d+ ms, auth \d+ ms, exec \d+ ms, total \d+ ms/);
    expect(run.stderr).not.toContain("debug2:");
  }, 60_000);

  test("-vv adds the settings and exit details, -vvv ssh2's own lines; a refused key says why", async () => {
    const vv = await opskit(["exec", "-vv", "-H", `127.0.0.[3-4]:${port}`, "--", "true"]);
    expect(vv.code).toBe(1);
    expect(vv.stderr).toContain(`debug2: 127.0.0.3:${port}: settings ${fleet.user}@127.0.0.3:${port}; keys ${fleet.identityFile} (from -H, ${join(home, ".ssh", "config")})`);
    expect(vv.stderr).toContain(`debug2: 127.0.0.3:${port}: exec: exit-status 0`);
    expect(vv.stderr).toContain(`debug2: 127.0.0.3:${port}: known_hosts: ${knownHosts}, looked up as [127.0.0.3]:${port} (hostKeyChecking strict)`);
    expect(vv.stderr).toMatch(new RegExp(`debug1: 127\\.0\\.0\\.4:${port}: host key: ssh-ed25519 SHA256:\\S+ refused: .*not in ${knownHosts.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    const vvv = await opskit(["exec", "-v", "-v", "-v", "-H", `127.0.0.2:${port}`, "--", "true"]);
    expect(vvv.stderr).toContain(`debug3: 127.0.0.2:${port}: ssh2: `);
  }, 60_000);

  test("run -vvv masks a secret the command carries, in ssh2's debug lines too: the value never reaches stdout or stderr", async () => {
    // A hosts: list with a range, the step's env from a secret reference: the rendered command exports it.
    await writeFile(join(work, "fleet.txt"), `${fleet.user}@127.0.0.[2-3]:${port}\n`);
    await writeFile(
      join(work, "opskit.yaml"),
      [
        "defaults:",
        `  key: ${fleet.identityFile}`,
        "inventory:",
        "  sources:",
        "    - hosts: fleet.txt",
        "workflows:",
        "  use-token:",
        "    targets: name=127.0.0.*",
        "    steps:",
        "      - name: call",
        "        ssh: { command: 'test -n \"$API_TOKEN\" && echo token-set', env: { API_TOKEN: 'env:ADHOC_API_TOKEN' } }",
        "  preview:",
        "    targets: name=127.0.0.2",
        "    steps:",
        "      - copy: { src: fleet.txt, dest: /tmp/opskit-adhoc-never-written }",
        "",
      ].join("\n"),
    );
    try {
      // A dry run's copy preview reads the target: its connection is traced too, and nothing is written.
      const plan = await opskit(["run", "-v", "--dry-run", "preview"]);
      expect(plan.code).toBe(0);
      expect(plan.stderr).toContain(`debug1: 127.0.0.2: connecting to ${fleet.user}@127.0.0.2:${port} (host from fleet.txt:1)`);
      expect(plan.stderr).toMatch(/debug1: 127\.0\.0\.2: host key: ssh-ed25519 SHA256:\S+ matches /);

      const run = await opskit(["run", "-vvv", "use-token"], { ADHOC_API_TOKEN: SECRET });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/2 targets: 0 ok, 2 changed/);
      expect(run.stderr).toContain(`debug1: 127.0.0.2: exec: export API_TOKEN='***' ; test -n "$API_TOKEN" && echo token-set`);
      // ssh2's own debug lines (-vvv) carry the exec request with the command: masked too.
      expect(run.stderr).toContain("exec: export API_TOKEN='***'");
      expect(run.stderr).toMatch(/debug3: 127\.0\.0\.2: ssh2: Outbound: Sending CHANNEL_REQUEST \(r:\d+, exec: .*API_TOKEN=\S*\*\*\*/);
      expect(`${run.stdout}\n${run.stderr}`).not.toContain(SECRET);
      // opskit shadow's workflow candidate opens SSH connections too.
      const shadow = await opskit(["shadow", "token-check", "--legacy", "echo token-set", "--candidate", "workflow:use-token", "-v"], { ADHOC_API_TOKEN: SECRET });
      expect(shadow.code).toBe(0);
      expect(shadow.stderr).toContain(`debug1: 127.0.0.2: connecting to ${fleet.user}@127.0.0.2:${port} (host from fleet.txt:1)`);
      expect(shadow.stderr).toContain(`debug1: 127.0.0.2: exec: export API_TOKEN='***'`);
      expect(`${shadow.stdout}\n${shadow.stderr}`).not.toContain(SECRET);
    } finally {
      await rm(join(work, "opskit.yaml"), { force: true });
    }
  }, 60_000);
});
