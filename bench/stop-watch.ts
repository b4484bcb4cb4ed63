// What the stop benchmark (bench/stop.ts) watches: the remote processes a
// run starts, in /proc (which host each runs on, from the SSH_CONNECTION sshd
// gives it, and when it started, on the runner's clock), and a tool's stdout
// lines with the moment each arrived.
import { readdirSync, readFileSync } from "node:fs";
import type { Fleet } from "../test/harness/fleet.ts";
import { root, track, type Finished } from "./process.ts";

/** Remote sleeps of this run now: processes whose whole command line is `sleep <duration>`. */
export function sleepsNow(sleep: string): number[] {
  const wanted = `sleep\0${sleep}\0`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) > 57) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1") === wanted) found.push(Number(entry));
    } catch {
      // Ended while we looked.
    }
  }
  return found;
}

const msPerTick = 1000 / (Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100);

/** A process's start, in clock ticks since boot (/proc/PID/stat field 22). */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
}

/**
 * Boot time on performance.now()'s clock, to within a few ms: processes
 * spawned at known moments, against the start the kernel recorded for them
 * (whole ticks); each spawn narrows the interval.
 */
export async function bootOnOurClock(): Promise<number> {
  let lower = -Infinity;
  let upper = Infinity;
  for (let i = 0; i < 30; i++) {
    const before = performance.now();
    const child = Bun.spawn(["sleep", "0.05"], { stdout: "ignore", stderr: "ignore" });
    const after = performance.now();
    const ticks = startTicks(child.pid);
    await child.exited;
    lower = Math.max(lower, before - (ticks + 1) * msPerTick);
    upper = Math.min(upper, after - ticks * msPerTick);
  }
  return (lower + upper) / 2;
}

/** The server address of a session's process, from the SSH_CONNECTION sshd gives it ("client port server port"). */
function serverAddressOf(pid: number): string | undefined {
  const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
  return environ.find((v) => v.startsWith("SSH_CONNECTION="))?.split(" ")[2];
}

export interface SeenSleep {
  /** On performance.now()'s clock: the middle of the tick in which it started. */
  startedAt: number;
  address: string | undefined;
}

/** Samples the run's remote sleeps every `everyMs`: each one's start and the host it runs on. */
export function sampleSleeps(sleep: string, boot: number, everyMs: number): { seen: Map<number, SeenSleep>; look(): number[]; stop(): void } {
  const seen = new Map<number, SeenSleep>();
  const look = () => {
    const now = sleepsNow(sleep);
    for (const pid of now) {
      if (seen.has(pid)) continue;
      try {
        seen.set(pid, { startedAt: boot + (startTicks(pid) + 0.5) * msPerTick, address: serverAddressOf(pid) });
      } catch {
        // Ended while we looked; it still started.
        seen.set(pid, { startedAt: NaN, address: undefined });
      }
    }
    return now;
  };
  const timer = setInterval(look, everyMs);
  return { seen, look, stop: () => clearInterval(timer) };
}

export interface TimedRun extends Finished {
  /** Each stdout line and when it arrived, on performance.now()'s clock. */
  lines: { at: number; text: string }[];
  exitedAt: number;
}

/** Like runToEnd (killed after limitMs), timing each stdout line as it arrives. */
export async function runTimed(cmd: string[], env: Record<string, string | undefined>, limitMs: number): Promise<TimedRun> {
  const started = performance.now();
  const child = track(Bun.spawn(cmd, { cwd: root, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: limitMs, killSignal: "SIGKILL" }));
  const lines: { at: number; text: string }[] = [];
  const stderr = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of child.stdout) {
    const at = performance.now();
    const parts = (pending + decoder.decode(chunk, { stream: true })).split("\n");
    pending = parts.pop()!;
    for (const text of parts) lines.push({ at, text });
  }
  if (pending) lines.push({ at: performance.now(), text: pending });
  await child.exited;
  const exitedAt = performance.now();
  const usage = child.resourceUsage();
  return {
    exitCode: child.exitCode,
    stdout: lines.map((l) => l.text).join("\n"),
    stderr: await stderr,
    wallSeconds: (exitedAt - started) / 1000,
    cpuSeconds: usage ? Number(usage.cpuTime.total) / 1e6 : NaN,
    maxRssBytes: usage?.maxRSS ?? NaN,
    lines,
    exitedAt,
  };
}

export function pgrep(args: string[]): number[] {
  const found = Bun.spawnSync(["pgrep", ...args], { stdout: "pipe" });
  return found.stdout.toString().split("\n").filter(Boolean).map(Number);
}

/** The test user's processes whose command line holds `sleep <duration>`: the sleeps and the shells around them. */
export const remoteProcesses = (fleet: Fleet, sleep: string) => pgrep(["-u", fleet.user, "-f", `sleep ${sleep.replace(".", "\\.")}`]);

/** Kills what a run left behind, by pid, and waits (at most 5 s) until it is gone. */
export async function killLeftovers(fleet: Fleet, sleep: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  for (let pids = remoteProcesses(fleet, sleep); pids.length > 0; pids = remoteProcesses(fleet, sleep)) {
    if (performance.now() > deadline) throw new Error(`processes of \`sleep ${sleep}\` still alive 5 s after SIGKILL: ${pids.join(" ")}`);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await Bun.sleep(50);
  }
}
