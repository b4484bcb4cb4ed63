// The soak's figures and how they are judged: slopes, CPU, event-loop delay,
// the page's memory, the work done, and the cost growth, as the results
// that bench/main.ts prints and writes into RESULTS.md.
import { cpus } from "node:os";
import type { BenchResult } from "../report.ts";
import { median } from "../stats.ts";
import { DOWN_SEC, PERIOD_SEC } from "./flaps.ts";
import type { View } from "./page.ts";
import { SAMPLE_SEC, type Phase, type Sample } from "./phase.ts";
import { asciiPlot, leastSquares, type Point } from "./plot.ts";
import { INTERVAL } from "./server.ts";

export const GOAL_MINUTES = 30;
export const GOAL_CHECKS = 2000;
/** The slope is fitted over the last 20 minutes of 30; a shorter run fits its last two thirds. */
const SLOPE_WINDOW_SEC = 20 * 60;
const GOAL_RSS_MB_PER_10MIN = 1;
const GOAL_CPU_CORES = 0.5;
const GOAL_LAG_MS = 50;
/** "The page's memory stays flat", read as the same bound as opskit's RSS: under 1 MB of JS heap per 10 minutes. */
const GOAL_PAGE_MB_PER_10MIN = 1;
const GROWTH_STEP_BOUND = 12;
export const MB = 1e6;

export const mbText = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
export const perTenMin = (bytesPerSec: number) => (bytesPerSec * 600) / MB;
export const signed = (n: number, digits = 2) => `${n >= 0 ? "+" : ""}${n.toFixed(digits)}`;

/** The samples the slope is fitted on: the last 20 minutes of a 30-minute soak, the last two thirds of a shorter one. */
function slopeWindow(phase: Phase): { fromT: number; samples: Sample[] } {
  const end = phase.samples.at(-1)!.t;
  const fromT = Math.max(0, end - Math.min(SLOPE_WINDOW_SEC, (end * 2) / 3));
  return { fromT, samples: phase.samples.filter((s) => s.t >= fromT) };
}

export function rssFit(phase: Phase) {
  const { fromT, samples } = slopeWindow(phase);
  return { fromT, fit: leastSquares(samples.map((s) => ({ t: s.t, y: s.rssBytes }))) };
}

/** The least-squares fit of each whole minute's lowest RSS from `fromT` on: what the collector leaves, without its cycles. */
function floorFit(phase: Phase, fromT: number) {
  const minutes = new Map<number, Point>();
  for (const s of phase.samples.filter((x) => x.t >= fromT)) {
    const minute = Math.floor((s.t - fromT) / 60);
    const low = minutes.get(minute);
    if (!low || s.rssBytes < low.y) minutes.set(minute, { t: s.t, y: s.rssBytes });
  }
  return leastSquares([...minutes.values()]);
}

/** The median of each minute's highest minus lowest RSS from `fromT` on. */
function sawtooth(phase: Phase, fromT: number): number {
  const spans = new Map<number, number[]>();
  for (const s of phase.samples.filter((x) => x.t >= fromT)) {
    const minute = Math.floor((s.t - fromT) / 60);
    spans.set(minute, [...(spans.get(minute) ?? []), s.rssBytes]);
  }
  return median([...spans.values()].map((v) => Math.max(...v) - Math.min(...v)));
}

function cpuCores(samples: Sample[]): number {
  const [first, last] = [samples[0]!, samples.at(-1)!];
  return (last.cpuSeconds - first.cpuSeconds) / (last.t - first.t);
}

/** Probes per second the endpoints answered over the phase, against what the checks' interval asks. */
function probeRate(p: Phase): { rate: number; wanted: number } {
  const [first, last] = [p.samples[0]!, p.samples.at(-1)!];
  return { rate: (last.served - first.served) / (last.t - first.t), wanted: p.checks / Number.parseFloat(INTERVAL) };
}

function lagFigures(p: Phase) {
  const p99s = p.samples.slice(1).map((s) => s.lagP99Ms).filter(Number.isFinite);
  const maxes = p.samples.slice(1).map((s) => s.lagMaxMs).filter(Number.isFinite);
  const scrapes = p.samples.map((s) => s.scrapeMs);
  return {
    worstP99: Math.max(...p99s), medianP99: median(p99s), max: Math.max(...maxes), medianMax: median(maxes), windows: p99s.length, over: p99s.filter((ms) => ms >= GOAL_LAG_MS).length,
    scrapeMedian: median(scrapes), scrapeMax: Math.max(...scrapes),
  };
}

/**
 * The page's heap slope over the slope window, fitted for each view on its
 * own samples (the health grid holds far more than the Now page, so a fit
 * over both would follow the switching), and the view's first and last
 * samples of the whole run.
 */
function pageFigures(p: Phase) {
  const { samples } = slopeWindow(p);
  const fitOf = (view: View) => perTenMin(leastSquares(samples.filter((s) => s.page?.view === view).map((s) => ({ t: s.t, y: s.page!.heapBytes }))).slope);
  const byView = (view: View) => {
    const all = p.samples.filter((s) => s.page?.view === view).map((s) => s.page!);
    if (all.length === 0) return undefined;
    return { slope: fitOf(view), first: all[0]!, last: all.at(-1)!, maxNodes: Math.max(...all.map((x) => x.nodes)), heapMax: Math.max(...all.map((x) => x.heapBytes)) };
  };
  const views = { now: byView("now"), health: byView("health") };
  const slopes = [views.now?.slope, views.health?.slope].filter((x): x is number => x !== undefined && Number.isFinite(x));
  return { ...views, worst: slopes.length > 0 ? Math.max(...slopes) : Number.NaN };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The five windows of highest event-loop p99, with what the machine was doing: on a shared machine other work delays opskit's timers too. */
function slowWindows(p: Phase): string {
  const worst = p.samples.slice(1).filter((s) => Number.isFinite(s.lagP99Ms)).sort((a, b) => b.lagP99Ms - a.lagP99Ms).slice(0, 5);
  return worst.map((s) => `${(s.t / 60).toFixed(1)} min: ${s.lagP99Ms.toFixed(1)} ms, max ${s.lagMaxMs.toFixed(1)} ms, ${s.machineCores.toFixed(2)} cores busy${s.page ? `, ${s.page.view}` : ""}`).join("; ");
}

function describeView(name: string, v: ReturnType<typeof pageFigures>["now"]): string {
  if (!v) return `${name}: not sampled`;
  return `${name}: heap slope ${signed(v.slope)} MB per 10 minutes; heap ${mbText(v.first.heapBytes)} at its first sample, ${mbText(v.last.heapBytes)} at its last (max ${mbText(v.heapMax)}); DOM nodes ${v.first.nodes} then ${v.last.nodes} (max ${v.maxNodes}); listeners ${v.first.listeners} then ${v.last.listeners}`;
}

function narrowness(p: Phase): string | undefined {
  const short = [
    ...(p.minutes < GOAL_MINUTES ? [`${p.minutes} minutes`] : []),
    ...(p.checks < GOAL_CHECKS ? [`${p.checks} checks`] : []),
    ...(p.page ? [] : ["no page open"]),
  ];
  return short.length === 0 ? undefined : `narrower run (${short.join(", ")}): the goals are judged at ${GOAL_MINUTES} minutes and ${GOAL_CHECKS.toLocaleString("en-US")} checks with the page open`;
}

/** How a run's figures are judged: against the goals only when it ran as long, as wide and with the page, as they name. */
interface Verdict {
  judge(met: boolean): boolean | undefined;
  goalOf(goal: string): string;
  would(met: boolean): string;
}

function verdictFor(main: Phase): Verdict {
  const narrower = narrowness(main);
  return {
    judge: (met) => (narrower ? undefined : met),
    // The table says so too: a figure of a shorter or smaller run is not the goal's.
    goalOf: (goal) => (narrower ? `${goal} (not judged: narrower run)` : goal),
    would: (met) => (narrower ? ` (${met ? "would meet" : "would NOT meet"} the goal; ${narrower})` : met ? " (met)" : " (NOT met)"),
  };
}

const windowText = (p: Phase, fromT: number) => `${((p.samples.at(-1)!.t - fromT) / 60).toFixed(1)} minutes`;

function rssResult(main: Phase, v: Verdict): BenchResult {
  const { fromT, fit } = rssFit(main);
  const slope = perTenMin(fit.slope);
  const met = slope < GOAL_RSS_MB_PER_10MIN;
  const window = windowText(main, fromT);
  const rss = main.samples.map((s) => s.rssBytes);
  const points: Point[] = main.samples.map((s) => ({ t: s.t, y: s.rssBytes / MB }));
  return {
    name: "soak",
    title: "K1. RSS plateau",
    opskit: `${signed(slope)} MB per 10 min over the last ${window}`,
    anchor: "no anchor: a goal",
    ratio: `${(slope / GOAL_RSS_MB_PER_10MIN).toFixed(2)}x goal`,
    goal: v.goalOf(`< ${GOAL_RSS_MB_PER_10MIN} MB per 10 min`),
    met: v.judge(met),
    details: [
      `- ${main.checks.toLocaleString("en-US")} checks every ${INTERVAL} for ${main.minutes} minutes (${main.flappers} flapping), ${main.page ? "the dashboard open in headless Chromium" : "**no page open**"}; RSS (VmRSS of dist/opskit, /proc/PID/status) every ${SAMPLE_SEC} s: ${mbText(main.startRssBytes)} when serving began, ${mbText(rss[0]!)} at the first sample, ${mbText(rss.at(-1)!)} at the last, ${mbText(Math.min(...rss))}-${mbText(Math.max(...rss))} over the run`,
      `- least-squares slope of RSS over the last ${window} (${fit.points} samples): **${signed(slope)} MB per 10 minutes**${v.would(met)}; MB = 10^6 bytes; RSS rises and falls by about ${mbText(sawtooth(main, fromT))} with the collector's cycles, so the slope of each minute's lowest sample (the floor the collector returns to) is given too: ${signed(perTenMin(floorFit(main, fromT).slope))} MB per 10 minutes`,
      `- RSS over time (${main.samples.length} samples; the SVG: [soak-rss.svg](soak-rss.svg)):`,
      "",
      "```text",
      ...asciiPlot(points, { unit: "RSS, MB", fromT }),
      "```",
      "",
      "![opskit serve RSS over the soak](soak-rss.svg)",
    ],
  };
}

function cpuResult(main: Phase, v: Verdict): BenchResult {
  const { fromT } = slopeWindow(main);
  const cores = cpuCores(main.samples);
  const met = cores < GOAL_CPU_CORES;
  const rate = probeRate(main);
  const later = main.samples.slice(1);
  const perSample = later.map((s, i) => (s.cpuSeconds - main.samples[i]!.cpuSeconds) / (s.t - main.samples[i]!.t));
  const childCpu = main.samples.at(-1)!.childCpuSeconds - main.samples[0]!.childCpuSeconds;
  return {
    name: "soak",
    title: "K2. CPU",
    opskit: `${cores.toFixed(3)} cores on average`,
    anchor: "no anchor: a goal",
    ratio: `${(cores / GOAL_CPU_CORES).toFixed(2)}x goal`,
    goal: v.goalOf(`< ${GOAL_CPU_CORES} core`),
    met: v.judge(met),
    details: [
      `- user+sys of the opskit process (all its threads, /proc/PID/stat) over the whole run: **${cores.toFixed(3)} cores**${v.would(met)}; over the last ${windowText(main, fromT)}: ${cpuCores(main.samples.filter((s) => s.t >= fromT)).toFixed(3)} cores; its ended children (the remediation commands): ${childCpu.toFixed(2)} CPU seconds in all`,
      `- per ${SAMPLE_SEC} s sample: max ${Math.max(...perSample).toFixed(3)} cores; threads ${Math.min(...main.samples.map((s) => s.threads))}-${Math.max(...main.samples.map((s) => s.threads))}`,
      `- the whole machine (${cpus().length} cores, every process): median ${median(later.map((s) => s.machineCores)).toFixed(2)} cores busy, at most ${Math.max(...later.map((s) => s.machineCores)).toFixed(2)}; Chromium (the page) ${mean(later.map((s) => s.chromiumCores)).toFixed(3)} cores on average`,
      `- probes answered by the endpoints: ${rate.rate.toFixed(1)}/s for the ${rate.wanted.toFixed(0)}/s the checks' interval asks (${main.endpoints.failed} answered 503 by the flapping ones, ${main.endpoints.unknown} unknown paths); the endpoints are a process of their own, so their CPU is not counted; nor is Chromium's`,
    ],
  };
}

function lagResult(main: Phase, v: Verdict): BenchResult {
  const lag = lagFigures(main);
  const met = lag.worstP99 < GOAL_LAG_MS;
  return {
    name: "soak",
    title: "K3. event-loop delay p99",
    opskit: `${lag.worstP99.toFixed(1)} ms, worst ${SAMPLE_SEC} s window`,
    anchor: "no anchor: a goal",
    ratio: `${(lag.worstP99 / GOAL_LAG_MS).toFixed(2)}x goal`,
    goal: v.goalOf(`< ${GOAL_LAG_MS} ms`),
    met: v.judge(met),
    details: [
      `- opskit's own /metrics, scraped every ${SAMPLE_SEC} s: opskit_nodejs_eventloop_lag_p99_seconds (prom-client's default metrics over perf_hooks.monitorEventLoopDelay at 10 ms resolution; Bun implements it: a loop blocked 80 ms every 200 ms reads p99 78.5 ms, max 78.5 ms), whose histogram is reset at every scrape, so each figure is the p99 of one ${SAMPLE_SEC} s window`,
      `- p99 over ${lag.windows} windows: worst **${lag.worstP99.toFixed(1)} ms**${v.would(met)}, median ${lag.medianP99.toFixed(2)} ms; ${lag.over} windows at or over ${GOAL_LAG_MS} ms; the longest single delay ${lag.max.toFixed(1)} ms. The p99 of the whole run is at most the worst window's (in every window at most 1% of the delays exceed it)`,
      `- the longest delay of each window: median ${lag.medianMax.toFixed(1)} ms; the /metrics request itself took ${lag.scrapeMedian.toFixed(1)} ms median, ${lag.scrapeMax.toFixed(1)} ms at most, as the runner timed it: its rendering runs on the server's event loop, so each scrape's own delay lands in the next window`,
      `- the slowest windows (p99, the longest delay, the whole machine's busy cores, the page's view): ${slowWindows(main)}`,
      `- before the first window: starting the server with ${main.checks.toLocaleString("en-US")} checks${main.page ? " and opening the page" : ""}: p99 ${main.startLag.p99Ms.toFixed(1)} ms, max ${main.startLag.maxMs.toFixed(1)} ms (not counted above)`,
    ],
  };
}

function pageResult(main: Phase, v: Verdict, browserVersion: string): BenchResult {
  const { fromT } = slopeWindow(main);
  const page = pageFigures(main);
  const met = page.worst < GOAL_PAGE_MB_PER_10MIN && main.pageErrors.length === 0;
  return {
    name: "soak",
    title: "K4. the dashboard's own memory",
    opskit: `JS heap ${signed(page.worst)} MB per 10 min, the steeper view`,
    anchor: "no anchor: a goal",
    ratio: `${(page.worst / GOAL_PAGE_MB_PER_10MIN).toFixed(2)}x goal`,
    goal: v.goalOf(`flat: < ${GOAL_PAGE_MB_PER_10MIN} MB per 10 min, no errors`),
    met: v.judge(met),
    details: [
      `- the dashboard at / in headless Chromium (playwright-core, Chromium ${browserVersion}), the token entered in its token field, switching between the Now page and the health grid every minute; every ${SAMPLE_SEC} s HeapProfiler.collectGarbage, then Performance.getMetrics (JSHeapUsedSize, Nodes, JSEventListeners) over the DevTools protocol`,
      `- least-squares slope of the JS heap over the last ${windowText(main, fromT)}, each view fitted on its own samples: the steeper **${signed(page.worst)} MB per 10 minutes**${v.would(met)}`,
      `- ${describeView("Now page", page.now)}`,
      `- ${describeView("health grid", page.health)}`,
      `- page errors (uncaught exceptions, console errors, failed requests among them, CSP violations, a view that did not show): ${main.pageErrors.length}${main.pageErrors.length > 0 ? `: ${main.pageErrors.slice(0, 5).join("; ")}` : ""}`,
    ],
  };
}

const runCount = (p: Phase) => Object.values(p.journal.runs).reduce((a, b) => a + b, 0);

function workResult(main: Phase): BenchResult {
  const j = main.journal;
  return {
    name: "soak",
    title: "K5. work done, errors",
    opskit: `${main.final.incidentsOpened} incidents, ${runCount(main)} runs, ${main.problems.length} problems`,
    anchor: `${main.episodesDone}-${main.episodesBegun} flapping episodes`,
    ratio: "-",
    goal: "each episode remediated, no errors",
    met: main.problems.length === 0,
    details: [
      `- flapping: ${main.flappers} of ${main.checks.toLocaleString("en-US")} endpoints answer 503 for ${DOWN_SEC} s of every ${PERIOD_SEC} s, staggered; an alert fires after 2 failed probes and resolves after 2 passing ones; the rule runs a 3-line local command once per incident (cooldown 2m); ${main.episodesDone} episodes ended at least 30 s before the end, ${main.episodesBegun} began before it`,
      `- /metrics at the end: incidents opened ${main.final.incidentsOpened}, resolved ${main.final.incidentsResolved}; remediations ${JSON.stringify(main.final.remediations)}; the API: ${main.api.total ?? "?"} incidents (${main.api.open ?? "?"} open, ${main.api.resolved ?? "?"} resolved)`,
      `- the journal after SIGTERM (exit ${main.exitCode}): incidents ${JSON.stringify(j.incidents)}; attempts ${JSON.stringify(j.attempts)}; runs ${JSON.stringify(j.runs)}; ${j.escalated} escalated; ${j.timelineLines} timeline lines`,
      `- checks that never fail seen down in any sample: ${main.unexpectedDownNames.length}; failed samples: ${main.sampleErrors.length}; page errors: ${main.pageErrors.length}; error or warning lines in opskit's output: ${main.logAlarms.length} (its log: bench/out/soak/opskit-main.log)`,
      ...(main.problems.length > 0 ? [`- **problems: ${main.problems.join("; ")}**`] : ["- no problems"]),
    ],
  };
}

/** The soak's results: the four goals, the work done, and with --growth the cost growth. */
export function soakResults(main: Phase, growth: Phase[], browserVersion: string): BenchResult[] {
  const v = verdictFor(main);
  return [
    rssResult(main, v),
    cpuResult(main, v),
    lagResult(main, v),
    ...(main.page ? [pageResult(main, v, browserVersion)] : []),
    workResult(main),
    ...(growth.length > 0 ? [growthResult(growth)] : []),
  ];
}

/** The same figures at 20, 200 and 2,000 checks, a short run each: how the cost grows with the work. */
function growthResult(phases: Phase[]): BenchResult {
  const cores = phases.map((p) => cpuCores(p.samples));
  const steps = cores.slice(1).map((c, i) => c / cores[i]!);
  const worst = Math.max(...steps);
  const problems = phases.flatMap((p) => p.problems.map((x) => `${p.checks} checks: ${x}`));
  const rows = phases.map((p, i) => {
    const { fit } = rssFit(p);
    const lag = lagFigures(p);
    const rate = probeRate(p);
    const page = p.page ? p.samples.at(-1)!.page : undefined;
    return `| ${p.checks.toLocaleString("en-US")} | ${cores[i]!.toFixed(3)} | ${i > 0 ? `${steps[i - 1]!.toFixed(2)}x` : "-"} | ${mbText(p.samples.at(-1)!.rssBytes)} | ${signed(perTenMin(fit.slope))} | ${lag.worstP99.toFixed(1)} / ${lag.medianP99.toFixed(2)} | ${rate.rate.toFixed(1)} of ${rate.wanted.toFixed(0)} | ${p.final.incidentsOpened} / ${runCount(p)} | ${page ? `${mbText(page.heapBytes)}, ${page.nodes}` : "-"} |`;
  });
  return {
    name: "soak",
    title: "K6. cost growth: 20, 200 and 2,000 checks",
    opskit: `worst CPU step ${worst.toFixed(2)}x for 10x`,
    anchor: "no anchor: linear growth",
    ratio: steps.map((s) => `${s.toFixed(2)}x`).join(", "),
    goal: `<= ${GROWTH_STEP_BOUND}x per 10x`,
    met: worst <= GROWTH_STEP_BOUND && problems.length === 0,
    details: [
      `- a narrower case than the soak: ${phases[0]!.minutes} minute${phases[0]!.minutes === 1 ? "" : "s"} each, a fresh server, endpoints and page each, 1% flapping (at least one check), the same config and sampling; the RSS slope over so short a run says little`,
      "",
      "| checks | CPU, cores | × the size before | RSS at the end | RSS slope, MB per 10 min | event-loop p99 worst / median, ms | probes/s answered | incidents / runs | page heap, DOM nodes at the end |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
      "",
      `- problems: ${problems.length === 0 ? "none" : problems.join("; ")}`,
    ],
  };
}
