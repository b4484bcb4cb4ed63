// Benchmark 2: 20,000 distinct HTTP targets at concurrency 64, all served by
// one nginx (bench/nginx.ts). opskit: one `opskit probe -f FILE --concurrency
// 64` run, timed from spawn to exit (startup included). Anchor: a running
// prometheus-blackbox-exporter fed the same 20,000 targets as /probe requests
// by wrk over 64 keep-alive connections. Each side opens a fresh connection
// per probe. Rounds alternate the two sides, each run started in a quiet
// second where one comes; other work on a shared machine only ever slows a
// run, so the fastest round of each side counts (the medians are reported
// too). Goal: opskit's probes per second at 20,000 targets at least 4x
// blackbox's. The same measurement at 200 and 2,000 targets makes the
// cost-growth table.
import { awaitQuiet } from "./machine.ts";
import { startNginx, type Nginx } from "./nginx.ts";
import { opskitBin, outDir, runToEnd, type Finished } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { driveBlackbox, startBlackbox, type Blackbox } from "./services.ts";

const PROBES = 20_000;
/** The cost-growth sizes: 1x, 10x and 100x; the goal is judged at the last. */
const SIZES = [200, 2_000, PROBES];
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
  /** user+sys of nginx (master and workers) during the run. */
  serverCpu: number;
  driverCpu?: number;
  peakRssBytes?: number;
  /** opskit only: probes per second over the duration its summary reports. */
  probingRate?: number;
  note: string;
}

interface SizeRuns {
  size: number;
  opskit: SideRun[];
  blackbox: SideRun[];
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

async function measureOpskit(file: string, size: number, server: Nginx): Promise<SideRun> {
  await server.settle();
  await server.reset();
  const serverBefore = server.cpuSeconds();
  const run = await probeWithOpskit(file, size);
  const serverCpu = server.cpuSeconds() - serverBefore;
  const served = await server.served();
  if (served !== size) throw new Error(`nginx served ${served} requests to opskit, expected ${size}`);
  const summary = run.stdout.trim().split("\n").at(-1) ?? "";
  // The summary's own duration covers probing only: no startup, no reading of the target file.
  const own = /in ([\d.]+)(ms|s)$/.exec(summary);
  const probingSeconds = own ? Number(own[1]) / (own[2] === "ms" ? 1000 : 1) : NaN;
  return {
    rate: size / run.wallSeconds,
    probingRate: size / probingSeconds,
    seconds: run.wallSeconds,
    proberCpu: run.cpuSeconds,
    serverCpu,
    peakRssBytes: run.maxRssBytes,
    note: `summary "${summary}"; nginx served ${served}`,
  };
}

async function measureBlackbox(blackbox: Blackbox, targets: string[], server: Nginx): Promise<SideRun> {
  const size = targets.length;
  await server.settle();
  await server.reset();
  const [bbBefore, serverBefore, connsBefore] = [blackbox.cpuSeconds(), server.cpuSeconds(), await blackbox.connectionsEstablished()];
  const { report, run } = await driveBlackbox(blackbox, { targets, limit: size, connections: CONCURRENCY, boundSeconds: 120 });
  const [proberCpu, serverCpu] = [blackbox.cpuSeconds() - bbBefore, server.cpuSeconds() - serverBefore];
  if (!report.complete || report.succeeded !== size) {
    throw new Error(`blackbox run: ${report.succeeded} of ${report.responses} responses reported probe_success 1 (first failure: ${report.firstFailure})`);
  }
  const conns = (await blackbox.connectionsEstablished()) - connsBefore;
  const served = await server.served();
  return {
    rate: size / report.seconds,
    seconds: report.seconds,
    proberCpu,
    serverCpu,
    driverCpu: run.cpuSeconds,
    note: `${report.succeeded}/${report.responses} responses 200 with probe_success 1; ${conns} probe connections; nginx served ${served} (wrk had sent ${report.sent}, the rest still in flight when it stopped)`,
  };
}

const byRate = (runs: SideRun[]) => [...runs].sort((a, b) => a.rate - b.rate);
const fastest = (runs: SideRun[]) => byRate(runs).at(-1)!;
const median = (runs: SideRun[]) => byRate(runs)[Math.floor(runs.length / 2)]!;
const sec = (s: number) => `${s.toFixed(2)} s`;
const perProbe = (cpu: number, size: number) => `${Math.round((cpu / size) * 1e6)} µs/probe`;

/** ROUNDS alternating rounds of both sides at one size. */
async function measureSize(size: number, targets: string[], blackbox: Blackbox, server: Nginx): Promise<SizeRuns> {
  const file = `${outDir}/throughput-targets-${size}.txt`;
  await Bun.write(file, targets.slice(0, size).map((url) => `${url}\n`).join(""));
  const runs: SizeRuns = { size, opskit: [], blackbox: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    await awaitQuiet(10_000);
    const o = await measureOpskit(file, size, server);
    runs.opskit.push(o);
    await awaitQuiet(10_000);
    const b = await measureBlackbox(blackbox, targets.slice(0, size), server);
    runs.blackbox.push(b);
    console.log(`throughput: ${size} targets, round ${round}/${ROUNDS}: opskit ${Math.round(o.rate)}/s, blackbox ${Math.round(b.rate)}/s`);
  }
  return runs;
}

/** Time per target at each size against the smallest: 1.00 is linear cost; above it, cost grows faster than the work. */
function costGrowth(all: SizeRuns[]): string[] {
  const [first] = all;
  const perTarget = (run: SideRun, size: number) => (run.seconds / size) * 1e6;
  const rows = all.map(({ size, opskit, blackbox }) => {
    const o = fastest(opskit);
    const b = fastest(blackbox);
    const oGrowth = perTarget(o, size) / perTarget(fastest(first!.opskit), first!.size);
    const bGrowth = perTarget(b, size) / perTarget(fastest(first!.blackbox), first!.size);
    return `| ${size.toLocaleString("en-US")} | ${sec(o.seconds)} | ${Math.round(o.rate)}/s | ${perTarget(o, size).toFixed(1)} µs (${oGrowth.toFixed(2)}) | ${sec(b.seconds)} | ${Math.round(b.rate)}/s | ${perTarget(b, size).toFixed(1)} µs (${bGrowth.toFixed(2)}) | ${(o.rate / b.rate).toFixed(2)}x |`;
  });
  return [
    "- cost growth (fastest round of each side at each size; time per target, and in brackets its ratio to the time per target at 200):",
    "",
    "| targets | opskit wall | opskit rate | opskit time/target | blackbox time | blackbox rate | blackbox time/target | opskit/blackbox |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ];
}

export async function benchThroughput(): Promise<BenchResult> {
  const server = await startNginx(PORTS);
  const blackbox = await startBlackbox("throughput");
  try {
    // Distinct URLs, cycled over the ports; a smaller size probes the first ones.
    const targets = Array.from({ length: PROBES }, (_, i) => `http://127.0.0.1:${server.ports[i % PORTS]}/ok/${i}`);
    const warmupFile = `${outDir}/throughput-warmup.txt`;
    await Bun.write(warmupFile, targets.slice(0, WARMUP_PROBES).map((url) => `${url}\n`).join(""));

    console.log(`throughput: warmup, ${WARMUP_PROBES} probes each side`);
    await probeWithOpskit(warmupFile, WARMUP_PROBES);
    await driveBlackbox(blackbox, { targets: targets.slice(0, WARMUP_PROBES), limit: WARMUP_PROBES, connections: CONCURRENCY, boundSeconds: 60 });

    const all: SizeRuns[] = [];
    for (const size of SIZES) all.push(await measureSize(size, targets, blackbox, server));
    const { opskit: opskitRuns, blackbox: blackboxRuns } = all.at(-1)!;

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
        `- CPU (user+sys) in those fastest rounds: opskit process ${sec(o.proberCpu)} (${perProbe(o.proberCpu, PROBES)}); blackbox process ${sec(b.proberCpu)} (${perProbe(b.proberCpu, PROBES)}); wrk driver ${sec(b.driverCpu ?? NaN)}`,
        `- CPU of nginx (master and workers): ${sec(o.serverCpu)} serving opskit, ${sec(b.serverCpu)} serving blackbox`,
        `- opskit peak RSS at concurrency 64: ${((o.peakRssBytes ?? 0) / 1e6).toFixed(1)} MB`,
        ...costGrowth(all),
        `- checks, opskit: exit 0 and ${o.note}`,
        `- checks, blackbox: ${b.note}`,
        `- setup: one nginx (worker_processes auto, access_log off) listening on ${PORTS} loopback ports from a config file the benchmark writes, \`GET /ok/N\` answering 200 "ok"; ${PROBES.toLocaleString("en-US")} distinct target URLs \`http://127.0.0.1:PORT/ok/N\` cycled over the ports (a smaller size probes the first ones); ${ROUNDS} alternating rounds at each size after a ${WARMUP_PROBES}-probe warmup of each side; blackbox module \`http_2xx\` (prober http, ip4, timeout 30s), opskit \`--timeout 30s\``,
      ],
    };
  } finally {
    await blackbox.stop();
    await server.stop();
  }
}
