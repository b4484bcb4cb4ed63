// How the fleet benchmark times a run and runs rounds of tools (bench/fleet.ts,
// bench/fleet-growth.ts). Every connection costs sshd tens of milliseconds
// of CPU (the results report how many) on a 2-core machine that the hosts
// share with the tools, and other work comes to it in bursts, so: rounds
// alternate the order of the tools, each run starts after the previous
// run's connections have ended and (where one comes within a few seconds)
// in a quiet second, and medians are compared.
import { readFileSync } from "node:fs";
import type { Fleet } from "../test/harness/fleet.ts";
import type { StepTimings, ToolRun } from "./fleet-tools.ts";
import { awaitQuiet, busyCpuSeconds } from "./machine.ts";
import { processTable } from "./process.ts";
import { median } from "./stats.ts";

export const QUIET_WAIT_MS = 3_000;
const clockTicksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

export type ToolOutcome = ToolRun & { timings?: StepTimings; masters?: number };

export interface Sample extends ToolOutcome {
  /** How busy the cores were (other work) in the second before the run. */
  busy: number;
  /** CPU that the listening sshds' per-connection processes used during the run (see sshdCpuSeconds). */
  sshdCpu: number;
  /** CPU seconds the whole machine spent busy during the run: the tool, sshd, the remote commands, any other work. */
  machineCpu: number;
}

export type Samples = Record<string, Sample[]>;

export const sec = (s: number) => `${s.toFixed(2)} s`;
export const ms = (s: number) => `${Math.round(s * 1000)} ms`;
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
export const times = (runs: Sample[]) => runs.map((r) => r.seconds.toFixed(2)).join(", ");
export const wall = (runs: Sample[]) => median(runs.map((r) => r.seconds));
export const cpu = (runs: Sample[]) => median(runs.map((r) => r.cpuSeconds));
export const machine = (runs: Sample[]) => median(runs.map((r) => r.machineCpu));

/** The fleet's listening sshd processes: their cmdline names the fleet's config files. */
function listeners(fleet: Fleet): number[] {
  return [...processTable()].filter(([, p]) => p.cmdline.includes(`-f ${fleet.dir}/sshd-`)).map(([pid]) => pid);
}

/**
 * CPU (user+sys) of the fleet's listening sshds and of the per-connection
 * processes they reaped: process start, key exchange, authentication and
 * session setup. The remote commands are not in it (sshd does not wait for
 * them in a way that adds their time).
 */
function sshdCpuSeconds(fleet: Fleet): number {
  let total = 0;
  for (const pid of listeners(fleet)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0);
    } catch {
      // A group's sshd may re-exec; its figure is lost, never double counted.
    }
  }
  return total / clockTicksPerSecond;
}

/** Waits (at most 15 s) until no connection to the fleet is left: the previous run's sshd processes have ended. */
export async function awaitFleetIdle(fleet: Fleet): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    const parents = new Set(listeners(fleet));
    if (![...processTable().values()].some((p) => parents.has(p.ppid))) return;
    await Bun.sleep(100);
  }
  console.log("fleet: connections of the previous run were still open after 15 s");
}

async function measure(fleet: Fleet, run: () => Promise<ToolOutcome>): Promise<Sample> {
  await awaitFleetIdle(fleet);
  const busy = await awaitQuiet(QUIET_WAIT_MS);
  const before = sshdCpuSeconds(fleet);
  const machineBefore = busyCpuSeconds();
  const result = await run();
  const machineCpu = busyCpuSeconds() - machineBefore;
  await awaitFleetIdle(fleet);
  return { ...result, busy, sshdCpu: sshdCpuSeconds(fleet) - before, machineCpu };
}

/**
 * Runs `count` rounds of the tools, the order reversed every other round;
 * a tool listed in `fewer` takes part in only that many first rounds.
 */
export async function rounds(fleet: Fleet, label: string, tools: Record<string, () => Promise<ToolOutcome>>, count: number, fewer: Record<string, number> = {}): Promise<Samples> {
  const samples: Samples = Object.fromEntries(Object.keys(tools).map((name) => [name, []]));
  for (let round = 1; round <= count; round++) {
    const names = Object.keys(tools).filter((name) => round <= (fewer[name] ?? count));
    if (round % 2 === 0) names.reverse();
    const line: string[] = [];
    for (const name of names) {
      const sample = await measure(fleet, tools[name]!);
      samples[name]!.push(sample);
      line.push(`${name} ${sec(sample.seconds)}`);
    }
    const opskit = samples.opskit!.at(-1)!.seconds;
    const ratios = names.filter((n) => n !== "opskit").map((n) => `${n}/opskit ${(samples[n]!.at(-1)!.seconds / opskit).toFixed(2)}x`);
    console.log(`fleet: ${label} round ${round}/${count}: ${line.join(", ")}; ${ratios.join(", ")}`);
  }
  return samples;
}

/** Per-round ratios of `anchor` to opskit, over the rounds both ran in. */
export function roundRatios(samples: Samples, anchor: string): string {
  return samples[anchor]!.map((s, i) => (s.seconds / samples.opskit![i]!.seconds).toFixed(2)).join(", ");
}

export function busyLine(samples: Samples): string {
  const all = Object.values(samples).flat().map((s) => s.busy);
  return `- cores busy with other work in the second before each run: median ${median(all)}%, max ${Math.max(...all)}% (each run waits up to ${QUIET_WAIT_MS / 1000} s for a second under 15%)`;
}
