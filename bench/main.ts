// Runs opskit's benchmarks (all three, or those named on the command line),
// prints a summary table and, when all three ran and measured, rewrites the
// generated section of bench/RESULTS.md. Started by bench/run.sh, which
// installs the anchors, builds dist/opskit and raises ulimit -n first.
import { mkdirSync } from "node:fs";
import { awaitQuiet, describeMachine } from "./machine.ts";
import { benchMemory } from "./memory.ts";
import { outDir, root } from "./process.ts";
import { generatedSection, machineLines, rewriteResults, summaryTable, type BenchResult } from "./report.ts";
import { benchStartup } from "./startup.ts";
import { benchThroughput } from "./throughput.ts";

const benchmarks: Record<string, () => Promise<BenchResult>> = {
  startup: benchStartup,
  throughput: benchThroughput,
  memory: benchMemory,
};

const names = process.argv.slice(2);
const unknown = names.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(benchmarks).join(", ")}`);
  process.exit(64);
}
const chosen = names.length > 0 ? [...new Set(names)] : Object.keys(benchmarks);

mkdirSync(outDir, { recursive: true });
const machine = describeMachine();
console.log(machineLines(machine).join("\n"));

const results: BenchResult[] = [];
let failed = false;
for (const name of chosen) {
  const busy = await awaitQuiet();
  if (busy >= 15) console.log(`${name}: the machine was still ${busy}% busy after a minute's wait; figures may be skewed`);
  const started = performance.now();
  try {
    const result = await benchmarks[name]!();
    result.details.push(`- cores busy with other work in the second before it started: ${busy}% (it waits up to a minute for under 15%)`);
    results.push(result);
    await Bun.write(`${outDir}/${name}.json`, `${JSON.stringify({ machine, result }, null, 2)}\n`);
    console.log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    failed = true;
    console.error(`${name}: FAILED after ${((performance.now() - started) / 1000).toFixed(1)} s: ${error instanceof Error ? error.message : String(error)}`);
  }
}

console.log("");
for (const result of results) console.log([`${result.title}`, ...result.details].join("\n") + "\n");
console.log(summaryTable(results).join("\n"));

if (!failed && chosen.length === Object.keys(benchmarks).length) {
  await rewriteResults(`${root}/bench/RESULTS.md`, generatedSection(machine, results));
  console.log("\nbench/RESULTS.md rewritten");
} else {
  console.log(`\nbench/RESULTS.md left as it was (${failed ? "a benchmark failed" : "not all benchmarks ran"}); figures are in bench/out/`);
}
process.exit(failed ? 1 : 0);
