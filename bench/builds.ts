// Startup of two builds side by side: this build (dist/opskit, or
// OPSKIT_BENCH_BIN) against an earlier one (OPSKIT_BENCH_BEFORE, e.g. built
// from the commit before a refactoring), so a change in structure shows
// whether it made `opskit probe` or `opskit exec` start slower. Both run in
// the same hyperfine rounds as the anchors (curl for a probe; for exec,
// `sh -c true` as the floor a process start costs), the order alternating.
// Goal: each command's median no more than 5% over the earlier build's (the
// spread of per-round ratios between two runs of one build here is about
// that wide).
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { median } from "./stats.ts";
import { opskitBin, outDir, root, runToEnd } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { startTargetServer } from "./services.ts";
import { round } from "./startup.ts";

const ROUNDS = 20;
const GOAL_RATIO = 1.05;

const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;

interface Case {
  name: string;
  title: string;
  commands: Record<string, string>;
}

async function measure(c: Case): Promise<Record<string, number[]>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(c.commands).map((name) => [name, []]));
  for (let n = 1; n <= ROUNDS; n++) {
    for (const result of await round(n, c.commands)) times[result.command]!.push(...result.times);
  }
  return times;
}

function resultOf(c: Case, times: Record<string, number[]>, anchor: string): BenchResult {
  const m = (name: string) => median(times[name]!);
  const ratio = m("this build") / m("earlier build");
  return {
    name: "builds",
    title: c.title,
    opskit: `${ms(m("this build"))} median`,
    anchor: `earlier build ${ms(m("earlier build"))}, ${anchor} ${ms(m(anchor))}`,
    ratio: `${ratio.toFixed(2)}x earlier build`,
    goal: `<= ${GOAL_RATIO}x earlier build`,
    met: ratio <= GOAL_RATIO,
    details: [
      ...Object.entries(c.commands).map(([name, command]) => `- ${name} (\`${command.replaceAll(outDir, "bench/out").replaceAll(root, ".")}\`): median ${ms(m(name))}, min ${ms(Math.min(...times[name]!))}`),
      `- this build / earlier build: **${ratio.toFixed(2)}x** (goal <= ${GOAL_RATIO}x): ${ratio <= GOAL_RATIO ? "met" : "NOT met"}; this build / ${anchor}: ${(m("this build") / m(anchor)).toFixed(2)}x`,
      `- ${ROUNDS} hyperfine rounds (\`-N\`, 3 warmup + 10 runs of each command, the order alternating), ${ROUNDS * 10} runs of each`,
    ],
  };
}

/**
 * The earlier build: OPSKIT_BENCH_BEFORE names its executable, or a git
 * revision, which is checked out in a worktree under bench/out and built
 * there the way scripts/build.ts --host builds this one.
 */
async function earlierBuild(dir: string): Promise<{ bin: string; label: string }> {
  const wanted = process.env.OPSKIT_BENCH_BEFORE;
  if (!wanted) throw new Error("set OPSKIT_BENCH_BEFORE to the earlier build: an opskit executable, or a git revision to build (e.g. HEAD~10)");
  if (existsSync(wanted)) return { bin: wanted, label: wanted };
  const tree = `${dir}/earlier`;
  const git = async (args: string[]) => {
    const run = await runToEnd(["git", "-C", root, ...args], 60_000);
    if (run.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${run.stderr.trim()}`);
    return run.stdout.trim();
  };
  const commit = await git(["rev-parse", "--verify", `${wanted}^{commit}`]);
  await runToEnd(["git", "-C", root, "worktree", "remove", "--force", tree], 60_000);
  rmSync(tree, { recursive: true, force: true });
  await git(["worktree", "add", "--detach", tree, commit]);
  symlinkSync(`${root}/node_modules`, `${tree}/node_modules`);
  const build = await runToEnd([`${root}/node_modules/.bin/bun`, `${tree}/scripts/build.ts`, "--host"], 300_000);
  if (build.exitCode !== 0) throw new Error(`building ${wanted} failed: ${build.stderr.trim()}`);
  return { bin: `${tree}/dist/opskit`, label: `${wanted} = ${commit.slice(0, 12)}` };
}

export async function benchBuilds(): Promise<BenchResult[]> {
  const dir = `${outDir}/builds`;
  mkdirSync(dir, { recursive: true });
  const { bin: before, label } = await earlierBuild(dir);
  writeFileSync(`${dir}/opskit.yaml`, "vars: {}\n");
  const server = await startTargetServer(1);
  try {
    const url = `http://127.0.0.1:${server.ports[0]}/ok`;
    const exec = (bin: string, journal: string) => `${bin} exec -c ${dir}/opskit.yaml --journal ${dir}/${journal}.db local -- true`;
    const cases: [Case, string][] = [
      [{ name: "probe", title: "startup of two builds: opskit probe URL", commands: { "this build": `${opskitBin} probe ${url}`, "earlier build": `${before} probe ${url}`, curl: `curl -fsS ${url}` } }, "curl"],
      [{ name: "exec", title: "startup of two builds: opskit exec local -- true", commands: { "this build": exec(opskitBin, "this"), "earlier build": exec(before, "earlier"), "sh -c true": "sh -c true" } }, "sh -c true"],
    ];
    const results: BenchResult[] = [];
    for (const [c, anchor] of cases) {
      console.log(`builds: ${c.name}, ${ROUNDS} hyperfine rounds of ${Object.keys(c.commands).join(", ")}`);
      results.push(resultOf(c, await measure(c), anchor));
    }
    results[0]!.details.push(`- earlier build: ${label}`);
    return results;
  } finally {
    await server.stop();
  }
}
