import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { refusedPort } from "./net.ts";

// A fleet of real OpenSSH servers on loopback: host N listens on 127.0.0.(N+1)
// and one shared port. sshd takes at most 16 ListenAddress lines, so one sshd
// serves each group of 16 hosts; a host that is stopped or re-keyed leaves
// its group (the group's sshd re-reads its config on SIGHUP, keeping open
// connections) and, re-keyed, gets an sshd of its own.
//
// Sessions log in as the dedicated user `opskit-test` (created once, as
// root, with a plain home and /bin/sh as login shell), not as root: root's
// ~/.bashrc here runs `pyenv init`, whose lock serialises concurrent logins.

const SSHD = "/usr/sbin/sshd";
const TEST_USER = "opskit-test";
const GROUP_SIZE = 16;

export interface FleetHost {
  name: string;
  address: string;
  port: number;
}

export interface FleetOptions {
  size: number;
  /** Write the pre-filled known_hosts with hashed names (ssh-keygen -H). */
  hashKnownHosts?: boolean;
  /** Extra sshd_config lines for every server. */
  sshdConfig?: string[];
}

export interface Fleet {
  hosts: FleetHost[];
  user: string;
  /** ed25519 private key without passphrase, authorised on every host. */
  identityFile: string;
  /** Pre-filled with every host's key. */
  knownHostsFile: string;
  /** The fleet's host public key line ("ssh-ed25519 AAAA..."). */
  hostPublicKey: string;
  dir: string;
  host(name: string): FleetHost;
  stop(): Promise<void>;
  /** Stops listening on the host's address: connecting is refused. */
  stopHost(name: string): Promise<void>;
  /** Brings a stopped host back with the key it had. */
  startHost(name: string): Promise<void>;
  /** Restarts the host with a new host key, or with the fleet's original one. */
  restartHostWithNewKey(name: string, options?: { restoreOriginal?: boolean }): Promise<void>;
}

interface Server {
  config: string;
  process: Subprocess<"ignore", "ignore", "pipe"> | undefined;
  log: string[];
}

interface HostState {
  host: FleetHost;
  group: number;
  hostKey: string;
  running: boolean;
  /** Its own sshd, once it runs with a key other than the fleet's. */
  own: Server | undefined;
}

function run(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (!result.success) throw new Error(`${argv.join(" ")} failed: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

/**
 * The test user, created if missing. Its password field is set to `*`:
 * useradd leaves `!` (locked), and sshd without PAM refuses locked accounts
 * even for key logins.
 */
export function ensureTestUser(): string {
  if (Bun.spawnSync(["id", "-u", TEST_USER]).success) {
    const status = Bun.spawnSync(["passwd", "-S", TEST_USER], { stdout: "pipe" }).stdout.toString().split(/\s+/)[1];
    if (status !== "L") return TEST_USER;
  } else {
    if (process.getuid?.() !== 0) throw new Error(`user ${TEST_USER} is missing and only root can create it: useradd -m -s /bin/sh ${TEST_USER}`);
    run(["useradd", "-m", "-s", "/bin/sh", TEST_USER]);
  }
  run(["usermod", "-p", "*", TEST_USER]);
  return TEST_USER;
}

/** Child process ids, from /proc (no procps needed). */
async function childrenOf(parent: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // Fields after the parenthesised command name: state, ppid, ...
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === parent) children.push(Number(entry));
  }
  return children;
}

function addressOf(index: number): string {
  const n = index + 2;
  return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

async function canConnect(address: string, port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: address, port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, condition: () => Promise<boolean>, server?: Server, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    if (server?.process && server.process.exitCode !== null) throw new Error(`sshd exited while waiting for ${what}: ${server.log.join("").trim()}`);
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${server ? `: ${server.log.join("").trim()}` : ""}`);
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  if (!(await Bun.file(SSHD).exists())) throw new Error(`${SSHD} not found: install openssh-server (sh scripts/setup.sh does)`);
  if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`fleet size must be a positive integer, got ${options.size}`);
  const user = ensureTestUser();
  // sshd insists on its privilege-separation directory.
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(join(tmpdir(), "opskit-fleet-"));
  // sshd reads AuthorizedKeysFile as the logged-in user: the test user must be able to reach it.
  await chmod(dir, 0o755);
  const fleetKey = join(dir, "host_ed25519");
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "opskit-fleet", "-f", fleetKey]);
  const identityFile = join(dir, "user_ed25519");
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "opskit-test", "-f", identityFile]);
  const authorizedKeys = join(dir, "authorized_keys");
  await writeFile(authorizedKeys, await readFile(`${identityFile}.pub`));
  await chmod(authorizedKeys, 0o644);
  const hostPublicKey = (await readFile(`${fleetKey}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");

  const digits = Math.max(2, String(options.size).length);
  let port = 0;
  const states: HostState[] = [];
  const groups: Server[] = [];
  const extra = options.sshdConfig ?? [];

  const configText = (addresses: string[], hostKey: string, pidFile: string) =>
    [
      ...addresses.map((address) => `ListenAddress ${address}:${port}`),
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${user}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "MaxStartups 200:30:400",
      "MaxSessions 100",
      "Subsystem sftp internal-sftp",
      "LogLevel ERROR",
      ...extra,
    ].join("\n") + "\n";

  const spawn = (server: Server) => {
    const child = Bun.spawn([SSHD, "-D", "-e", "-f", server.config], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    server.process = child;
    server.log = [];
    // Keep reading sshd's log so a chatty server never blocks on a full pipe.
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) server.log.push(decoder.decode(chunk));
    })().catch(() => undefined);
  };

  const stopServer = async (server: Server) => {
    const child = server.process;
    server.process = undefined;
    if (!child || child.exitCode !== null) return;
    // The per-connection sshd processes are its children; end them too.
    const children = await childrenOf(child.pid);
    child.kill("SIGTERM");
    for (const pid of children) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
    await child.exited;
  };

  /** Rewrites a group's config for the hosts it serves now and makes its sshd follow. */
  const reloadGroup = async (group: number) => {
    const server = groups[group]!;
    const members = states.filter((s) => s.group === group && s.running && !s.own).map((s) => s.host.address);
    if (members.length === 0) return stopServer(server);
    await writeFile(server.config, configText(members, fleetKey, `${server.config}.pid`));
    if (server.process && server.process.exitCode === null) {
      // sshd re-executes itself on SIGHUP with the new config; sessions stay up.
      server.process.kill("SIGHUP");
    } else {
      spawn(server);
    }
  };

  for (let attempt = 0; ; attempt++) {
    port = await refusedPort();
    for (let index = 0; index < options.size; index++) {
      states[index] = {
        host: { name: `host-${String(index + 1).padStart(digits, "0")}`, address: addressOf(index), port },
        group: Math.floor(index / GROUP_SIZE),
        hostKey: fleetKey,
        running: true,
        own: undefined,
      };
    }
    for (let group = 0; group * GROUP_SIZE < options.size; group++) {
      groups[group] = { config: join(dir, `sshd-group-${group}.conf`), process: undefined, log: [] };
      await reloadGroup(group);
    }
    try {
      for (const state of states) await waitFor(`${state.host.address}:${port}`, () => canConnect(state.host.address, port), groups[state.group]);
      break;
    } catch (error) {
      // Most likely the port was taken on one of the addresses meanwhile: try another.
      for (const server of groups) await stopServer(server);
      if (attempt >= 2) throw error;
    }
  }

  const knownHostsFile = join(dir, "known_hosts");
  await writeFile(knownHostsFile, states.map((s) => `[${s.host.address}]:${port} ${hostPublicKey}\n`).join(""));
  if (options.hashKnownHosts) {
    run(["ssh-keygen", "-q", "-H", "-f", knownHostsFile]);
    await rm(`${knownHostsFile}.old`, { force: true });
  }

  const stateOf = (name: string) => {
    const state = states.find((s) => s.host.name === name);
    if (!state) throw new Error(`no host ${name} in the fleet`);
    return state;
  };

  const stopHost = async (name: string) => {
    const state = stateOf(name);
    if (!state.running) return;
    state.running = false;
    if (state.own) {
      await stopServer(state.own);
      state.own = undefined;
    } else {
      await reloadGroup(state.group);
    }
    await waitFor(`${state.host.address}:${port} to refuse connections`, async () => !(await canConnect(state.host.address, port)));
    // The group's other hosts come back once sshd has re-executed.
    for (const other of states.filter((s) => s.group === state.group && s.running && !s.own)) {
      await waitFor(`${other.host.address}:${port}`, () => canConnect(other.host.address, port), groups[state.group]);
    }
  };

  const startHost = async (name: string) => {
    const state = stateOf(name);
    if (state.running) return;
    state.running = true;
    let server: Server;
    if (state.hostKey === fleetKey) {
      server = groups[state.group]!;
      await reloadGroup(state.group);
    } else {
      server = { config: join(dir, `sshd-${state.host.name}.conf`), process: undefined, log: [] };
      await writeFile(server.config, configText([state.host.address], state.hostKey, `${server.config}.pid`));
      state.own = server;
      spawn(server);
    }
    await waitFor(`${state.host.address}:${port}`, () => canConnect(state.host.address, port), server);
  };

  return {
    hosts: states.map((s) => s.host),
    user,
    identityFile,
    knownHostsFile,
    hostPublicKey,
    dir,
    host: (name) => stateOf(name).host,
    stopHost,
    startHost,
    async restartHostWithNewKey(name, restart = {}) {
      const state = stateOf(name);
      await stopHost(name);
      if (restart.restoreOriginal) {
        state.hostKey = fleetKey;
      } else {
        state.hostKey = join(dir, `host_ed25519-${state.host.name}-${Date.now()}`);
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", state.host.name, "-f", state.hostKey]);
      }
      await startHost(name);
    },
    async stop() {
      for (const state of states) if (state.own) await stopServer(state.own);
      for (const server of groups) await stopServer(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The opening of an opskit.yaml that reaches the fleet: defaults to log in
 * as the test user with its key and the pre-filled known_hosts, and an
 * inventory with one line per host (`labels` gives each host's labels).
 */
export function fleetConfigLines(fleet: Fleet, options: { labels?: (host: FleetHost, index: number) => Record<string, string>; hosts?: FleetHost[] } = {}): string[] {
  const hosts = (options.hosts ?? fleet.hosts).map((host, index) => {
    const labels = options.labels?.(host, index);
    const labelText = labels ? `, labels: { ${Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(", ")} }` : "";
    return `    ${host.name}: { address: ${host.address}, port: ${host.port}${labelText} }`;
  });
  return ["defaults:", `  user: ${fleet.user}`, `  key: ${fleet.identityFile}`, `  knownHosts: ${fleet.knownHostsFile}`, "  hostKeyChecking: strict", "  connectTimeout: 5s", "inventory:", "  hosts:", ...hosts];
}
