import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refusedPort } from "./net.ts";

const SSHD = "/usr/sbin/sshd";

export interface TestSshd {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/**
 * OpenSSH's sshd on 127.0.0.1 and a free port, with a host key made for the
 * test. It is the real server; a missing sshd is an error, never a skip.
 */
export async function startSshd(): Promise<TestSshd> {
  if (!(await Bun.file(SSHD).exists())) throw new Error(`${SSHD} not found: install openssh-server (sh scripts/setup.sh does)`);
  const dir = await mkdtemp(join(tmpdir(), "opskit-sshd-"));
  const hostKey = join(dir, "host_ed25519");
  const keygen = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  if (!keygen.success) throw new Error(`ssh-keygen failed: ${keygen.stderr.toString()}`);
  // sshd insists on its privilege-separation directory.
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const port = await refusedPort();
  const config = join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "LogLevel ERROR",
    ].join("\n") + "\n",
  );
  const child = Bun.spawn([SSHD, "-D", "-e", "-f", config], { stdout: "ignore", stderr: "pipe" });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${await new Response(child.stderr).text()}`);
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      break;
    } catch {
      await Bun.sleep(50);
    }
  }
  // Keep reading sshd's log so a chatty server never blocks on a full pipe.
  void new Response(child.stderr).text().catch(() => "");
  return {
    port,
    dir,
    stop: async () => {
      child.kill();
      await child.exited;
    },
  };
}
