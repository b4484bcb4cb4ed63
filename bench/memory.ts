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

export async function benchMemory(): Promise<BenchResult> {
  const limit = openFilesLimit();
  if (limit < IN_FLIGHT + 100) throw new Error(`ulimit -n is ${limit}: 10,000 probes in flight need more descriptors (bench/run.sh raises it)`);
  const server = await startTargetServer(PORTS, DELAY_MS);
  try {
    const endpoints = server.ports.map((port) => `http://127.0.0.1:${port}/slow`);
    const file = `${outDir}/memory-targets.txt`;
    await Bun.write(file, Array.from({ length: IN_FLIGHT }, (_, i) => `${endpoints[i % PORTS]}\n`).join(""));

    console.log(`memory: opskit, ${IN_FLIGHT} probes in flight, endpoints answer after ${DELAY_MS} ms`);
    await server.reset();
    const timeFile = `${outDir}/memory-opskit-time.txt`;
    const run = await runToEnd(
      ["/usr/bin/time", "-f", "%M %e %U %S", "-o", timeFile,
        opskitBin, "probe", "-f", file, "--concurrency", String(IN_FLIGHT), "--quiet", "--timeout", "30s"],
      90_000,
    );
    const summary = run.stdout.trim().split("\n").at(-1) ?? "";
    if (run.exitCode !== 0 || !summary.startsWith(`${IN_FLIGHT} targets: ${IN_FLIGHT} healthy`)) {
      throw new Error(`opskit run failed (exit ${run.exitCode}): ${run.stdout.slice(-2000)}${run.stderr.slice(-2000)}`);
    }
    const [maxRssKiB, wall, user, sys] = (await Bun.file(timeFile).text()).trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number, number];
    const peak = maxRssKiB * 1024;
    const { maxInFlight } = await server.stats();
    const together = maxInFlight >= IN_FLIGHT && wall < (2 * DELAY_MS) / 1000;
    if (!together) throw new Error(`the probes were not all in flight together: the endpoints held at most ${maxInFlight} at once; wall ${wall} s for a ${DELAY_MS} ms delay`);

    // blackbox needs two sockets per probe; keep within this machine's descriptor limit.
    const bbInFlight = Math.min(IN_FLIGHT, Math.floor((limit - 200) / 2));
    console.log(`memory: blackbox_exporter, ${bbInFlight} probes in flight`);
    const bb = await blackboxPeak(server, endpoints, bbInFlight);

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
      ],
    };
  } finally {
    await server.stop();
  }
}
