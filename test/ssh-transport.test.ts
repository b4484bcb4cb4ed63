import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runPool } from "../src/engine/index.ts";
import { OpsError } from "../src/errors.ts";
import { CommandStoppedError, type ExecOptions, type SshEndpoint, type SshPool } from "../src/transport/ssh/index.ts";
import { startFleet, type Fleet, type FleetHost } from "./harness/fleet.ts";
import { startHangServer } from "./harness/net.ts";
import { fleetEndpoint, fleetPool } from "./harness/ssh-pool.ts";

// The SSH transport against real OpenSSH servers: a fleet of sshd processes
// on 127.0.0.2... (test/harness/fleet.ts), logging in as the test user.

let fleet: Fleet;
let scratch: string;
const never = new AbortController().signal;

beforeAll(async () => {
  fleet = await startFleet({ size: 10 });
  scratch = await mkdtemp(join(tmpdir(), "opskit-ssh-test-"));
});

afterAll(async () => {
  await fleet?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const endpoint = (host: FleetHost, overrides: Partial<SshEndpoint> = {}) => fleetEndpoint(fleet, host, overrides);

const run = (overrides: Partial<ExecOptions> = {}): ExecOptions => ({ timeoutMs: 10_000, signal: never, maxOutputBytes: 64 * 1024, ...overrides });

/** Runs `work` for every host through the engine's bounded pool; outcomes in host order. */
async function acrossFleet<R>(hosts: FleetHost[], work: (host: FleetHost) => Promise<R>, concurrency = 16) {
  const outcomes: Array<{ value: R } | { error: unknown }> = new Array(hosts.length);
  for await (const outcome of runPool(hosts, (host) => work(host), { concurrency })) {
    outcomes[outcome.index] = "error" in outcome ? { error: outcome.error } : { value: outcome.value };
  }
  return outcomes;
}

async function failure(promise: Promise<unknown>): Promise<OpsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OpsError);
    return error as OpsError;
  }
  throw new Error("expected a rejection");
}

/** Whether a process whose command line matches is running (read from /proc). */
function processRunning(pattern: string): boolean {
  const matcher = new RegExp(pattern);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matcher.test(readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " "))) return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}

/** Whether process `pid` is still there (not yet reaped). */
function existsPid(pid: string): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await Bun.sleep(50);
  }
  return condition();
}

describe("exec", () => {
  let pool: SshPool;
  beforeAll(() => {
    pool = fleetPool(fleet);
  });
  afterAll(async () => {
    await pool.close();
  });

  test("runs on every host of a 10-host fleet in parallel, each on its own address, as the login user, with its own exit code", async () => {
    const outcomes = await acrossFleet(fleet.hosts, async (host) => {
      const session = await pool.session(endpoint(host), never);
      const index = fleet.hosts.indexOf(host);
      return session.exec(`hostname; echo "$USER"; echo "$SSH_CONNECTION"; exit ${index}`, run());
    });
    outcomes.forEach((outcome, index) => {
      if (!("value" in outcome)) throw outcome.error;
      const [hostname, user, connection] = outcome.value.stdout.trim().split("\n");
      expect(hostname).toBeTruthy();
      expect(user).toBe(fleet.user);
      // SSH_CONNECTION is "client-ip client-port server-ip server-port".
      expect(connection!.split(" ").slice(2)).toEqual([fleet.hosts[index]!.address, String(fleet.hosts[index]!.port)]);
      expect(outcome.value.exitCode).toBe(index);
    });
    expect(pool.openCount()).toBe(fleet.hosts.length);
  });

  test("keeps stdout and stderr apart and keeps the tail of each when over maxOutputBytes", async () => {
    const session = await pool.session(endpoint(fleet.hosts[0]!), never);
    const small = await session.exec("echo out; echo err >&2; echo out2", run());
    expect(small.stdout).toBe("out\nout2\n");
    expect(small.stderr).toBe("err\n");
    expect(small.truncated).toBe(false);

    const streamed: string[] = [];
    const big = await session.exec("seq 1 20000; seq 1 5 >&2", run({ maxOutputBytes: 100, onStdout: (chunk) => streamed.push(chunk) }));
    expect(big.truncated).toBe(true);
    expect(big.stdout.length).toBeLessThanOrEqual(100);
    expect(big.stdout.endsWith("19999\n20000\n")).toBe(true);
    expect(big.stderr).toBe("1\n2\n3\n4\n5\n");
    // The live callback still saw everything.
    expect(streamed.join("").split("\n").length).toBe(20001);
  });

  test("a non-zero exit is a result, not an error, and a signal death is reported", async () => {
    const session = await pool.session(endpoint(fleet.hosts[1]!), never);
    const failed = await session.exec("echo partial; exit 42", run());
    expect(failed.exitCode).toBe(42);
    expect(failed.stdout).toBe("partial\n");
    const killed = await session.exec("kill -s KILL $$", run());
    expect(killed.exitCode).toBeNull();
    expect(killed.signal).toBe("SIGKILL");
  });

  test("a command that runs past its timeout is killed with its children and fails with E_SSH_COMMAND_TIMEOUT", async () => {
    const session = await pool.session(endpoint(fleet.hosts[2]!), never);
    const started = performance.now();
    const error = await failure(session.exec("sleep 37.101 & sleep 37.102; echo never", run({ timeoutMs: 300 })));
    expect(error.code).toBe("E_SSH_COMMAND_TIMEOUT");
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain("command timed out after 300ms");
    expect(error.message).toContain(fleet.hosts[2]!.name);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await waitUntil(() => !processRunning("sleep 37.10[12]"))).toBe(true);
  });

  test("aborting the signal mid-command kills it and fails with E_INTERRUPTED (exit 130)", async () => {
    const session = await pool.session(endpoint(fleet.hosts[3]!), never);
    const controller = new AbortController();
    const seen: string[] = [];
    const pending = session.exec("echo started; sleep 38.201", run({ signal: controller.signal, onStdout: (chunk) => seen.push(chunk) }));
    expect(await waitUntil(() => seen.join("").includes("started"))).toBe(true);
    const started = performance.now();
    controller.abort();
    const error = await failure(pending);
    expect(error.code).toBe("E_INTERRUPTED");
    expect(error.exitCode).toBe(130);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await waitUntil(() => !processRunning("sleep 38.201"))).toBe(true);
  });

  test("delivers stdin, text or bytes, and closes it so readers finish", async () => {
    const session = await pool.session(endpoint(fleet.hosts[4]!), never);
    const text = await session.exec("wc -l; cat >/dev/null", run({ stdin: "a\nb\nc\n" }));
    expect(text.stdout.trim()).toBe("3");
    const bytes = new Uint8Array([0, 1, 2, 255, 10]);
    const binary = await session.exec("od -An -tu1", run({ stdin: bytes }));
    expect(binary.stdout.trim().split(/\s+/)).toEqual(["0", "1", "2", "255", "10"]);
    const none = await session.exec("cat; echo done", run());
    expect(none.stdout).toBe("done\n");
  });

  test("passes hostile strings through verbatim: the remote shell sees exactly what the caller quoted", async () => {
    const session = await pool.session(endpoint(fleet.hosts[5]!), never);
    const flag = join("/tmp", `opskit-pwned-${crypto.randomUUID()}`);
    const command = `printf '%s|' 'it'"'"'s' '$(touch ${flag})' '\`touch ${flag}\`' 'a;b&&c' "tab\there" 'é 😀' '\\n'`;
    const result = await session.exec(command, run());
    expect(result.stdout).toBe(`it's|$(touch ${flag})|\`touch ${flag}\`|a;b&&c|tab\there|é 😀|\\n|`);
    expect(await Bun.file(flag).exists()).toBe(false);
  });

  test("many execs share one connection per host", async () => {
    const own = fleetPool(fleet);
    try {
      const hosts = fleet.hosts.slice(0, 3);
      const jobs = hosts.flatMap((host) => Array.from({ length: 12 }, () => host));
      const outcomes = await acrossFleet(jobs, async (host) => {
        const session = await own.session(endpoint(host), never);
        // The parent of the command is the sshd process that serves the connection.
        return (await session.exec("echo $PPID", run())).stdout.trim();
      }, 36);
      expect(own.openCount()).toBe(3);
      hosts.forEach((_, h) => {
        const parents = new Set(outcomes.slice(h * 12, h * 12 + 12).map((o) => ("value" in o ? o.value : "failed")));
        expect(parents.size).toBe(1);
      });
    } finally {
      await own.close();
    }
    expect(own.openCount()).toBe(0);
    expect((await failure(own.session(endpoint(fleet.hosts[0]!), never))).code).toBe("E_SSH_POOL_CLOSED");
  });

  test("a connection ends once every session on it was released, and a later session dials again", async () => {
    const own = fleetPool(fleet);
    try {
      const host = fleet.hosts[8]!;
      const first = await own.session(endpoint(host), never);
      const second = await own.session(endpoint(host), never);
      // $PPID of a command is the sshd process that serves this one connection.
      const server = (await first.exec("echo $PPID", run())).stdout.trim();
      first.release();
      first.release();
      expect(own.openCount()).toBe(1);
      expect((await second.exec("echo $PPID", run())).stdout.trim()).toBe(server);
      second.release();
      expect(own.openCount()).toBe(0);
      expect(await waitUntil(() => !existsPid(server))).toBe(true);
      const again = await own.session(endpoint(host), never);
      const next = (await again.exec("echo $PPID", run())).stdout.trim();
      expect(next).not.toBe(server);
      expect(own.openCount()).toBe(1);
    } finally {
      await own.close();
    }
  });

  test("a dropped connection fails in-flight work with E_SSH_DISCONNECTED and the pool dials again", async () => {
    const own = fleetPool(fleet);
    try {
      const host = fleet.hosts[9]!;
      const session = await own.session(endpoint(host), never);
      // $PPID of a command is the sshd process that serves this one connection.
      const server = Number((await session.exec("echo $PPID", run())).stdout.trim());
      const pending = session.exec("sleep 3.401", run());
      await Bun.sleep(200);
      process.kill(server, "SIGKILL");
      const error = await failure(pending);
      expect(error.code).toBe("E_SSH_DISCONNECTED");
      expect(error.exitCode).toBe(1);
      expect(await waitUntil(() => own.openCount() === 0)).toBe(true);
      expect((await failure(session.exec("true", run()))).code).toBe("E_SSH_DISCONNECTED");
      const again = await own.session(endpoint(host), never);
      expect((await again.exec("echo back", run())).stdout).toBe("back\n");
      expect(own.openCount()).toBe(1);
    } finally {
      await own.close();
    }
  });

  test("channels past maxChannelsPerConnection wait for a free one instead of being refused by MaxSessions", async () => {
    const small = await startFleet({ size: 1, sshdConfig: ["MaxSessions 2"] });
    const own = fleetPool(small, { maxChannelsPerConnection: 2 });
    try {
      const host = small.hosts[0]!;
      const target = fleetEndpoint(small, host);
      const outcomes = await acrossFleet(Array.from({ length: 6 }, () => host), async () => {
        const session = await own.session(target, never);
        return session.exec("sleep 0.2; echo ok", run());
      });
      expect(outcomes.map((o) => ("value" in o ? o.value.stdout : String((o as { error: unknown }).error)))).toEqual(Array(6).fill("ok\n"));
    } finally {
      await own.close();
      await small.stop();
    }
  });
});

describe("connecting", () => {
  test("a host that is down fails with E_SSH_CONNECT naming host:port while the others succeed", async () => {
    const pool = fleetPool(fleet);
    const down = fleet.hosts[6]!;
    await fleet.stopHost(down.name);
    try {
      const hosts = fleet.hosts.slice(5, 9);
      const outcomes = await acrossFleet(hosts, async (host) => (await pool.session(endpoint(host), never)).exec("echo up", run()));
      outcomes.forEach((outcome, index) => {
        if (hosts[index] === down) {
          expect("error" in outcome).toBe(true);
          const error = (outcome as { error: OpsError }).error;
          expect(error.code).toBe("E_SSH_CONNECT");
          expect(error.exitCode).toBe(1);
          expect(error.message).toContain(`${down.address}:${down.port}`);
          expect(error.message).toContain("connection refused");
        } else {
          expect("value" in outcome && outcome.value.stdout).toBe("up\n");
        }
      });
    } finally {
      await pool.close();
      await fleet.startHost(down.name);
    }
  });

  test("a server that never answers fails with E_SSH_TIMEOUT for the connect phase", async () => {
    const hang = await startHangServer();
    const pool = fleetPool(fleet, { connectTimeoutMs: 300 });
    try {
      const started = performance.now();
      const error = await failure(pool.session({ ...endpoint(fleet.hosts[0]!), name: "silent", host: "127.0.0.1", port: hang.port }, never));
      expect(error.code).toBe("E_SSH_TIMEOUT");
      expect(error.exitCode).toBe(1);
      expect(error.message).toContain("connecting (TCP and SSH key exchange)");
      expect(error.message).toContain("timed out after 300ms");
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await pool.close();
      await hang.stop();
    }
  });

  test("a server that stalls authentication fails with E_SSH_TIMEOUT for the auth phase", async () => {
    // sshd runs the command for a key its AuthorizedKeysFile lacks: authentication
    // hangs after a complete key exchange.
    const slow = await startFleet({ size: 1, sshdConfig: ["AuthorizedKeysCommand /bin/sleep 5", "AuthorizedKeysCommandUser nobody"] });
    const pool = fleetPool(slow, { authTimeoutMs: 300 });
    const unknownKey = join(scratch, "unlisted_ed25519");
    Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", unknownKey]);
    try {
      const started = performance.now();
      const error = await failure(pool.session(fleetEndpoint(slow, slow.hosts[0]!, { identityFiles: [unknownKey] }), never));
      expect(error.code).toBe("E_SSH_TIMEOUT");
      expect(error.message).toContain("authentication to");
      expect(error.message).toContain("timed out after 300ms");
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await pool.close();
      await slow.stop();
    }
  });

  test("aborting while connecting fails with E_INTERRUPTED", async () => {
    const hang = await startHangServer();
    const pool = fleetPool(fleet);
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const error = await failure(pool.session({ ...endpoint(fleet.hosts[0]!), host: "127.0.0.1", port: hang.port }, controller.signal));
      expect(error.code).toBe("E_INTERRUPTED");
      expect(error.exitCode).toBe(130);
    } finally {
      await pool.close();
      await hang.stop();
    }
  });

  test("a key the host does not accept fails with E_SSH_AUTH naming the user and the keys tried", async () => {
    const wrongKey = join(scratch, "wrong_ed25519");
    Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
    const pool = fleetPool(fleet);
    try {
      const error = await failure(pool.session(endpoint(fleet.hosts[0]!, { identityFiles: [wrongKey] }), never));
      expect(error.code).toBe("E_SSH_AUTH");
      expect(error.exitCode).toBe(1);
      expect(error.message).toContain(`as ${fleet.user}`);
      expect(error.message).toContain(wrongKey);
      expect(error.hint).toContain("authorized_keys");
    } finally {
      await pool.close();
    }
  });

  test("a missing or passphrase-protected key file is a clear E_SSH_KEY error", async () => {
    const encrypted = join(scratch, "encrypted_ed25519");
    Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", encrypted]);
    const pool = fleetPool(fleet);
    try {
      const missing = await failure(pool.session(endpoint(fleet.hosts[0]!, { identityFiles: [join(scratch, "nope")] }), never));
      expect(missing.code).toBe("E_SSH_KEY");
      expect(missing.message).toContain("does not exist");
      const locked = await failure(pool.session(endpoint(fleet.hosts[0]!, { identityFiles: [encrypted] }), never));
      expect(locked.code).toBe("E_SSH_KEY");
      expect(locked.message).toContain("encrypted");
      expect(locked.hint).toContain("ssh-add");
    } finally {
      await pool.close();
    }
  });

  test("ssh-agent keys are used when useAgent is set, also for an encrypted key file the agent holds", async () => {
    const socket = join(scratch, "agent.sock");
    const agent = Bun.spawn(["ssh-agent", "-D", "-a", socket], { stdout: "ignore", stderr: "ignore" });
    const encrypted = join(scratch, "agent_ed25519");
    try {
      await waitUntil(() => Bun.spawnSync(["test", "-S", socket]).success);
      Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", encrypted]);
      // The agent gets the fleet's key; the encrypted file is offered to no one.
      const added = Bun.spawnSync(["ssh-add", fleet.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stderr: "pipe" });
      expect(added.success).toBe(true);
      const pool = fleetPool(fleet, { agentSocket: socket });
      try {
        const viaAgent = await pool.session(endpoint(fleet.hosts[0]!, { identityFiles: [encrypted], useAgent: true }), never);
        expect((await viaAgent.exec("echo agent", run())).stdout).toBe("agent\n");
      } finally {
        await pool.close();
      }
    } finally {
      agent.kill();
      await agent.exited;
    }
  });
});

describe("host keys", () => {
  test("a changed host key is refused with E_SSH_HOSTKEY_CHANGED, also with accept-new, and known_hosts is left alone", async () => {
    const victim = fleet.hosts[7]!;
    await fleet.restartHostWithNewKey(victim.name);
    const before = await readFile(fleet.knownHostsFile, "utf8");
    try {
      for (const mode of ["accept-new", "strict"] as const) {
        const pool = fleetPool(fleet, { hostKeyChecking: mode });
        try {
          const error = await failure(pool.session(endpoint(victim), never));
          expect(error.code).toBe("E_SSH_HOSTKEY_CHANGED");
          expect(error.exitCode).toBe(1);
          const line = before.split("\n").findIndex((l) => l.startsWith(`[${victim.address}]:${victim.port} `)) + 1;
          expect(error.message).toContain(`${fleet.knownHostsFile}:${line}`);
          expect(error.message.match(/SHA256:[A-Za-z0-9+/]{43}/g)).toHaveLength(2);
          expect(error.hint).toContain(`ssh-keygen -R '[${victim.address}]:${victim.port}'`);
        } finally {
          await pool.close();
        }
      }
      expect(await readFile(fleet.knownHostsFile, "utf8")).toBe(before);
    } finally {
      await fleet.restartHostWithNewKey(victim.name, { restoreOriginal: true });
    }
  });

  test("an unknown host is accepted with accept-new and its key appended to known_hosts", async () => {
    const knownHostsFile = join(scratch, "learned_known_hosts");
    await writeFile(knownHostsFile, "# kept\n");
    const host = fleet.hosts[8]!;
    const learning = fleetPool(fleet, { knownHostsFile, hostKeyChecking: "accept-new" });
    try {
      const session = await learning.session(endpoint(host), never);
      expect((await session.exec("echo hi", run())).stdout).toBe("hi\n");
    } finally {
      await learning.close();
    }
    expect(await readFile(knownHostsFile, "utf8")).toBe(`# kept\n[${host.address}]:${host.port} ${fleet.hostPublicKey}\n`);
    // What was learned is now trusted strictly.
    const strict = fleetPool(fleet, { knownHostsFile, hostKeyChecking: "strict" });
    try {
      await strict.session(endpoint(host), never);
    } finally {
      await strict.close();
    }
  });

  test("an unknown host is refused with E_SSH_HOSTKEY_UNKNOWN in strict mode", async () => {
    const knownHostsFile = join(scratch, "empty_known_hosts");
    await writeFile(knownHostsFile, "");
    const pool = fleetPool(fleet, { knownHostsFile, hostKeyChecking: "strict" });
    try {
      const error = await failure(pool.session(endpoint(fleet.hosts[0]!), never));
      expect(error.code).toBe("E_SSH_HOSTKEY_UNKNOWN");
      expect(error.exitCode).toBe(1);
      expect(error.hint).toContain("accept-new");
      expect(await readFile(knownHostsFile, "utf8")).toBe("");
    } finally {
      await pool.close();
    }
  });

  test("hashed known_hosts entries (ssh-keygen -H) are matched", async () => {
    const knownHostsFile = join(scratch, "hashed_known_hosts");
    await copyFile(fleet.knownHostsFile, knownHostsFile);
    expect(Bun.spawnSync(["ssh-keygen", "-q", "-H", "-f", knownHostsFile]).success).toBe(true);
    expect(await readFile(knownHostsFile, "utf8")).toStartWith("|1|");
    const pool = fleetPool(fleet, { knownHostsFile, hostKeyChecking: "strict" });
    try {
      await pool.session(endpoint(fleet.hosts[9]!), never);
    } finally {
      await pool.close();
    }
  });
});

describe("RemoteShell", () => {
  let pool: SshPool;
  beforeAll(() => {
    pool = fleetPool(fleet);
  });
  afterAll(async () => {
    await pool.close();
  });

  test("runs 5 commands over one shell with separate exit codes, stdout and stderr", async () => {
    const session = await pool.session(endpoint(fleet.hosts[0]!), never);
    const shell = await session.shell();
    try {
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await shell.run(`echo out-${i}; echo err-${i} >&2; echo $$; exit ${i}`, run()));
      results.forEach((result, i) => {
        expect(result.exitCode).toBe(i);
        expect(result.stdout.split("\n").slice(0, 1)).toEqual([`out-${i}`]);
        expect(result.stderr).toBe(`err-${i}\n`);
      });
      // One shell: $$ in each run's subshell is the same remote /bin/sh.
      expect(new Set(results.map((r) => r.stdout.split("\n")[1])).size).toBe(1);
    } finally {
      shell.close();
    }
  });

  test("output that looks like a marker, without a trailing newline, or from a leftover background job cannot confuse it", async () => {
    const session = await pool.session(endpoint(fleet.hosts[1]!), never);
    const shell = await session.shell();
    try {
      const fake = "<opskit:E:00000000000000000000000000000000>0.<opskit:S:00000000000000000000000000000000>";
      const first = await shell.run(`printf '%s' '${fake}'; printf '%s' '${fake}' >&2; exit 3`, run());
      expect(first).toMatchObject({ exitCode: 3, stdout: fake, stderr: fake });
      const second = await shell.run("printf 'no newline'", run());
      expect(second).toMatchObject({ exitCode: 0, stdout: "no newline", stderr: "" });
      // The job writes after its run ended: that output belongs to no run.
      const third = await shell.run("(sleep 0.3; echo late) &", run());
      expect(third.stdout).toBe("");
      await Bun.sleep(500);
      const fourth = await shell.run("echo fourth; cat", run({ stdin: "x'y\\z é\u0000end" }));
      expect(fourth.stdout).toBe("fourth\nx'y\\z é\u0000end");
    } finally {
      shell.close();
    }
  });

  test("passes hostile strings through verbatim", async () => {
    const session = await pool.session(endpoint(fleet.hosts[2]!), never);
    const shell = await session.shell();
    try {
      const flag = join("/tmp", `opskit-pwned-${crypto.randomUUID()}`);
      const command = `printf '%s|' 'it'"'"'s' '$(touch ${flag})' '\`touch ${flag}\`' 'a;b&&c' 'é 😀' '\\n'; exit 0; echo not-reached`;
      const result = await shell.run(command, run());
      expect(result.stdout).toBe(`it's|$(touch ${flag})|\`touch ${flag}\`|a;b&&c|é 😀|\\n|`);
      expect(await Bun.file(flag).exists()).toBe(false);
      // `exit` ended the command, not the shell.
      expect((await shell.run("echo alive", run())).stdout).toBe("alive\n");
    } finally {
      shell.close();
    }
  });

  test("a command that times out or is aborted is killed with its children, and the next run starts a fresh shell", async () => {
    const session = await pool.session(endpoint(fleet.hosts[3]!), never);
    const shell = await session.shell();
    try {
      const before = (await shell.run("echo $$", run())).stdout;
      const started = performance.now();
      const error = await failure(shell.run("sleep 39.301 & sleep 39.302", run({ timeoutMs: 300 })));
      expect(error.code).toBe("E_SSH_COMMAND_TIMEOUT");
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain("command timed out after 300ms");
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(await waitUntil(() => !processRunning("sleep 39.30[12]"))).toBe(true);
      const after = await shell.run("echo $$", run());
      expect(after.exitCode).toBe(0);
      expect(after.stdout).not.toBe(before);
      const controller = new AbortController();
      const pending = shell.run("sleep 39.303", run({ signal: controller.signal }));
      setTimeout(() => controller.abort(), 200);
      const interrupted = await failure(pending);
      expect(interrupted.code).toBe("E_INTERRUPTED");
      expect(interrupted.exitCode).toBe(130);
      expect(await waitUntil(() => !processRunning("sleep 39.303"))).toBe(true);
      expect((await shell.run("echo again", run())).stdout).toBe("again\n");
    } finally {
      shell.close();
    }
  });
});

describe("stopping commands where sshd refuses signal requests", () => {
  // sshd refuses signal requests for ForceCommand sessions (a common audit
  // wrapper), as other servers ignore them: a timed-out or aborted command is
  // stopped through its process group, by kill on a second channel.
  let forced: Fleet;
  let pool: SshPool;
  beforeAll(async () => {
    forced = await startFleet({ size: 1, sshdConfig: ['ForceCommand eval "$SSH_ORIGINAL_COMMAND"'] });
    pool = fleetPool(forced);
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
    await forced?.stop();
  });

  const session = () => pool.session(fleetEndpoint(forced, forced.hosts[0]!), never);
  /** A sleep duration no other test or run uses, so pgrep-style checks find only this run's processes. */
  const uniqueSleep = () => `30.${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;

  test("exec: a timed-out command and its background child are gone, the timeout is reported within a second of the deadline with the output so far", async () => {
    const s = await session();
    const sleep = uniqueSleep();
    const started = performance.now();
    const error = await failure(s.exec(`echo before; echo warn >&2; sleep ${sleep}1 & sleep ${sleep}2`, run({ timeoutMs: 1_000 })));
    const lateMs = performance.now() - started - 1_000;
    expect(error.code).toBe("E_SSH_COMMAND_TIMEOUT");
    expect(error.message).toContain("command timed out after 1s");
    expect(lateMs).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(CommandStoppedError);
    expect((error as CommandStoppedError).output).toMatchObject({ stdout: "before\n", stderr: "warn\n", exitCode: null });
    // TERM reached the whole group before the failure was reported.
    expect(await waitUntil(() => !processRunning(`sleep ${sleep}[12]`), 500)).toBe(true);
    // The connection is still good for the next command.
    expect((await s.exec("echo next", run())).stdout).toBe("next\n");
  });

  test("RemoteShell: a timed-out run and its background child are gone, reported within a second of the deadline, and the next run gets a new shell", async () => {
    const shell = await (await session()).shell();
    try {
      const before = (await shell.run("echo $$", run())).stdout;
      const sleep = uniqueSleep();
      const started = performance.now();
      const error = await failure(shell.run(`echo before; sleep ${sleep}1 & sleep ${sleep}2`, run({ timeoutMs: 1_000 })));
      const lateMs = performance.now() - started - 1_000;
      expect(error.code).toBe("E_SSH_COMMAND_TIMEOUT");
      expect(lateMs).toBeLessThan(1_000);
      expect((error as CommandStoppedError).output.stdout).toBe("before\n");
      expect(await waitUntil(() => !processRunning(`sleep ${sleep}[12]`), 500)).toBe(true);
      const after = await shell.run("echo $$", run());
      expect(after.exitCode).toBe(0);
      expect(after.stdout).not.toBe(before);
    } finally {
      shell.close();
    }
  });

  test("aborting mid-command stops its process group over exec and over RemoteShell (E_INTERRUPTED)", async () => {
    const s = await session();
    for (const runner of [(command: string, options: ExecOptions) => s.exec(command, options), async (command: string, options: ExecOptions) => (await s.shell()).run(command, options)]) {
      const sleep = uniqueSleep();
      const controller = new AbortController();
      const seen: string[] = [];
      const pending = runner(`echo started; sleep ${sleep}`, run({ signal: controller.signal, onStdout: (chunk) => seen.push(chunk) }));
      expect(await waitUntil(() => seen.join("").includes("started"))).toBe(true);
      const started = performance.now();
      controller.abort();
      const error = await failure(pending);
      expect(error.code).toBe("E_INTERRUPTED");
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(await waitUntil(() => !processRunning(`sleep ${sleep}`), 500)).toBe(true);
    }
  });

  test("a command whose channel was still opening when the caller gave up is stopped too", async () => {
    const s = await session();
    const sleep = uniqueSleep();
    const controller = new AbortController();
    const pending = s.exec(`sleep ${sleep}`, run({ signal: controller.signal }));
    // The open request is out (the slot is taken on the next tick) but the channel is not open yet.
    await Bun.sleep(0);
    controller.abort();
    expect((await failure(pending)).code).toBe("E_INTERRUPTED");
    // The next command on the host waits until the stop has signalled what it stops.
    await s.exec("true", run());
    expect(processRunning(`sleep ${sleep}`)).toBe(false);
    // Long enough for a command that was left running to have started.
    await Bun.sleep(300);
    expect(processRunning(`sleep ${sleep}`)).toBe(false);
  });

  test("a command that ignores TERM is reported at once and killed after the grace period", async () => {
    const s = await session();
    const sleep = uniqueSleep();
    const started = performance.now();
    const error = await failure(s.exec(`trap '' TERM; sleep ${sleep}`, run({ timeoutMs: 300 })));
    expect(error.code).toBe("E_SSH_COMMAND_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(1_000);
    // Reporting does not wait for the cleanup: the sleep outlives TERM, then KILL ends it.
    expect(await waitUntil(() => processRunning(`sleep ${sleep}`), 1_000)).toBe(true);
    expect(await waitUntil(() => !processRunning(`sleep ${sleep}`), 3_000)).toBe(true);
  });

  test("the group report never shows in a command's output", async () => {
    const s = await session();
    const result = await s.exec("echo err >&2; echo out; printf 'no newline' >&2", run());
    expect(result).toMatchObject({ exitCode: 0, stdout: "out\n", stderr: "err\nno newline" });
    const shell = await s.shell();
    try {
      expect(await shell.run("echo out; echo err >&2", run())).toMatchObject({ exitCode: 0, stdout: "out\n", stderr: "err\n" });
    } finally {
      shell.close();
    }
  });

  test("timeout report lateness over 10 runs each (reported; asserted only below a second)", async () => {
    const s = await session();
    const shell = await s.shell();
    const lateness: Record<string, number[]> = { exec: [], shell: [] };
    try {
      for (let i = 0; i < 10; i++) {
        for (const path of ["exec", "shell"] as const) {
          const sleep = uniqueSleep();
          const started = performance.now();
          await failure(path === "exec" ? s.exec(`sleep ${sleep}`, run({ timeoutMs: 200 })) : shell.run(`sleep ${sleep}`, run({ timeoutMs: 200 })));
          lateness[path]!.push(performance.now() - started - 200);
          expect(await waitUntil(() => !processRunning(`sleep ${sleep}`), 500)).toBe(true);
        }
      }
    } finally {
      shell.close();
    }
    const summary = (ms: number[]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      return `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)}ms, max ${sorted[sorted.length - 1]!.toFixed(1)}ms`;
    };
    console.log(`  timeout reported after the deadline, sshd refusing signals, ${navigator.hardwareConcurrency} cores: exec ${summary(lateness.exec!)}; RemoteShell ${summary(lateness.shell!)}`);
    for (const ms of [...lateness.exec!, ...lateness.shell!]) expect(ms).toBeLessThan(1_000);
  });
});

describe("upload", () => {
  test("creates the file with its mode, reports changed:false for the same content, and applies a new mode or content", async () => {
    const pool = fleetPool(fleet);
    try {
      const session = await pool.session(endpoint(fleet.hosts[4]!), never);
      const dir = (await session.exec("mktemp -d", run())).stdout.trim();
      const path = `${dir}/app.conf`;
      const content = new TextEncoder().encode("listen 8080\n");
      const options = { timeoutMs: 5_000, signal: never };
      const first = await session.upload(content, path, 0o640, options);
      expect(first).toEqual({ changed: true, sha256: new Bun.CryptoHasher("sha256").update(content).digest("hex") });
      expect((await session.exec(`stat -c %a ${path}; cat ${path}`, run())).stdout).toBe("640\nlisten 8080\n");
      expect(await session.upload(content, path, 0o640, options)).toEqual({ changed: false, sha256: first.sha256 });
      expect((await session.upload(content, path, 0o600, options)).changed).toBe(true);
      expect((await session.exec(`stat -c %a ${path}`, run())).stdout).toBe("600\n");
      const next = new TextEncoder().encode("listen 9090\n");
      expect((await session.upload(next, path, 0o600, options)).changed).toBe(true);
      expect((await session.exec(`cat ${path}; ls -A ${dir}`, run())).stdout).toBe("listen 9090\napp.conf\n");
      const denied = await failure(session.upload(content, "/etc/opskit-denied.conf", 0o644, options));
      expect(denied.code).toBe("E_SSH_UPLOAD");
      expect(denied.message).toContain("permission denied");
      await session.exec(`rm -r ${dir}`, run());
    } finally {
      await pool.close();
    }
  });
});

describe("ProxyJump", () => {
  test("reaches a host through another fleet host, sharing the jump connection", async () => {
    const pool = fleetPool(fleet);
    try {
      const jump = endpoint(fleet.hosts[0]!);
      const targets = fleet.hosts.slice(1, 4).map((host) => endpoint(host, { proxyJump: jump }));
      const outcomes = await acrossFleet(targets.map((_, i) => fleet.hosts[i + 1]!), async (host) => {
        const session = await pool.session(endpoint(host, { proxyJump: jump }), never);
        return (await session.exec("echo $SSH_CONNECTION", run())).stdout.split(" ")[2];
      });
      expect(outcomes.map((o) => ("value" in o ? o.value : String((o as { error: unknown }).error)))).toEqual(fleet.hosts.slice(1, 4).map((h) => h.address));
      // One connection to the jump host and one per target.
      expect(pool.openCount()).toBe(4);
      // The jump host as a target of its own, released: its connection stays for the hosts behind it.
      (await pool.session(jump, never)).release();
      expect(pool.openCount()).toBe(4);
      const behind = await pool.session(endpoint(fleet.hosts[4]!, { proxyJump: jump }), never);
      expect((await behind.exec("echo $SSH_CONNECTION", run())).stdout.split(" ")[2]).toBe(fleet.hosts[4]!.address);
      expect(pool.openCount()).toBe(5);
      const refused = await failure(pool.session(endpoint(fleet.hosts[5]!, { port: 1, proxyJump: jump }), never));
      expect(refused.code).toBe("E_SSH_CONNECT");
      expect(refused.message).toContain(`via ${jump.name}`);
    } finally {
      await pool.close();
    }
  });
});

describe("timings (reported, not asserted)", () => {
  test("hostname on a 50-host fleet, and 5 commands per host over exec channels vs RemoteShell", async () => {
    const big = await startFleet({ size: 50 });
    const pool = fleetPool(big, { connectTimeoutMs: 20_000, authTimeoutMs: 20_000 });
    const target = (host: FleetHost) => fleetEndpoint(big, host);
    const timed = async (label: string, work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      const ms = performance.now() - started;
      console.log(`  ${label}: ${ms.toFixed(0)}ms`);
      return ms;
    };
    const expectAllOk = (outcomes: Array<{ value: unknown } | { error: unknown }>) => {
      for (const outcome of outcomes) if ("error" in outcome) throw outcome.error;
    };
    try {
      console.log(`SSH transport timings, ${big.hosts.length} hosts, concurrency 50, ${navigator.hardwareConcurrency} cores:`);
      await timed("connect + `hostname` on 50 hosts (one new connection each)", async () =>
        expectAllOk(await acrossFleet(big.hosts, async (host) => (await pool.session(target(host), never)).exec("hostname", run()), 50)),
      );
      expect(pool.openCount()).toBe(50);
      await timed("`hostname` again on 50 pooled connections", async () =>
        expectAllOk(await acrossFleet(big.hosts, async (host) => (await pool.session(target(host), never)).exec("hostname", run()), 50)),
      );
      const commands = ["hostname", "id -u", "uname -r", "test -d /tmp", "echo done"];
      await timed("5 commands per host over exec channels (250 channels)", async () =>
        expectAllOk(
          await acrossFleet(big.hosts, async (host) => {
            const session = await pool.session(target(host), never);
            for (const command of commands) await session.exec(command, run());
          }, 50),
        ),
      );
      const shells = new Map<string, Awaited<ReturnType<Awaited<ReturnType<SshPool["session"]>>["shell"]>>>();
      await timed("RemoteShell start on 50 hosts", async () =>
        expectAllOk(
          await acrossFleet(big.hosts, async (host) => {
            const shell = await (await pool.session(target(host), never)).shell();
            await shell.run("true", run());
            shells.set(host.name, shell);
          }, 50),
        ),
      );
      await timed("5 commands per host over RemoteShell (started)", async () =>
        expectAllOk(
          await acrossFleet(big.hosts, async (host) => {
            const shell = shells.get(host.name)!;
            for (const command of commands) {
              const result = await shell.run(command, run());
              if (result.exitCode !== 0) throw new Error(`${command} failed on ${host.name}`);
            }
          }, 50),
        ),
      );
      for (const shell of shells.values()) shell.close();
    } finally {
      await pool.close();
      await big.stop();
    }
  }, 120_000);
});
