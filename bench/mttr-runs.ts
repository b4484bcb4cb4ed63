// How the MTTR benchmark runs and reports a command: a process's wall time
// from spawn to exit, startup included, with CPU and peak RSS from GNU time,
// each run started in a quiet second where one comes.
import { awaitQuiet } from "./machine.ts";
import { outDir, runToEnd } from "./process.ts";
import { median } from "./stats.ts";

export const QUIET_WAIT_MS = 10_000;
export const dir = `${outDir}/mttr`;

export interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  /** How busy the cores were (other work) in the second before the run. */
  busy: number;
  stdout: string;
}

export const sec = (seconds: number) => `${seconds.toFixed(2)} s`;
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
export const list = (runs: Run[]) => runs.map((r) => r.seconds.toFixed(2)).join(", ");
export const wall = (runs: Run[]) => median(runs.map((r) => r.seconds));
export const best = (runs: Run[]) => Math.min(...runs.map((r) => r.seconds));
export const cpu = (runs: Run[]) => median(runs.map((r) => r.cpuSeconds));
export const peak = (runs: Run[]) => Math.max(...runs.map((r) => r.peakRssBytes));
export const count = (n: number) => n.toLocaleString("en-US");

/** Runs a command under GNU time after a quiet second; a non-zero exit is no measurement. */
export async function timed(label: string, cmd: string[], boundMs: number): Promise<Run> {
  const busy = await awaitQuiet(QUIET_WAIT_MS);
  const timeFile = `${dir}/time.txt`;
  const run = await runToEnd(["/usr/bin/time", "-f", "%M %U %S", "-o", timeFile, ...cmd], boundMs);
  if (run.exitCode !== 0) throw new Error(`${label} failed (exit ${run.exitCode}): ${(run.stderr || run.stdout).slice(-2000)}`);
  const [maxRssKiB, user, sys] = (await Bun.file(timeFile).text()).trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number];
  return { seconds: run.wallSeconds, cpuSeconds: user + sys, peakRssBytes: maxRssKiB * 1024, busy, stdout: run.stdout };
}

export function busyLine(runs: Run[]): string {
  const all = runs.map((r) => r.busy);
  return `- cores busy with other work in the second before each run: median ${median(all)}%, max ${Math.max(...all)}% (each run waits up to ${QUIET_WAIT_MS / 1000} s for a second under 15%)`;
}
