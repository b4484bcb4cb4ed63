// Child processes of the benchmarks and what the kernel says they cost: wall
// time, CPU seconds (user+sys) and peak RSS. Every child started here is
// killed when the runner exits, however it exits.
import type { Subprocess } from "bun";
import { readdirSync, readFileSync, rmSync } from "node:fs";

export const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const outDir = `${root}/bench/out`;
export const bun = process.execPath;
/** The opskit executable measured: dist/opskit (bench/run.sh builds it), or the build OPSKIT_BENCH_BIN names. */
export const opskitBin = process.env.OPSKIT_BENCH_BIN || `${root}/dist/opskit`;

const children = new Set<Subprocess>();
const clockTicksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

function killChildren(): void {
  for (const child of children) child.kill("SIGKILL");
}
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/** CPU seconds (user+sys) a live process has used so far, from /proc/PID/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** Peak resident set size of a live process (VmHWM), in bytes. */
export function peakRssBytesOf(pid: number): number {
  const line = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return line ? Number(line[1]) * 1024 : 0;
}

/** Process ids and their parents, from /proc (no procps needed). */
export function processTable(): Map<number, { ppid: number; cmdline: string }> {
  const table = new Map<number, { ppid: number; cmdline: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      table.set(Number(entry), { ppid, cmdline });
    } catch {
      // Ended while we looked.
    }
  }
  return table;
}

/** A process and all its descendants. */
export function descendantsOf(pid: number, table = processTable()): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, { ppid }] of table) if (ppid === tree[i]) tree.push(child);
  }
  return tree;
}

export interface TreeMemory {
  processes: number;
  rssBytes: number;
  pssBytes: number;
  /** PSS of the tree's root process alone. */
  rootPssBytes: number;
}

/**
 * Memory of a process tree now: the sum of its processes' RSS (shared pages
 * counted in each) and of their PSS (shared pages split among their users),
 * from /proc/PID/smaps_rollup.
 */
export function treeMemoryOf(pid: number): TreeMemory {
  const tree: TreeMemory = { processes: 0, rssBytes: 0, pssBytes: 0, rootPssBytes: 0 };
  for (const member of descendantsOf(pid)) {
    try {
      const rollup = readFileSync(`/proc/${member}/smaps_rollup`, "utf8");
      const pss = Number(/^Pss:\s+(\d+) kB$/m.exec(rollup)?.[1] ?? 0) * 1024;
      tree.rssBytes += Number(/^Rss:\s+(\d+) kB$/m.exec(rollup)?.[1] ?? 0) * 1024;
      tree.pssBytes += pss;
      if (member === pid) tree.rootPssBytes = pss;
      tree.processes += 1;
    } catch {
      // Ended while we looked.
    }
  }
  return tree;
}

export interface Finished {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  /** user+sys of the child, from getrusage. */
  cpuSeconds: number;
  maxRssBytes: number;
}

/** Runs a command to its end (killed after timeoutMs) and reports what it cost. */
export async function runToEnd(cmd: string[], timeoutMs: number, env?: Record<string, string | undefined>): Promise<Finished> {
  const started = performance.now();
  const child = track(
    Bun.spawn(cmd, { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs, killSignal: "SIGKILL", ...(env ? { env } : {}) }),
  );
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const wallSeconds = (performance.now() - started) / 1000;
  const usage = child.resourceUsage();
  return {
    exitCode: child.exitCode,
    stdout,
    stderr,
    wallSeconds,
    cpuSeconds: usage ? Number(usage.cpuTime.total) / 1e6 : NaN,
    maxRssBytes: usage?.maxRSS ?? NaN,
  };
}

/** Registers a child so that it is killed when the runner exits. */
export function track<T extends Subprocess>(child: T): T {
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

/** A long-running child: the endpoints, or blackbox_exporter. */
export interface Service {
  readonly pid: number;
  cpuSeconds(): number;
  peakRssBytes(): number;
  stop(): Promise<void>;
}

/** Wraps a tracked child; stop() asks it to end (closes stdin, or SIGTERM) and kills it after 3 s. */
export function asService(child: Subprocess, askToEnd: () => void): Service {
  return {
    pid: child.pid,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    peakRssBytes: () => peakRssBytesOf(child.pid),
    async stop() {
      askToEnd();
      const ended = await Promise.race([child.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
      if (!ended) child.kill("SIGKILL");
      await child.exited;
    },
  };
}

/** A loopback port that was free a moment ago. */
/**
 * Kills a server the benchmark started and removes its temp dir; a runner
 * interrupted before it calls this still removes the dir when it exits.
 */
export function disposerOf(child: Subprocess, dir: string): () => Promise<void> {
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", removeDir);
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await child.exited;
    removeDir();
    process.off("exit", removeDir);
  };
}

export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

export async function waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms`);
}
