// Benchmark "stop": a remote command past a 1 s deadline, on 1, 10 and 100
// loopback sshd hosts (test/harness/fleet.ts), twice: with OpenSSH's sshd as
// it comes, and with one whose sessions run under `ForceCommand eval
// "$SSH_ORIGINAL_COMMAND"`, for which sshd refuses signal requests.
//
// Each run starts `sleep 30.<digits>` on every host, the digits fresh per run
// so that the command line is that run's alone, and gives it one second:
//   - opskit exec 'name=*' --timeout 1s -- 'sleep 30.<digits>' (one exec channel per host)
//   - opskit run: a one-step workflow, the step on the long-lived remote shell, timeout: 1s
//   - a script: timeout 1s ssh -o BatchMode=yes ... HOST 'sleep 30.<digits>' & per host, then wait
//   - parallel-ssh -p N -t 1 ... 'sleep 30.<digits>'
// and measures the whole command's wall time from spawn to exit, start-up
// included, minus the 1 s: its lateness. While it runs, /proc is sampled for
// the remote sleeps (how many started); 2 s after it exited, pgrep counts
// those still alive (left behind), and then they are killed by pid. For
// opskit, each host's failure report (its step.finished line, timed as it
// arrives on stdout) is compared with that host's deadline: its remote
// sleep's start, read from /proc and told apart by SSH_CONNECTION, plus 1 s.
// (The step's own durationMs is no help: a failed step's counts from before
// connecting.)
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { startFleet, type Fleet } from "../test/harness/fleet.ts";
import { awaitFleetIdle } from "./fleet.ts";
import { awaitQuiet, busyCpuSeconds } from "./machine.ts";
import { opskitBin, outDir, runToEnd, type Finished } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { bootOnOurClock, killLeftovers, pgrep, remoteProcesses, runTimed, sampleSleeps, type SeenSleep, type TimedRun } from "./stop-watch.ts";
import { median } from "./stats.ts";

const SIZES = [1, 10, 100] as const;
const ROUNDS = 5;
const DEADLINE_MS = 1_000;
/** The goal: the failure reported within this long of the deadline, and nothing of the command left. */
const GOAL_MS = 100;
/** When remote processes still alive are counted, after the tool exited. */
const LEFTOVER_AFTER_MS = 2_000;
/** A run that takes longer is killed and fails the benchmark. */
const RUN_LIMIT_MS = 90_000;
const SAMPLE_EVERY_MS = 100;
const QUIET_WAIT_MS = 3_000;
const cores = availableParallelism();
const FORCED = 'ForceCommand eval "$SSH_ORIGINAL_COMMAND"';

type Variant = "openssh" | "forced";
type Tool = "exec" | "run" | "ssh" | "pssh";
const TOOLS: Tool[] = ["exec", "run", "ssh", "pssh"];
const VARIANTS: Record<Variant, { label: string; sshdConfig: string[] }> = {
  openssh: { label: "OpenSSH sshd", sshdConfig: [] },
  forced: { label: "sshd with ForceCommand (refuses signals)", sshdConfig: [FORCED] },
};

export interface StopSample {
  tool: Tool;
  variant: Variant;
  hosts: number;
  round: number;
  wallSeconds: number;
  /** Wall time minus the deadline. */
  latenessMs: number;
  /** Remote sleeps seen while it ran or after (distinct pids). */
  started: number;
  /** Remote sleeps still alive the moment it exited. */
  aliveAtExit: number;
  /** Remote sleeps alive LEFTOVER_AFTER_MS after it exited. */
  leftover: number;
  /** Every remote process whose command line holds the sleep's (sleeps and the shells around them) then. */
  leftoverProcesses: number;
  /** opskit only: per host, when its step.finished line arrived, after its deadline (its remote sleep's start + 1 s). */
  reportedAfterMs: number[];
  /** opskit only: hosts whose report could not be paired with a remote sleep's start. */
  unpaired: number;
  /** opskit only: from the last host's deadline to the process's exit. */
  exitAfterLastDeadlineMs: number;
  /** user+sys of the tool and the children it waited for (ssh clients). */
  cpuSeconds: number;
  /** CPU seconds the whole machine spent busy during the run: the tool, the hosts' sshd and shells, any other work. */
  machineCpuSeconds: number;
  /** Cores busy with other work in the second before the run. */
  busy: number;
}

interface StopSetup {
  fleet: Fleet;
  variant: Variant;
  dir: string;
  env: Record<string, string | undefined>;
  /** Boot time on performance.now()'s clock (bootOnOurClock). */
  boot: number;
}

const uniqueSleep = () => `30.${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;

// JSON keeps every value a valid YAML scalar, whatever the path holds.
const yamlValue = (value: string | number) => JSON.stringify(value);

// 100 connections starting at once on this 2-core machine (the hosts share
// the cores with opskit) can take longer than the default 10 s to
// authenticate; connecting is not what is measured.
function opskitYaml(setup: StopSetup, hosts: number, sleep: string): string {
  return [
    "# opskit's side of the stop benchmark (bench/stop.ts); written at each run.",
    "inventory:",
    "  hosts:",
    ...setup.fleet.hosts.slice(0, hosts).map((h) => `    ${h.name}: { address: ${yamlValue(h.address)}, port: ${h.port} }`),
    "defaults:",
    `  user: ${yamlValue(setup.fleet.user)}`,
    `  key: ${yamlValue(setup.fleet.identityFile)}`,
    `  knownHosts: ${yamlValue(setup.fleet.knownHostsFile)}`,
    "  hostKeyChecking: strict",
    "  connectTimeout: 60s",
    "  authTimeout: 60s",
    "workflows:",
    "  stop:",
    "    targets: name=*",
    `    strategy: { parallel: { concurrency: ${hosts} } }`,
    "    steps:",
    `      - { name: hang, ssh: ${yamlValue(`sleep ${sleep}`)}, timeout: 1s }`,
    "",
  ].join("\n");
}

const sshOptions = (fleet: Fleet) => [
  "-o", "BatchMode=yes", "-i", fleet.identityFile, "-o", `UserKnownHostsFile=${fleet.knownHostsFile}`, "-o", "StrictHostKeyChecking=yes",
];

/** The script a team would write: every host's ssh in the background under timeout 1s, then wait. */
function sshScript(fleet: Fleet, hosts: number): string {
  const addresses = fleet.hosts.slice(0, hosts).map((h) => h.address).join(" ");
  return [
    "#!/bin/sh",
    "# The anchor of the stop benchmark (bench/stop.ts): $1 is the sleep's duration.",
    `for host in ${addresses}; do`,
    `  timeout 1s ssh ${sshOptions(fleet).join(" ")} -p ${fleet.hosts[0]!.port} -l ${fleet.user} "$host" "sleep $1" &`,
    "done",
    "wait",
    "",
  ].join("\n");
}

interface StepEvent {
  type: string;
  target?: string;
  result?: { error?: { code?: string } };
}

interface Reports {
  reportedAfterMs: number[];
  unpaired: number;
  exitAfterLastDeadlineMs: number;
}

/**
 * An opskit run counts only if it exited 2 with every host's step failed by
 * the timeout. Each host's report is timed against its own deadline: the
 * start of the sleep on its address, plus 1 s.
 */
function checkOpskit(setup: StopSetup, tool: Tool, run: TimedRun, hosts: number, seen: Map<number, SeenSleep>): Reports {
  const steps = run.lines
    .filter((line) => line.text.startsWith("{"))
    .map((line) => ({ at: line.at, event: JSON.parse(line.text) as StepEvent }))
    .filter((e) => e.event.type === "step.finished");
  const timedOut = steps.filter((s) => s.event.result?.error?.code === "E_SSH_COMMAND_TIMEOUT");
  if (run.exitCode !== 2 || timedOut.length !== hosts) {
    throw new Error(`opskit ${tool}: ${timedOut.length} of ${hosts} steps timed out (exit ${run.exitCode})\n${run.stdout.slice(-1500)}${run.stderr.slice(-1500)}`);
  }
  const started = new Map([...seen.values()].filter((s) => s.address && Number.isFinite(s.startedAt)).map((s) => [s.address!, s.startedAt]));
  const reportedAfterMs: number[] = [];
  let lastDeadline = -Infinity;
  for (const step of timedOut) {
    const start = started.get(setup.fleet.hosts.find((h) => h.name === step.event.target)?.address ?? "");
    if (start === undefined) continue;
    reportedAfterMs.push(step.at - (start + DEADLINE_MS));
    lastDeadline = Math.max(lastDeadline, start + DEADLINE_MS);
  }
  return { reportedAfterMs, unpaired: hosts - reportedAfterMs.length, exitAfterLastDeadlineMs: run.exitedAt - lastDeadline };
}

function command(setup: StopSetup, tool: Tool, hosts: number, sleep: string): string[] {
  const { dir } = setup;
  const config = `${dir}/opskit-${hosts}.yaml`;
  const journal = `${dir}/journal.db`;
  switch (tool) {
    case "exec":
      return [opskitBin, "exec", "name=*", "--concurrency", String(hosts), "--timeout", "1s", "--json", "-c", config, "--journal", journal, "--", `sleep ${sleep}`];
    case "run":
      return [opskitBin, "run", "stop", "--json", "-c", config, "--journal", journal];
    case "ssh":
      return ["sh", `${dir}/ssh-timeout-${hosts}.sh`, sleep];
    case "pssh":
      return ["parallel-ssh", "-h", `${dir}/pssh-hosts-${hosts}.txt`, "-l", setup.fleet.user, "-p", String(hosts), "-t", "1", "-x", sshOptions(setup.fleet).join(" "), `sleep ${sleep}`];
  }
}

/** One run of one tool: its lateness, the remote sleeps it started and those it left. */
async function measure(setup: StopSetup, tool: Tool, hosts: number, round: number): Promise<StopSample> {
  const { fleet } = setup;
  await awaitFleetIdle(fleet);
  const busy = await awaitQuiet(QUIET_WAIT_MS);
  const sleep = uniqueSleep();
  if (tool === "exec" || tool === "run") await Bun.write(`${setup.dir}/opskit-${hosts}.yaml`, opskitYaml(setup, hosts, sleep));
  const sampler = sampleSleeps(sleep, setup.boot, SAMPLE_EVERY_MS);
  const machineBefore = busyCpuSeconds();
  let run: TimedRun;
  try {
    run = await runTimed(command(setup, tool, hosts, sleep), setup.env, RUN_LIMIT_MS);
  } finally {
    sampler.stop();
  }
  const machineCpuSeconds = busyCpuSeconds() - machineBefore;
  try {
    const atExit = sampler.look();
    let reports: Reports = { reportedAfterMs: [], unpaired: 0, exitAfterLastDeadlineMs: NaN };
    if (tool === "exec" || tool === "run") reports = checkOpskit(setup, tool, run, hosts, sampler.seen);
    else checkAnchor(tool, run, hosts);
    await Bun.sleep(LEFTOVER_AFTER_MS);
    const leftover = pgrep(["-u", fleet.user, "-f", "-x", `sleep ${sleep.replace(".", "\\.")}`]);
    const seen = new Set([...sampler.seen.keys(), ...leftover]);
    return {
      tool,
      variant: setup.variant,
      hosts,
      round,
      wallSeconds: run.wallSeconds,
      latenessMs: run.wallSeconds * 1000 - DEADLINE_MS,
      started: seen.size,
      aliveAtExit: atExit.length,
      leftover: leftover.length,
      leftoverProcesses: remoteProcesses(fleet, sleep).length,
      ...reports,
      cpuSeconds: run.cpuSeconds,
      machineCpuSeconds,
      busy,
    };
  } finally {
    await killLeftovers(fleet, sleep);
  }
}

/** An anchor run counts only if no host refused the login: every host's ssh was cut off by the deadline. */
function checkAnchor(tool: Tool, run: Finished, hosts: number): void {
  const refused = /Permission denied|Host key verification failed|Connection refused|REMOTE HOST IDENTIFICATION/;
  if (refused.test(run.stderr) || refused.test(run.stdout)) throw new Error(`${tool}: a host refused the login\n${run.stdout.slice(-1500)}${run.stderr.slice(-1500)}`);
  if (tool === "pssh") {
    const timedOut = run.stdout.split("\n").filter((l) => / \[FAILURE\] .*Timed out/.test(l)).length;
    if (timedOut !== hosts) throw new Error(`parallel-ssh: ${timedOut} of ${hosts} hosts timed out (exit ${run.exitCode})\n${run.stdout.slice(-1500)}${run.stderr.slice(-1500)}`);
  } else if (run.exitCode !== 0) {
    throw new Error(`timeout + ssh script: exit ${run.exitCode}\n${run.stderr.slice(-1500)}`);
  }
}

/** Each tool once on one host, untimed, checked: the logins work and the page cache holds what every run reads. */
async function warmUp(setup: StopSetup): Promise<void> {
  const { fleet } = setup;
  const host = fleet.hosts[0]!;
  const probe = await runToEnd(["ssh", ...sshOptions(fleet), "-p", String(host.port), "-l", fleet.user, host.address, "echo ok"], 30_000, setup.env);
  if (probe.stdout.trim() !== "ok") throw new Error(`ssh to ${host.address}:${host.port} failed (exit ${probe.exitCode}): ${probe.stderr.slice(-1500)}`);
  for (const tool of TOOLS) await measure(setup, tool, 1, 0);
}

async function prepare(fleet: Fleet, variant: Variant, dir: string): Promise<StopSetup> {
  for (const hosts of SIZES) {
    await Bun.write(`${dir}/ssh-timeout-${hosts}.sh`, sshScript(fleet, hosts));
    await Bun.write(`${dir}/pssh-hosts-${hosts}.txt`, fleet.hosts.slice(0, hosts).map((h) => `${h.address}:${h.port}\n`).join(""));
  }
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  return { fleet, variant, dir, env, boot: await bootOnOurClock() };
}

/** All rounds on one fleet: for each size, ROUNDS rounds of the four tools, the order reversed every other round. */
async function measureVariant(variant: Variant, sizes: readonly number[], rounds: number): Promise<StopSample[]> {
  const largest = Math.max(...sizes);
  const fleet = await startFleet({ size: largest, sshdConfig: VARIANTS[variant].sshdConfig });
  const dir = await mkdtemp(join(tmpdir(), "opskit-bench-stop-"));
  const samples: StopSample[] = [];
  try {
    const setup = await prepare(fleet, variant, dir);
    console.log(`stop: ${VARIANTS[variant].label}, ${largest} hosts on 127.0.0.2-${fleet.hosts.at(-1)!.address}:${fleet.hosts[0]!.port}`);
    await warmUp(setup);
    for (const hosts of sizes) {
      for (let round = 1; round <= rounds; round++) {
        const order = round % 2 === 0 ? [...TOOLS].reverse() : TOOLS;
        const line: string[] = [];
        for (const tool of order) {
          const sample = await measure(setup, tool, hosts, round);
          samples.push(sample);
          line.push(`${tool} +${Math.round(sample.latenessMs)} ms (${sample.started} started, ${sample.leftover} left)`);
        }
        console.log(`stop: ${variant}, ${hosts} hosts, round ${round}/${rounds}: ${line.join(", ")}`);
      }
    }
    return samples;
  } finally {
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every sample of both sshd variants; exported for a shorter run while working on this file. */
export async function measureStop(sizes: readonly number[] = SIZES, rounds = ROUNDS): Promise<StopSample[]> {
  const samples: StopSample[] = [];
  for (const variant of Object.keys(VARIANTS) as Variant[]) samples.push(...(await measureVariant(variant, sizes, rounds)));
  return samples;
}

const msText = (value: number) => `${Math.round(value)} ms`;
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const late = (ms: number) => (Math.abs(ms) >= 1000 ? sec(ms) : msText(ms));
const hostsText = (n: number) => `${n} host${n === 1 ? "" : "s"}`;

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

interface CaseFigures {
  runs: number;
  medianMs: number;
  maxMs: number;
  all: string;
  started: number[];
  aliveAtExit: number;
  leftover: number[];
  leftoverProcesses: number;
  reportedAfterMs: number[];
  unpaired: number;
  exitAfterLastDeadlineMs: number[];
  cpuSeconds: number;
  machineCpuSeconds: number;
  /** How busy the machine's cores were during the runs (median), 0-100%. */
  busyDuring: number;
}

function figures(samples: StopSample[]): CaseFigures {
  const lateness = samples.map((s) => s.latenessMs);
  return {
    runs: samples.length,
    medianMs: median(lateness),
    maxMs: Math.max(...lateness),
    all: lateness.map((ms) => Math.round(ms)).join(", "),
    started: samples.map((s) => s.started),
    aliveAtExit: Math.max(...samples.map((s) => s.aliveAtExit)),
    leftover: samples.map((s) => s.leftover),
    leftoverProcesses: samples.reduce((sum, s) => sum + s.leftoverProcesses, 0),
    reportedAfterMs: samples.flatMap((s) => s.reportedAfterMs),
    unpaired: sum(samples.map((s) => s.unpaired)),
    exitAfterLastDeadlineMs: samples.map((s) => s.exitAfterLastDeadlineMs).filter(Number.isFinite),
    cpuSeconds: median(samples.map((s) => s.cpuSeconds)),
    machineCpuSeconds: median(samples.map((s) => s.machineCpuSeconds)),
    busyDuring: median(samples.map((s) => (100 * s.machineCpuSeconds) / (s.wallSeconds * cores))),
  };
}

const cpuLine = (name: string, f: CaseFigures) =>
  `${name} ${f.cpuSeconds.toFixed(2)} s of its own, the machine ${f.machineCpuSeconds.toFixed(2)} s (cores ${Math.round(f.busyDuring)}% busy)`;

const range = (values: number[]) => (Math.min(...values) === Math.max(...values) ? `${values[0]}` : `${Math.min(...values)}-${Math.max(...values)}`);

function anchorLine(name: string, how: string, f: CaseFigures, hosts: number): string {
  const neverRan = hosts * f.runs - sum(f.started);
  return `- ${name} (${how}): lateness median **${late(f.medianMs)}**, max ${late(f.maxMs)} over ${f.runs} runs (${f.all} ms); remote sleeps started ${range(f.started)} of ${hosts} per run${neverRan > 0 ? ` (${neverRan} of ${hosts * f.runs} never started: the deadline ran out while ssh was still connecting)` : ""}; left running 2 s after it exited: **${range(f.leftover)}** per run (${sum(f.leftover)} of ${sum(f.started)} started; ${f.leftoverProcesses} process${f.leftoverProcesses === 1 ? "" : "es"} with their shells)`;
}

/** The 100-ms goal: every failure reported within GOAL_MS of its deadline, and no remote process left. */
const goalMet = (o: CaseFigures) => o.reportedAfterMs.length > 0 && Math.max(...o.reportedAfterMs) <= GOAL_MS && sum(o.leftover) === 0;
const signed = (ms: number) => `${ms >= 0 ? "+" : "-"}${msText(Math.abs(ms))}`;

function caseResult(index: number, tool: "exec" | "run", variant: Variant, hosts: number, samples: StopSample[]): BenchResult {
  const pick = (t: Tool, n = hosts) => figures(samples.filter((s) => s.tool === t && s.variant === variant && s.hosts === n));
  const o = pick(tool);
  const ssh = pick("ssh");
  const pssh = pick("pssh");
  const reported = [...o.reportedAfterMs].sort((a, b) => a - b);
  const met = goalMet(o);
  const ratio = o.medianMs / ssh.medianMs;
  const how =
    tool === "exec"
      ? `\`opskit exec 'name=*' --concurrency ${hosts} --timeout 1s --json -- 'sleep 30.<digits>'\`, one exec channel per host`
      : `\`opskit run stop --json\`, one step \`{ ssh: 'sleep 30.<digits>', timeout: 1s }\` on each host's long-lived remote shell, strategy parallel, concurrency ${hosts}`;
  const growth = SIZES.map((n) => {
    const g = pick(tool, n);
    const a = pick("ssh", n);
    return `${hostsText(n)} ${late(g.medianMs)} (${(g.medianMs / pick(tool, 1).medianMs).toFixed(1)}x; script ${late(a.medianMs)})`;
  });
  return {
    name: "stop",
    title: `T${index}. ${tool === "exec" ? "exec --timeout 1s" : "run, step timeout 1s"}, ${hostsText(hosts)}, ${variant === "openssh" ? "OpenSSH sshd" : "ForceCommand sshd"}`,
    opskit: `+${late(o.medianMs)} (max +${late(o.maxMs)}); report ${signed(Math.max(...o.reportedAfterMs))} max; ${sum(o.leftover)} left`,
    anchor: `timeout+ssh +${late(ssh.medianMs)} (max +${late(ssh.maxMs)}), ${sum(ssh.leftover)} of ${sum(ssh.started)} left`,
    ratio: `${ratio.toFixed(1)}x the script's lateness`,
    goal: `report <= ${GOAL_MS} ms after deadline, 0 left`,
    met,
    details: [
      `- sshd: ${VARIANTS[variant].label}${variant === "forced" ? ` (\`${FORCED}\`)` : ""}; ${hostsText(hosts)}; lateness = wall time from spawn to exit (start-up, connecting and authenticating included) minus the 1 s deadline`,
      `- opskit (${how}): lateness median **${late(o.medianMs)}**, max ${late(o.maxMs)} over ${o.runs} runs (${o.all} ms); remote sleeps started ${range(o.started)} of ${hosts} per run; still alive when it exited: at most ${o.aliveAtExit}; left running 2 s after it exited: **${sum(o.leftover)}** (${o.leftoverProcesses} processes in all)`,
      `- every host's step failed with E_SSH_COMMAND_TIMEOUT. Each failure's report (its step.finished line reaching stdout) against that host's deadline, the remote sleep's start (/proc, on its address) + 1 s: median ${signed(median(reported))}, p90 ${signed(reported[Math.floor(reported.length * 0.9)]!)}, max **${signed(reported.at(-1)!)}** over ${reported.length} hosts${o.unpaired > 0 ? ` (${o.unpaired} not paired with a sleep's start)` : ""}; negative where opskit's clock, which starts as it asks for the channel, ran out before the command's own second did. From the last host's deadline to opskit's exit: median ${signed(median(o.exitAfterLastDeadlineMs))}, max ${signed(Math.max(...o.exitAfterLastDeadlineMs))}. Goal, every report <= ${GOAL_MS} ms after its deadline with nothing left: ${met ? "met" : "NOT met"}`,
      anchorLine("script", `\`timeout 1s ssh -o BatchMode=yes ... HOST 'sleep 30.<digits>' &\` per host, then \`wait\``, ssh, hosts),
      anchorLine("parallel-ssh", `\`parallel-ssh -p ${hosts} -t 1 ... 'sleep 30.<digits>'\``, pssh, hosts),
      `- ratio of median lateness, opskit to the script: **${ratio.toFixed(2)}x**; to parallel-ssh: ${(o.medianMs / pssh.medianMs).toFixed(2)}x. The anchors' 1 s counts from their start, connecting included, and their commands run on`,
      `- CPU per run (user+sys, medians): ${cpuLine("opskit", o)}; ${cpuLine("script (ssh clients included)", ssh)}; ${cpuLine("parallel-ssh (ssh clients included)", pssh)}. The hosts' sshd and shells share the same ${cores} cores with the tools: every connection and every stop (a session and a shell on the host) is paid there`,
      `- growth, median lateness at 1, 10 and 100 hosts (against 1 host): ${growth.join(", ")}`,
    ],
  };
}

function figuresTable(samples: StopSample[]): string[] {
  const rows: string[] = [];
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    for (const hosts of SIZES) {
      const pick = (t: Tool) => figures(samples.filter((s) => s.tool === t && s.variant === variant && s.hosts === hosts));
      const [exec, run, ssh, pssh] = [pick("exec"), pick("run"), pick("ssh"), pick("pssh")];
      const cell = (f: CaseFigures) => `${late(f.medianMs)} / ${late(f.maxMs)}`;
      const left = (f: CaseFigures) => `${sum(f.leftover)}/${sum(f.started)}`;
      const reported = (f: CaseFigures) => signed(Math.max(...f.reportedAfterMs));
      rows.push(
        `| ${variant === "openssh" ? "OpenSSH" : "ForceCommand"} | ${hosts} | ${cell(exec)} | ${cell(run)} | ${cell(ssh)} | ${cell(pssh)} | ${(exec.medianMs / ssh.medianMs).toFixed(1)}x / ${(run.medianMs / ssh.medianMs).toFixed(1)}x | ${left(exec)} | ${left(run)} | ${left(ssh)} | ${left(pssh)} | ${reported(exec)} / ${reported(run)} | ${goalMet(exec) ? "yes" : "NO"} / ${goalMet(run) ? "yes" : "NO"} |`,
      );
    }
  }
  return [
    `- all cases, ${ROUNDS} runs each: lateness median / max; left = remote sleeps alive 2 s after exit / started, summed over the runs; reported = opskit's latest failure report against that host's deadline (remote sleep's start + 1 s)`,
    "",
    "| sshd | hosts | exec lateness | run lateness | timeout+ssh lateness | pssh lateness | ratio exec / run to script | exec left | run left | script left | pssh left | reported, exec / run | goal, exec / run |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ];
}

export function stopResults(samples: StopSample[]): BenchResult[] {
  const results: BenchResult[] = [];
  let index = 1;
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    for (const tool of ["exec", "run"] as const) {
      for (const hosts of SIZES) results.push(caseResult(index++, tool, variant, hosts, samples));
    }
  }
  const busy = samples.map((s) => s.busy);
  results[0]!.details.unshift(
    ...figuresTable(samples),
    `- cores busy with other work in the second before each run: median ${median(busy)}%, max ${Math.max(...busy)}% (each run waits up to ${QUIET_WAIT_MS / 1000} s for a second under 15%)`,
  );
  return results;
}

export async function benchStop(): Promise<BenchResult[]> {
  const samples = await measureStop();
  await Bun.write(`${outDir}/stop-samples.json`, `${JSON.stringify(samples, null, 2)}\n`);
  return stopResults(samples);
}
