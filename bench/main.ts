// Runs opskit's benchmarks (all, or those named on the command line), prints
// a summary table and rewrites each suite's generated section of
// bench/RESULTS.md whose benchmarks all ran and measured: the probe suite
// (startup, throughput, memory), the fleet suite (fleet), the alert storm
// against `opskit serve` (storm), several replicas on PostgreSQL (ha), incident
// history (mttr), `opskit audit` (audit), stopping remote commands past
// their deadline (stop), `opskit agent` against polling /proc and `tail -F`
// on one stream of processes and log lines (agent) and `opskit serve` held
// under checks for 30 minutes with the dashboard open (soak, only when
// named). Started by bench/run.sh, which installs the anchors, builds
// dist/opskit and raises ulimit -n first.
import { mkdirSync } from "node:fs";
import { benchAgent } from "./agent/compare.ts";
import { benchFleet } from "./fleet.ts";
import { benchHa } from "./ha.ts";
import { awaitQuiet, describeMachine } from "./machine.ts";
import { benchMemory } from "./memory.ts";
import { benchMttr } from "./mttr.ts";
import { benchAudit } from "./audit.ts";
import { benchBuilds } from "./builds.ts";
import { outDir, root } from "./process.ts";
import { generatedSection, machineLines, rewriteResults, summaryTable, type BenchResult, type Suite } from "./report.ts";
import { benchStartup } from "./startup.ts";
import { benchSoak } from "./soak.ts";
import { benchStop } from "./stop.ts";
import { benchStorm } from "./storm.ts";
import { benchThroughput } from "./throughput.ts";

// Options for the soak follow the names, e.g. `soak --minutes 5 --growth`: everything from the first argument starting with --.
const argv = process.argv.slice(2);
const firstOption = argv.findIndex((arg) => arg.startsWith("--"));
const soakOptions = firstOption >= 0 ? argv.slice(firstOption) : [];

const benchmarks: Record<string, () => Promise<BenchResult | BenchResult[]>> = {
  startup: benchStartup,
  throughput: benchThroughput,
  memory: benchMemory,
  fleet: benchFleet,
  storm: benchStorm,
  mttr: benchMttr,
  audit: benchAudit,
  stop: benchStop,
  ha: benchHa,
  builds: benchBuilds,
  agent: benchAgent,
  soak: () => benchSoak(soakOptions),
};
/** Run only when named: builds needs an earlier build to compare (OPSKIT_BENCH_BEFORE); soak takes 30 minutes (40 with --growth). */
const onRequest = new Set(["builds", "soak"]);

const suites: Suite[] = [
  {
    name: "probe",
    benchmarks: ["startup", "throughput", "memory"],
    heading: "Latest run",
    tools: ["opskit", "curl", "hyperfine", "blackbox_exporter", "wrk", "nginx", "GNU time"],
  },
  { name: "fleet", benchmarks: ["fleet"], heading: "Latest fleet run", tools: ["opskit", "OpenSSH", "parallel-ssh", "ansible", "GNU time"] },
  { name: "storm", benchmarks: ["storm"], heading: "Latest storm run", tools: ["opskit", "Alertmanager", "bun"] },
  { name: "mttr", benchmarks: ["mttr"], heading: "Latest mttr run", tools: ["opskit", "sqlite3", "pandas", "DuckDB", "GNU time"] },
  { name: "audit", benchmarks: ["audit"], heading: "Latest audit run", tools: ["opskit", "shellcheck"] },
  { name: "ha", benchmarks: ["ha"], heading: "Latest ha run", tools: ["opskit", "bun"] },
  { name: "stop", benchmarks: ["stop"], heading: "Latest stop run", tools: ["opskit", "OpenSSH", "parallel-ssh", "timeout", "pgrep"] },
  { name: "builds", benchmarks: ["builds"], heading: "Latest startup comparison of two builds", tools: ["opskit", "curl", "hyperfine"] },
  { name: "soak", benchmarks: ["soak"], heading: "Latest soak run", tools: ["opskit", "Chromium", "bun"] },
  { name: "agent", benchmarks: ["agent"], heading: "Latest agent run", tools: ["opskit", "bpftrace", "python3", "tail", "bash", "jq", "curl", "bun"] },
];

const names = firstOption >= 0 ? argv.slice(0, firstOption) : argv;
const unknown = names.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(benchmarks).join(", ")}`);
  process.exit(64);
}
if (soakOptions.length > 0 && !names.includes("soak")) {
  console.error(`bench: ${soakOptions.join(" ")}: options are the soak's; name it: sh bench/run.sh soak ${soakOptions.join(" ")}`);
  process.exit(64);
}
const chosen = names.length > 0 ? [...new Set(names)] : Object.keys(benchmarks).filter((name) => !onRequest.has(name));

mkdirSync(outDir, { recursive: true });
const machine = describeMachine();
console.log(machineLines(machine).join("\n"));

const measured = new Map<string, BenchResult[]>();
let failed = false;
for (const name of chosen) {
  const busy = await awaitQuiet();
  if (busy >= 15) console.log(`${name}: the machine was still ${busy}% busy after a minute's wait; figures may be skewed`);
  const started = performance.now();
  try {
    const outcome = await benchmarks[name]!();
    const results = Array.isArray(outcome) ? outcome : [outcome];
    results[0]?.details.push(`- cores busy with other work in the second before it started: ${busy}% (it waits up to a minute for under 15%)`);
    measured.set(name, results);
    await Bun.write(`${outDir}/${name}.json`, `${JSON.stringify({ machine, result: outcome }, null, 2)}\n`);
    console.log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    failed = true;
    console.error(`${name}: FAILED after ${((performance.now() - started) / 1000).toFixed(1)} s: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const results = [...measured.values()].flat();
console.log("");
for (const result of results) console.log([`${result.title}`, ...result.details].join("\n") + "\n");
console.log(summaryTable(results).join("\n"));

console.log("");
for (const suite of suites) {
  if (suite.benchmarks.every((name) => measured.has(name))) {
    const section = generatedSection(suite, machine, suite.benchmarks.flatMap((name) => measured.get(name)!));
    await rewriteResults(`${root}/bench/RESULTS.md`, suite.name, section);
    console.log(`bench/RESULTS.md: ${suite.name} section rewritten`);
  } else if (suite.benchmarks.some((name) => chosen.includes(name))) {
    const lost = suite.benchmarks.filter((name) => chosen.includes(name) && !measured.has(name));
    const why = lost.length > 0 ? `${lost.join(", ")} failed` : "not all of its benchmarks ran";
    console.log(`bench/RESULTS.md: ${suite.name} section left as it was (${why}); figures are in bench/out/`);
  }
}
process.exit(failed ? 1 : 0);
