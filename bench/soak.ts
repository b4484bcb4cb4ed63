// Benchmark "soak": `opskit serve` (dist/opskit) with 2,000 checks every 5 s
// against local endpoints for 30 minutes, 1% of them flapping so that alerts
// fire, the rule runs its remediation and incidents resolve all along, with
// the dashboard open in headless Chromium the whole time (the Now page and
// the health grid in turn, a minute each). Every 10 s: opskit's RSS and CPU
// (/proc), its event-loop delay p99 (/metrics), the check states, and the
// page's JS heap after a garbage collection and its DOM nodes. Goals: RSS
// plateaus (least-squares slope over the last 20 minutes under 1 MB per 10
// minutes), CPU under half a core on average, event-loop delay p99 under
// 50 ms, the page's memory flat. With --growth, the same figures at 20, 200
// and 2,000 checks, 3 minutes each: a narrower case, for how cost grows.
//   sh bench/run.sh soak [--minutes N] [--checks N] [--growth] [--growth-minutes N] [--no-page]
//   bun bench/soak.ts ...    the same, printing the figures without rewriting RESULTS.md
import { mkdirSync } from "node:fs";
import { awaitQuiet } from "./machine.ts";
import { descendantsOf, outDir, root } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { launchChromium } from "./soak/page.ts";
import { runPhase, type Phase } from "./soak/phase.ts";
import { svgPlot } from "./soak/plot.ts";
import { GOAL_CHECKS, GOAL_MINUTES, MB, perTenMin, rssFit, signed, soakResults } from "./soak/report.ts";
import { INTERVAL } from "./soak/server.ts";

const GROWTH_CHECKS = [20, 200, 2000];

export interface SoakOptions {
  minutes: number;
  checks: number;
  growth: boolean;
  growthMinutes: number;
  page: boolean;
}

export function parseSoakOptions(args: string[]): SoakOptions {
  const options: SoakOptions = { minutes: GOAL_MINUTES, checks: GOAL_CHECKS, growth: false, growthMinutes: 3, page: true };
  const positive = (flag: string, value: string | undefined) => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`soak: ${flag} takes a positive number, not ${value ?? "nothing"}`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--minutes") options.minutes = positive(arg, args[++i]);
    else if (arg === "--checks") options.checks = Math.round(positive(arg, args[++i]));
    else if (arg === "--growth-minutes") options.growthMinutes = positive(arg, args[++i]);
    else if (arg === "--growth") options.growth = true;
    else if (arg === "--no-page") options.page = false;
    else throw new Error(`soak: unknown option ${arg}; known: --minutes N, --checks N, --growth, --growth-minutes N, --no-page`);
  }
  return options;
}

export async function benchSoak(args: string[] = [], publish = true): Promise<BenchResult[]> {
  const options = parseSoakOptions(args);
  mkdirSync(`${outDir}/soak`, { recursive: true });
  const browser = options.page ? await launchChromium() : undefined;
  // Should the runner die, playwright's own cleanup may not get to run (it needs the event loop): whatever is left under the runner goes.
  const killLeftovers = () => {
    for (const pid of descendantsOf(process.pid).slice(1)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  };
  process.on("exit", killLeftovers);
  try {
    const growth: Phase[] = [];
    if (options.growth) {
      for (const checks of GROWTH_CHECKS) {
        await awaitQuiet(10_000);
        console.log(`soak: growth, ${checks} checks for ${options.growthMinutes} minutes`);
        growth.push(await runPhase(checks, options.growthMinutes, browser, `growth-${checks}`));
      }
    }
    await awaitQuiet(10_000);
    console.log(`soak: ${options.checks} checks for ${options.minutes} minutes${browser ? ", the dashboard open" : ""}`);
    const main = await runPhase(options.checks, options.minutes, browser, "main");
    await Bun.write(`${outDir}/soak-samples.json`, `${JSON.stringify({ options, main, growth }, null, 2)}\n`);
    const { fromT, fit } = rssFit(main);
    const svg = svgPlot(main.samples.map((s) => ({ t: s.t, y: s.rssBytes / MB })), {
      title: `opskit serve RSS, ${main.checks.toLocaleString("en-US")} checks every ${INTERVAL}, ${main.minutes} min (dashed: least-squares fit, ${signed(perTenMin(fit.slope))} MB per 10 min)`,
      unit: "RSS, MB",
      fit: { fit: { ...fit, slope: fit.slope / MB, intercept: fit.intercept / MB }, fromT },
    });
    await Bun.write(publish ? `${root}/bench/soak-rss.svg` : `${outDir}/soak-rss.svg`, svg);
    return soakResults(main, growth, browser?.version() ?? "none");
  } finally {
    await browser?.close().catch(() => undefined);
    killLeftovers();
    process.off("exit", killLeftovers);
  }
}

if (import.meta.main) {
  const { summaryTable } = await import("./report.ts");
  const outcome = await benchSoak(process.argv.slice(2), false);
  for (const result of outcome) console.log([`\n${result.title}`, ...result.details].join("\n"));
  console.log(`\n${summaryTable(outcome).join("\n")}\n(figures only: sh bench/run.sh soak rewrites RESULTS.md; the SVG is in bench/out/soak-rss.svg)`);
  process.exit(0);
}
