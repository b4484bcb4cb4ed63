// Benchmark 1: one probe of a local HTTP endpoint, `opskit probe URL` against
// `curl -fsS URL`, paired in hyperfine invocations that run both commands (no
// shell between, warmup first). Other work on a shared 2-core machine comes in
// bursts of seconds, so the runs are split into many short rounds (under a
// second each) that alternate which command goes first, and the medians are
// taken over all rounds' runs: a burst then hits both commands alike.
// Goal: opskit's median wall time at most 1.2x curl's, in every run.
import { median } from "./stats.ts";
import { opskitBin, outDir, runToEnd } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { startTargetServer } from "./services.ts";

const ROUNDS = 30;
const WARMUP = 3;
const RUNS = 10;
const GOAL_RATIO = 1.2;
/** The cost growth: the same command with 1, 10 and 100 target URLs (curl fetches them one after another, as it does). */
const GROWTH_TARGETS = [1, 10, 100];
const GROWTH_ROUNDS = 6;

export interface HyperfineResult {
  command: string;
  median: number;
  user: number;
  system: number;
  times: number[];
}

interface Side {
  times: number[];
  user: number[];
  system: number[];
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;

/** One hyperfine invocation of every command, the order reversed on even rounds. */
export async function round(n: number, commands: Record<string, string>): Promise<HyperfineResult[]> {
  const names = Object.keys(commands);
  if (n % 2 === 0) names.reverse();
  const exported = `${outDir}/startup-hyperfine.json`;
  const run = await runToEnd(
    [
      "hyperfine", "-N", "--style", "basic", "--warmup", String(WARMUP), "--runs", String(RUNS), "--export-json", exported,
      ...names.flatMap((name) => ["-n", name, commands[name]!]),
    ],
    300_000,
  );

  // hyperfine exits non-zero if either command ever did: a failed probe is no measurement.
  if (run.exitCode !== 0) throw new Error(`hyperfine failed (exit ${run.exitCode}):\n${run.stdout}${run.stderr}`);
  return ((await Bun.file(exported).json()) as { results: HyperfineResult[] }).results;
}

/** Medians of both commands with 1, 10 and 100 URLs. */
async function measureGrowth(url: string): Promise<{ targets: number; opskit: number; curl: number }[]> {
  const rows: { targets: number; opskit: number; curl: number }[] = [];
  for (const targets of GROWTH_TARGETS) {
    const urls = Array.from({ length: targets }, () => url).join(" ");
    const commands = { opskit: `${opskitBin} probe ${urls}`, curl: `curl -fsS ${urls}` };
    console.log(`startup: cost growth, ${targets} URLs, ${GROWTH_ROUNDS} rounds`);
    const times: Record<string, number[]> = { opskit: [], curl: [] };
    for (let n = 1; n <= GROWTH_ROUNDS; n++) for (const r of await round(n, commands)) times[r.command]!.push(...r.times);
    rows.push({ targets, opskit: median(times.opskit!), curl: median(times.curl!) });
  }
  return rows;
}

export async function benchStartup(): Promise<BenchResult> {
  const server = await startTargetServer(1);
  try {
    const url = `http://127.0.0.1:${server.ports[0]}/ok`;
    const commands: Record<string, string> = { opskit: `${opskitBin} probe ${url}`, curl: `curl -fsS ${url}` };
    console.log(`startup: hyperfine, ${ROUNDS} rounds of ${WARMUP} warmup + ${RUNS} runs of each command against ${url}`);
    const sides: Record<string, Side> = { opskit: { times: [], user: [], system: [] }, curl: { times: [], user: [], system: [] } };
    const roundRatios: number[] = [];
    for (let n = 1; n <= ROUNDS; n++) {
      const results = await round(n, commands);
      const byName = Object.fromEntries(results.map((r) => [r.command, r]));
      for (const [name, side] of Object.entries(sides)) {
        side.times.push(...byName[name]!.times);
        side.user.push(byName[name]!.user);
        side.system.push(byName[name]!.system);
      }
      roundRatios.push(byName.opskit!.median / byName.curl!.median);
    }
    await Bun.write(`${outDir}/startup-times.json`, `${JSON.stringify(sides)}\n`);
    const growth = await measureGrowth(url);
    const opskit = sides.opskit!;
    const curl = sides.curl!;
    const ratio = median(opskit.times) / median(curl.times);
    const describe = (side: Side) => {
      const sorted = [...side.times].sort((a, b) => a - b);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      return `median ${ms(median(sorted))}, p10 ${ms(sorted[Math.floor(sorted.length * 0.1)]!)}, p90 ${ms(sorted[Math.floor(sorted.length * 0.9)]!)}, min ${ms(sorted[0]!)}, CPU user ${ms(mean(side.user))} + sys ${ms(mean(side.system))}`;
    };
    return {
      name: "startup",
      title: "1. single probe (wall time)",
      opskit: `${ms(median(opskit.times))} median`,
      anchor: `curl ${ms(median(curl.times))} median`,
      ratio: `${ratio.toFixed(2)}x curl`,
      goal: `<= ${GOAL_RATIO}x curl`,
      met: ratio <= GOAL_RATIO,
      details: [
        `- opskit (\`dist/opskit probe URL\`): ${describe(opskit)}`,
        `- curl (\`curl -fsS URL\`): ${describe(curl)}`,
        `- ratio of medians: **${ratio.toFixed(2)}x** (goal <= ${GOAL_RATIO}x): ${ratio <= GOAL_RATIO ? "met" : "NOT met"}; ratio of minimums ${(Math.min(...opskit.times) / Math.min(...curl.times)).toFixed(2)}x; per-round ratios of medians: median ${median(roundRatios).toFixed(2)}x, range ${Math.min(...roundRatios).toFixed(2)}-${Math.max(...roundRatios).toFixed(2)}x`,
        `- ${ROUNDS} hyperfine rounds (\`-N\`, ${WARMUP} warmup + ${RUNS} runs of each command, the order alternating), ${ROUNDS * RUNS} runs of each in all; every run exited 0`,
        `- cost growth: the same URL given 1, 10 and 100 times (\`opskit probe URL URL ...\`, which probes them concurrently, against \`curl -fsS URL URL ...\`, which fetches them one after another over one connection when it can); ${GROWTH_ROUNDS} hyperfine rounds of ${WARMUP} warmup + ${RUNS} runs at each size, medians over all runs; × is the time against the size before:`,
        "",
        "| URLs | opskit | × | curl | × | opskit/curl |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ...growth.map((g, i) => `| ${g.targets} | ${ms(g.opskit)} | ${i === 0 ? "-" : `${(g.opskit / growth[i - 1]!.opskit).toFixed(2)}x`} | ${ms(g.curl)} | ${i === 0 ? "-" : `${(g.curl / growth[i - 1]!.curl).toFixed(2)}x`} | ${(g.opskit / g.curl).toFixed(2)}x |`),
        "",
      ],
    };
  } finally {
    await server.stop();
  }
}
