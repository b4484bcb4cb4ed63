// Benchmark 2: 20,000 probes of local HTTP endpoints at concurrency 64.
// opskit: one `opskit probe -f FILE --concurrency 64` run, timed from spawn to
// exit (startup included). Anchor: a running prometheus-blackbox-exporter fed
// 20,000 /probe requests by wrk over 64 keep-alive connections. Both probe the
// same endpoints (one target-server process, several ports) with a fresh
// connection per probe. Rounds alternate the two sides, each run started in a
// quiet second where one comes; other work on a shared machine only ever
// slows a run, so the fastest round of each side counts (the medians are
// reported too). Goal: opskit's probes per second at least 4x blackbox's.
import { awaitQuiet } from "./machine.ts";
import { opskitBin, outDir, runToEnd, type Finished } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { driveBlackbox, startBlackbox, startTargetServer, type Blackbox, type TargetServer } from "./services.ts";

const PROBES = 20_000;
const CONCURRENCY = 64;
const PORTS = 8;
const ROUNDS = 5;
const WARMUP_PROBES = 2_000;
const GOAL_RATIO = 4;

interface SideRun {
  rate: number;
  seconds: number;
  /** user+sys of the prober: the opskit process, or the blackbox process during the run. */
  proberCpu: number;
  /** user+sys of the endpoints' process during the run. */
  serverCpu: number;
  driverCpu?: number;
  peakRssBytes?: number;
  /** opskit only: probes per second over the duration its summary reports. */
  probingRate?: number;
  note: string;
}

async function probeWithOpskit(file: string, expected: number): Promise<Finished> {
  const run = await runToEnd(
    [opskitBin, "probe", "-f", file, "--concurrency", String(CONCURRENCY), "--quiet", "--timeout", "30s"],
    120_000,
  );
  const summary = run.stdout.trim().split("\n").at(-1) ?? "";
  // --quiet prints only failures and the summary; exit 0 means every target was healthy.
  if (run.exitCode !== 0 || !summary.startsWith(`${expected} targets: ${expected} healthy`)) {
    throw new Error(`opskit run failed (exit ${run.exitCode}): ${run.stdout.slice(-2000)}${run.stderr.slice(-2000)}`);
  }
  return run;
}

async function measureOpskit(file: string, server: TargetServer): Promise<SideRun> {
  await server.settle();
  await server.reset();
  const serverBefore = server.cpuSeconds();
  const run = await probeWithOpskit(file, PROBES);
  const serverCpu = server.cpuSeconds() - serverBefore;
  const { served } = await server.stats();
  if (served !== PROBES) throw new Error(`endpoints served ${served} requests to opskit, expected ${PROBES}`);
  const summary = run.stdout.trim().split("\n").at(-1) ?? "";
  // The summary's own duration covers probing only: no startup, no reading of the target file.
  const own = /in ([\d.]+)(ms|s)$/.exec(summary);
  const probingSeconds = own ? Number(own[1]) / (own[2] === "ms" ? 1000 : 1) : NaN;
  return {
    rate: PROBES / run.wallSeconds,
    probingRate: PROBES / probingSeconds,
    seconds: run.wallSeconds,
    proberCpu: run.cpuSeconds,
    serverCpu,
    peakRssBytes: run.maxRssBytes,
    note: `summary "${summary}"; endpoints served ${served}`,
  };
}

async function measureBlackbox(blackbox: Blackbox, targets: string[], server: TargetServer): Promise<SideRun> {
  await server.settle();
  await server.reset();
  const [bbBefore, serverBefore, connsBefore] = [blackbox.cpuSeconds(), server.cpuSeconds(), await blackbox.connectionsEstablished()];
  const { report, run } = await driveBlackbox(blackbox, { targets, limit: PROBES, connections: CONCURRENCY, boundSeconds: 120 });
  const [proberCpu, serverCpu] = [blackbox.cpuSeconds() - bbBefore, server.cpuSeconds() - serverBefore];
  if (!report.complete || report.succeeded !== PROBES) {
    throw new Error(`blackbox run: ${report.succeeded} of ${report.responses} responses reported probe_success 1 (first failure: ${report.firstFailure})`);
  }
  const conns = (await blackbox.connectionsEstablished()) - connsBefore;
  const { served } = await server.stats();
  return {
    rate: PROBES / report.seconds,
    seconds: report.seconds,
    proberCpu,
    serverCpu,
    driverCpu: run.cpuSeconds,
    note: `${report.succeeded}/${report.responses} responses 200 with probe_success 1; ${conns} probe connections; endpoints served ${served} (wrk had sent ${report.sent}, the rest still in flight when it stopped)`,
  };
}

const byRate = (runs: SideRun[]) => [...runs].sort((a, b) => a.rate - b.rate);
const fastest = (runs: SideRun[]) => byRate(runs).at(-1)!;
const median = (runs: SideRun[]) => byRate(runs)[Math.floor(runs.length / 2)]!;
const sec = (s: number) => `${s.toFixed(2)} s`;
const perProbe = (cpu: number) => `${Math.round((cpu / PROBES) * 1e6)} µs/probe`;

export async function benchThroughput(): Promise<BenchResult> {
  const server = await startTargetServer(PORTS);
  const blackbox = await startBlackbox("throughput");
  try {
    const endpoints = server.ports.map((port) => `http://127.0.0.1:${port}/ok`);
    const file = `${outDir}/throughput-targets.txt`;
    const warmupFile = `${outDir}/throughput-warmup.txt`;
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `${endpoints[i % PORTS]}\n`).join("");
    await Bun.write(file, lines(PROBES));
    await Bun.write(warmupFile, lines(WARMUP_PROBES));

    console.log(`throughput: warmup, ${WARMUP_PROBES} probes each side`);
    await probeWithOpskit(warmupFile, WARMUP_PROBES);
    await driveBlackbox(blackbox, { targets: endpoints, limit: WARMUP_PROBES, connections: CONCURRENCY, boundSeconds: 60 });

    const opskitRuns: SideRun[] = [];
    const blackboxRuns: SideRun[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await awaitQuiet(10_000);
      const o = await measureOpskit(file, server);
      opskitRuns.push(o);
      await awaitQuiet(10_000);
      const b = await measureBlackbox(blackbox, endpoints, server);
      blackboxRuns.push(b);
      console.log(`throughput: round ${round}/${ROUNDS}: opskit ${Math.round(o.rate)}/s, blackbox ${Math.round(b.rate)}/s`);
    }

    const o = fastest(opskitRuns);
    const b = fastest(blackboxRuns);
    const ratio = o.rate / b.rate;
    const medianRatio = median(opskitRuns).rate / median(blackboxRuns).rate;
    const rates = (runs: SideRun[]) => runs.map((r) => Math.round(r.rate)).join(", ");
    return {
      name: "throughput",
      title: "2. 20,000 probes at concurrency 64",
      opskit: `${Math.round(o.rate)} probes/s`,
      anchor: `blackbox ${Math.round(b.rate)} probes/s`,
      ratio: `${ratio.toFixed(2)}x blackbox`,
      goal: `>= ${GOAL_RATIO}x blackbox`,
      met: ratio >= GOAL_RATIO,
      details: [
        `- opskit: **${Math.round(o.rate)} probes/s** in its fastest round (${sec(o.seconds)} from spawn to exit, startup included; rounds: ${rates(opskitRuns)}/s)`,
        `- opskit over the probing time its summary reports (startup and reading the target file left out): ${Math.round(o.probingRate ?? NaN)} probes/s = ${((o.probingRate ?? NaN) / b.rate).toFixed(2)}x blackbox`,
        `- blackbox_exporter: **${Math.round(b.rate)} probes/s** in its fastest round (${sec(b.seconds)} from wrk's first request to its 20,000th response; rounds: ${rates(blackboxRuns)}/s)`,
        `- ratio of the fastest rounds: **${ratio.toFixed(2)}x** (goal >= ${GOAL_RATIO}x): ${ratio >= GOAL_RATIO ? "met" : "NOT met"}; ratio of the median rounds ${medianRatio.toFixed(2)}x; per round (opskit's run against the blackbox run after it): ${opskitRuns.map((r, i) => (r.rate / blackboxRuns[i]!.rate).toFixed(2)).join(", ")}`,
        `- CPU (user+sys) in those fastest rounds: opskit process ${sec(o.proberCpu)} (${perProbe(o.proberCpu)}); blackbox process ${sec(b.proberCpu)} (${perProbe(b.proberCpu)}); wrk driver ${sec(b.driverCpu ?? NaN)}`,
        `- CPU of the endpoints' process: ${sec(o.serverCpu)} serving opskit, ${sec(b.serverCpu)} serving blackbox`,
        `- opskit peak RSS at concurrency 64: ${((o.peakRssBytes ?? 0) / 1e6).toFixed(1)} MB`,
        `- checks, opskit: exit 0 and ${o.note}`,
        `- checks, blackbox: ${b.note}`,
        `- setup: ${PORTS} endpoint ports of one Bun.serve process (GET /ok, 200 "ok"), targets cycled over the ports; ${ROUNDS} alternating rounds after a ${WARMUP_PROBES}-probe warmup of each side; blackbox module \`http_2xx\` (prober http, ip4, timeout 30s), opskit \`--timeout 30s\``,
      ],
    };
  } finally {
    await blackbox.stop();
    await server.stop();
  }
}
