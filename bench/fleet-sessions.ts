// Peak RSS of opskit holding 500 SSH sessions open at once: 500 targets
// spread over a fleet's addresses (ten names for each of 50 addresses, whose
// sessions opskit opens as channels on one pooled connection per address; or
// 500 hosts, one connection each), every one running a command that waits at
// a barrier. The barrier is a FIFO that every session's command blocks on
// after marking itself ready; the runner counts the marks, samples the tool,
// the TCP connections and the remote shells while all wait, then opens the
// FIFO once for writing, which releases them all. The same barrier measures
// parallel-ssh's processes (pssh plus one ssh client per session).
import { chmodSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { Fleet } from "../test/harness/fleet.ts";
import { establishedTo, type FleetSetup } from "./fleet-tools.ts";
import { opskitBin, peakRssBytesOf, processTable, track, treeMemoryOf, type TreeMemory } from "./process.ts";

export const SESSIONS = 500;
const BARRIER_TIMEOUT_MS = 120_000;

export interface Barrier {
  dir: string;
  /** The remote command: mark ready, then wait for the release (builtins only: no process per session but the shell). */
  command: string;
  ready(): number;
  release(): Promise<void>;
}

export interface HeldSessions {
  /** Seconds from spawn until every session was waiting at the barrier. */
  secondsToAllOpen: number;
  /** Established TCP connections to the fleet's port, counted from the client side. */
  connections: number;
  /** Remote shells, one per session: children of sshd's per-connection session processes. */
  remoteShells: number;
  /** sshd's per-connection session processes ("sshd: USER@notty"). */
  sshdSessions: number;
  /** The tool's memory while every session was open: RSS and PSS summed over its process tree. */
  tree: TreeMemory;
  /** The sampled process's own VmHWM at that moment. */
  vmHwmBytes: number;
}

/** A FIFO in the fleet's directory (readable by the fleet's user) and the command that waits on it. */
export function makeBarrier(fleet: Fleet): Barrier {
  const dir = `${fleet.dir}/barrier`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  const fifo = `${dir}/go`;
  const made = Bun.spawnSync(["mkfifo", "-m", "0666", fifo], { stderr: "pipe" });
  if (!made.success) throw new Error(`mkfifo ${fifo} failed: ${made.stderr.toString()}`);
  return {
    dir,
    // $$ is the session's shell; `read` returns non-zero at EOF, hence `|| true`.
    command: `: > ${dir}/ready.$$; read -r line < ${fifo} || true`,
    ready: () => readdirSync(dir).filter((name) => name.startsWith("ready.")).length,
    async release() {
      // Opening for writing wakes every reader blocked in open(); closing gives them EOF.
      // O_NONBLOCK: with no reader at all this fails at once rather than hang.
      const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      await Bun.sleep(1000);
      closeSync(fd);
      for (const name of readdirSync(dir)) if (name.startsWith("ready.")) rmSync(`${dir}/${name}`);
    },
  };
}

function remoteCounts(user: string): { shells: number; sshd: number } {
  const table = processTable();
  const sessions = new Set([...table].filter(([, p]) => p.cmdline.startsWith(`sshd: ${user}@notty`)).map(([pid]) => pid));
  const shells = [...table.values()].filter((p) => sessions.has(p.ppid)).length;
  return { shells, sshd: sessions.size };
}

/**
 * Starts `cmd` (the tool, under GNU time for opskit), waits until `expected`
 * sessions are at the barrier, samples, releases them and waits for the end.
 * `measured` picks the process to sample from the spawned one.
 */
export async function holdSessions(
  fleet: Fleet,
  barrier: Barrier,
  cmd: string[],
  expected: number,
  env: Record<string, string | undefined>,
  measured: (spawned: number) => number,
): Promise<{ held: HeldSessions; exitCode: number | null; stdout: string; stderr: string }> {
  const started = performance.now();
  const child = track(Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env }));
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  let held: HeldSessions | undefined;
  try {
    while (barrier.ready() < expected) {
      if (child.exitCode !== null) throw new Error(`${cmd[0]} ended before all ${expected} sessions were open (${barrier.ready()} were): ${(await output).join("").slice(-2000)}`);
      if (performance.now() - started > BARRIER_TIMEOUT_MS) throw new Error(`only ${barrier.ready()} of ${expected} sessions were open after ${BARRIER_TIMEOUT_MS / 1000} s`);
      await Bun.sleep(100);
    }
    const secondsToAllOpen = (performance.now() - started) / 1000;
    const pid = measured(child.pid);
    const remote = remoteCounts(fleet.user);
    held = {
      secondsToAllOpen,
      connections: establishedTo(fleet.hosts[0]!.port),
      remoteShells: remote.shells,
      sshdSessions: remote.sshd,
      tree: treeMemoryOf(pid),
      vmHwmBytes: peakRssBytesOf(pid),
    };
  } finally {
    await barrier.release().catch(() => undefined);
  }
  const exited = await Promise.race([child.exited, Bun.sleep(60_000).then(() => null)]);
  if (exited === null) child.kill("SIGKILL");
  const [stdout, stderr] = await output;
  if (!held) throw new Error("unreachable: the sessions were sampled or an error was thrown");
  return { held, exitCode: child.exitCode, stdout, stderr };
}

/** The one child of `pid` (GNU time's child is the command it measures). */
export function onlyChildOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  if (children.length !== 1) throw new Error(`expected one child of ${pid}, found ${children.length}`);
  return children[0]!;
}

export interface OpskitSessions extends HeldSessions {
  /** Sessions held at the barrier at once. */
  sessions: number;
  /** GNU time's %M: the most the opskit process held at any time of the run. */
  peakRssBytes: number;
  wallSeconds: number;
  cpuSeconds: number;
}

// 500 shells (or 500 connections) starting on this same 2-core machine can
// hold the last connections' authentication past opskit's default 10 s (the
// hosts share the controller's cores here, as they would not in a real
// fleet), so these configs allow 60 s for connect and auth.
function targetsYaml(fleet: Fleet, count: number): string {
  const hosts = Array.from({ length: count }, (_, i) => {
    const h = fleet.hosts[i % fleet.hosts.length]!;
    return `    t${String(i + 1).padStart(3, "0")}: { address: ${JSON.stringify(h.address)}, port: ${h.port} }`;
  });
  return [
    `# ${count} targets over the fleet's ${fleet.hosts.length} addresses (bench/fleet-sessions.ts).`,
    "inventory:",
    "  hosts:",
    ...hosts,
    "defaults:",
    `  user: ${JSON.stringify(fleet.user)}`,
    `  key: ${JSON.stringify(fleet.identityFile)}`,
    `  knownHosts: ${JSON.stringify(fleet.knownHostsFile)}`,
    "  hostKeyChecking: strict",
    "  connectTimeout: 60s",
    "  authTimeout: 60s",
    "",
  ].join("\n");
}

/**
 * `opskit exec 'name=*' --concurrency N` over N targets (500 by default)
 * spread over `fleet`'s addresses, under GNU time, held at the barrier; every session
 * must be waiting there together, and every step must then exit 0.
 */
export async function measureOpskitSessions(fleet: Fleet, dir: string, env: Record<string, string | undefined>, sessions = SESSIONS): Promise<OpskitSessions> {
  const barrier = makeBarrier(fleet);
  const config = `${dir}/opskit-${sessions}-over-${fleet.hosts.length}.yaml`;
  await Bun.write(config, targetsYaml(fleet, sessions));
  const timeFile = `${dir}/sessions-time.txt`;
  const cmd = [
    "/usr/bin/time", "-f", "%M %e %U %S", "-o", timeFile,
    opskitBin, "exec", "name=*", "--concurrency", String(sessions), "--timeout", "180s", "--json",
    "-c", config, "--journal", `${dir}/journal-sessions.db`, "--", barrier.command,
  ];
  const run = await holdSessions(fleet, barrier, cmd, sessions, env, onlyChildOf);
  const steps = run.stdout.split("\n").filter((l) => l.includes('"type":"step.finished"')).map((l) => JSON.parse(l) as { result: { exitCode: number | null } });
  const ok = steps.filter((s) => s.result.exitCode === 0).length;
  if (run.exitCode !== 0 || ok !== sessions) throw new Error(`opskit, ${sessions} sessions: ${ok} steps exited 0 (exit ${run.exitCode}): ${run.stdout.slice(-1500)}${run.stderr.slice(-1500)}`);
  if (run.held.remoteShells < sessions) throw new Error(`only ${run.held.remoteShells} remote shells were open at the barrier, expected ${sessions}`);
  const [maxRssKiB, wall, user, sys] = readFileSync(timeFile, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number, number];
  return { ...run.held, sessions, peakRssBytes: maxRssKiB * 1024, wallSeconds: wall, cpuSeconds: user + sys };
}

/** parallel-ssh holding one session on each of the fleet's hosts at the barrier: pssh and one ssh client per session. */
export async function measurePsshSessions(setup: FleetSetup): Promise<HeldSessions> {
  const { fleet } = setup;
  const barrier = makeBarrier(fleet);
  const run = await holdSessions(fleet, barrier, ["parallel-ssh", ...setup.psshArgs, barrier.command], fleet.hosts.length, setup.env, (pid) => pid);
  const succeeded = run.stdout.split("\n").filter((l) => / \[SUCCESS\] /.test(l)).length;
  if (run.exitCode !== 0 || succeeded !== fleet.hosts.length) throw new Error(`parallel-ssh at the barrier: ${succeeded} of ${fleet.hosts.length} succeeded (exit ${run.exitCode})`);
  return run.held;
}
