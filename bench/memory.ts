// Benchmark 3: peak RSS of opskit with 10,000 probes in flight at once,
// against endpoints that answer only after several seconds, so that every
// probe is open together (the endpoints count the most requests they held at
// once, and the run's wall time must stay under twice the delay). Measured
// with GNU time (getrusage's ru_maxrss). Goal: at most 200 MB. For
// comparison, blackbox_exporter's peak RSS (VmHWM) with as many /probe
// requests in flight as the descriptor limit allows.
import { readFileSync } from "node:fs";
import { opskitBin, outDir, runToEnd } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { driveBlackbox, startBlackbox, startTargetServer, type TargetServer } from "./services.ts";

const IN_FLIGHT = 10_000;
const DELAY_MS = 6_000;
const PORTS = 4;
const GOAL_BYTES = 200e6;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function openFilesLimit(): number {
  const line = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return line ? Number(line[1]) : 1024;
}

/** blackbox_exporter's peak RSS holding `inFlight` probes, each a socket from wrk and one to the endpoints. */
async function blackboxPeak(server: TargetServer, endpoints: string[], inFlight: number): Promise<{ peak: number; held: number; succeeded: number; seconds: number }> {
  const blackbox = await startBlackbox("memory");
  try {
    await server.settle();
    await server.reset();
    const { report } = await driveBlackbox(blackbox, { targets: endpoints, limit: inFlight, connections: inFlight, boundSeconds: 60 });
    const { maxInFlight } = await server.stats();
    return { peak: blackbox.peakRssBytes(), held: maxInFlight, succeeded: report.succeeded, seconds: report.seconds };
  } finally {
    await blackbox.stop();
  }
}

/** The cost growth: peak RSS with 100, 1,000 and 10,000 probes in flight. */
const GROWTH_IN_FLIGHT = [100, 1_000, IN_FLIGHT];

/** opskit's peak RSS (GNU time) holding `inFlight` probes of the slow endpoints at once. */
async function opskitPeak(server: TargetServer, endpoints: string[], inFlight: number): Promise<{ peak: number; wall: number; user: number; sys: number; summary: string; maxInFlight: number }> {
  const file = `${outDir}/memory-targets-${inFlight}.txt`;
  await Bun.write(file, Array.from({ length: inFlight }, (_, i) => `${endpoints[i % PORTS]}\n`).join(""));
  console.log(`memory: opskit, ${inFlight} probes in flight, endpoints answer after ${DELAY_MS} ms`);
  // What an earlier run left in flight (blackbox's probes outlive wrk's stop) ends first.
  await server.settle();
  await server.reset();
  const timeFile = `${outDir}/memory-opskit-time.txt`;
  const run = await runToEnd(
    ["/usr/bin/time", "-f", "%M %e %U %S", "-o", timeFile,
      opskitBin, "probe", "-f", file, "--concurrency", String(inFlight), "--quiet", "--timeout", "30s"],
    90_000,
  );
  const summary = run.stdout.trim().split("\n").at(-1) ?? "";
  if (run.exitCode !== 0 || !summary.startsWith(`${inFlight} targets: ${inFlight} healthy`)) {
    throw new Error(`opskit run failed (exit ${run.exitCode}): ${run.stdout.slice(-2000)}${run.stderr.slice(-2000)}`);
  }
  const [maxRssKiB, wall, user, sys] = (await Bun.file(timeFile).text()).trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number, number];
  const { maxInFlight } = await server.stats();
  const together = maxInFlight >= inFlight && wall < (2 * DELAY_MS) / 1000;
  if (!together) throw new Error(`the probes were not all in flight together: the endpoints held at most ${maxInFlight} at once; wall ${wall} s for a ${DELAY_MS} ms delay`);
  return { peak: maxRssKiB * 1024, wall, user, sys, summary, maxInFlight };
}

export async function benchMemory(): Promise<BenchResult> {
  const limit = openFilesLimit();
  if (limit < IN_FLIGHT + 100) throw new Error(`ulimit -n is ${limit}: 10,000 probes in flight need more descriptors (bench/run.sh raises it)`);
  const server = await startTargetServer(PORTS, DELAY_MS);
  try {
    const endpoints = server.ports.map((port) => `http://127.0.0.1:${port}/slow`);
    // blackbox needs two sockets per probe; keep within this machine's descriptor limit.
    const bbInFlight = Math.min(IN_FLIGHT, Math.floor((limit - 200) / 2));
    const growth: { inFlight: number; opskit: number; blackbox: number; blackboxInFlight: number }[] = [];
    for (const inFlight of GROWTH_IN_FLIGHT.slice(0, -1)) {
      const o = await opskitPeak(server, endpoints, inFlight);
      console.log(`memory: blackbox_exporter, ${inFlight} probes in flight`);
      const b = await blackboxPeak(server, endpoints, inFlight);
      growth.push({ inFlight, opskit: o.peak, blackbox: b.peak, blackboxInFlight: inFlight });
    }
    const { peak, wall, user, sys, summary, maxInFlight } = await opskitPeak(server, endpoints, IN_FLIGHT);
    console.log(`memory: blackbox_exporter, ${bbInFlight} probes in flight`);
    const bb = await blackboxPeak(server, endpoints, bbInFlight);
    growth.push({ inFlight: IN_FLIGHT, opskit: peak, blackbox: bb.peak, blackboxInFlight: bbInFlight });

    const ratio = peak / GOAL_BYTES;
    return {
      name: "memory",
      title: "3. peak RSS, 10,000 probes in flight",
      opskit: `${mb(peak)} peak RSS`,
      anchor: `goal 200 MB (blackbox ${mb(bb.peak)} at ${bbInFlight.toLocaleString("en-US")})`,
      ratio: `${ratio.toFixed(2)}x goal`,
      goal: "<= 1.00x (200 MB)",
      met: peak <= GOAL_BYTES,
      details: [
        `- opskit peak RSS: **${mb(peak)}** (${(peak / 2 ** 20).toFixed(1)} MiB; GNU time %M) = **${ratio.toFixed(2)}x** the 200 MB goal: ${peak <= GOAL_BYTES ? "met" : "NOT met"}`,
        `- all in flight together: the endpoints held ${maxInFlight.toLocaleString("en-US")} requests at once; opskit took ${wall.toFixed(2)} s wall for a ${DELAY_MS / 1000} s answer delay (CPU user ${user.toFixed(2)} s + sys ${sys.toFixed(2)} s); summary "${summary}"`,
        `- blackbox_exporter for comparison: peak RSS (VmHWM) **${mb(bb.peak)}** with ${bbInFlight.toLocaleString("en-US")} /probe requests in flight (wrk, one connection each; the endpoints held ${bb.held.toLocaleString("en-US")} at once; ${bb.succeeded} reported probe_success 1, last after ${bb.seconds.toFixed(2)} s)${bbInFlight < IN_FLIGHT ? `; fewer than 10,000 because it needs two descriptors per probe and \`ulimit -n\` is capped at ${limit} here` : ""}; opskit/blackbox ${(peak / bb.peak).toFixed(2)}x`,
        `- setup: ${PORTS} ports of one Bun.serve process whose GET /slow answers after ${DELAY_MS} ms; \`opskit probe -f FILE --concurrency ${IN_FLIGHT} --quiet --timeout 30s\`; \`ulimit -n\` ${limit}`,
        "- cost growth: the same run with 100, 1,000 and 10,000 probes in flight (the concurrency equal to the targets), each side's peak RSS; × is against the size before:",
        "",
        "| in flight | opskit peak RSS | × | blackbox peak RSS | × |",
        "| ---: | ---: | ---: | ---: | ---: |",
        ...growth.map((g, i) => `| ${g.inFlight.toLocaleString("en-US")} | ${mb(g.opskit)} | ${i === 0 ? "-" : `${(g.opskit / growth[i - 1]!.opskit).toFixed(2)}x`} | ${mb(g.blackbox)}${g.blackboxInFlight !== g.inFlight ? ` (at ${g.blackboxInFlight.toLocaleString("en-US")})` : ""} | ${i === 0 ? "-" : `${(g.blackbox / growth[i - 1]!.blackbox).toFixed(2)}x`} |`),
        "",
      ],
    };
  } finally {
    await server.stop();
  }
}
