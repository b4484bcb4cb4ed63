// Debian's tinyproxy, a real HTTP proxy (absolute-form requests, CONNECT
// tunnels, Basic proxy authentication), on loopback with its own config file
// in a temp dir. A missing binary is an error, never a skip.
import type { Subprocess } from "bun";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refusedPort } from "./net.ts";

const TINYPROXY = "/usr/bin/tinyproxy";
const READY_TIMEOUT_MS = 10_000;

export interface TestProxy {
  port: number;
  /** http://[user:password@]127.0.0.1:port */
  url: string;
  /** The request lines the proxy logged (GET http://..., CONNECT host:port). */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

/** tinyproxy on 127.0.0.1 and a free port; with `credentials`, Basic proxy authentication is required. */
export async function startTinyproxy(options: { credentials?: { user: string; password: string } } = {}): Promise<TestProxy> {
  if (!existsSync(TINYPROXY)) throw new Error(`${TINYPROXY} is missing: run sh scripts/setup.sh (Debian package tinyproxy)`);
  const dir = await mkdtemp(join(tmpdir(), "opskit-tinyproxy-"));
  const log = join(dir, "tinyproxy.log");
  for (let tries = 0; ; tries++) {
    const port = await refusedPort();
    const lines = [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Allow 127.0.0.1",
      "Timeout 30",
      "MaxClients 50",
      "LogLevel Connect",
      `LogFile "${log}"`,
      // tinyproxy started by root drops to this user; started by anyone else it stays that user.
      ...(process.getuid?.() === 0 ? ["User nobody", "Group nogroup"] : []),
      ...(options.credentials ? [`BasicAuth ${options.credentials.user} ${options.credentials.password}`] : []),
    ];
    await writeFile(join(dir, "tinyproxy.conf"), `${lines.join("\n")}\n`);
    await writeFile(log, "");
    if (process.getuid?.() === 0) await Bun.spawn(["chown", "nobody", log, dir]).exited;
    const child: Subprocess = Bun.spawn([TINYPROXY, "-d", "-c", join(dir, "tinyproxy.conf")], { stdout: "pipe", stderr: "pipe" });
    if (await listening(port, child)) {
      const userinfo = options.credentials ? `${options.credentials.user}:${options.credentials.password}@` : "";
      return {
        port,
        url: `http://${userinfo}127.0.0.1:${port}`,
        requests: async () => (await Bun.file(log).text()).split("\n").flatMap((line) => /Request \(file descriptor \d+\): (.*)$/.exec(line)?.[1] ?? []),
        async stop() {
          child.kill("SIGTERM");
          await child.exited;
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill("SIGKILL");
    const stderr = await new Response(child.stderr as ReadableStream).text();
    if (tries >= 2) throw new Error(`tinyproxy did not start on port ${port}: ${stderr}`);
  }
}

async function listening(port: number, child: Subprocess): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (socket) => (socket.end(), true),
      () => false,
    );
    if (open) return true;
    await Bun.sleep(50);
  }
  return false;
}
