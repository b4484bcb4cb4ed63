// Log files for the agent's tests: a writer process (log-writer.ts) that a
// test pauses, resumes and signals like a daemon, and Debian's logrotate
// rotating its file in create or copytruncate mode.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./cli.ts";

/** Line i as the writer writes it: the prefix, the number, and padding so lines are not all one length. */
export const writerLine = (prefix: string, i: number) => `${prefix} ${String(i).padStart(7, "0")} ${"x".repeat(i % 23)}`;

/** The number in a writer's line ("line 0000042 xx" → 42). */
export const lineNumber = (line: string) => Number(line.split(" ")[1]);

export interface LogWriter {
  pid: number;
  pause(): void;
  resume(): void;
  /** Resolves with the exit code once every line is written. */
  exited: Promise<number>;
  kill(): void;
}

export function startLogWriter(path: string, options: { count: number; batch: number; intervalMs: number; prefix?: string }): LogWriter {
  const child = Bun.spawn([process.execPath, join(repoRoot, "test/harness/log-writer.ts"), path, String(options.count), String(options.batch), String(options.intervalMs), options.prefix ?? "line"], {
    stdout: "inherit",
    stderr: "inherit",
  });
  return {
    pid: child.pid,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    exited: child.exited,
    kill: () => {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    },
  };
}

const LOGROTATE = ["/usr/sbin/logrotate", "/sbin/logrotate"].find((path) => existsSync(path));

/**
 * Rotates `file` now with Debian's logrotate: `create` renames it away and
 * creates an empty one, then sends SIGHUP to `hupPid` (postrotate), so the
 * writer reopens; `copytruncate` copies it to file.1 and truncates it in place.
 */
export async function logrotate(file: string, mode: "create" | "copytruncate", stateDir: string, hupPid?: number): Promise<void> {
  if (!LOGROTATE) throw new Error("logrotate is not installed (Debian package logrotate; scripts/setup.sh installs it)");
  const config = join(stateDir, `logrotate-${mode}.conf`);
  const postrotate = hupPid === undefined ? "" : `\n  postrotate\n    kill -HUP ${Number(hupPid)}\n  endscript`;
  writeFileSync(config, `${file} {\n  rotate 10\n  ${mode}\n  missingok\n  nocompress${postrotate}\n}\n`, { mode: 0o644 });
  const child = Bun.spawn([LOGROTATE, "--force", "--state", join(stateDir, "logrotate.state"), config], { stdout: "pipe", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`logrotate ${mode} exited ${code}: ${stderr}`);
}
