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
import { mkdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import type { Browser } from "playwright-core";
import { awaitQuiet, busyCpuSeconds } from "./machine.ts";
import { cpuSecondsOf, descendantsOf, outDir, processTable, root } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { median } from "./stats.ts";
import { readJournal, type JournalCounts } from "./storm-targets.ts";
import { DOWN_SEC, PERIOD_SEC, flapSchedule } from "./soak/flaps.ts";
import { launchChromium, openDashboard, type Dashboard, type PageSample, type View } from "./soak/page.ts";
import { asciiPlot, leastSquares, svgPlot, type Point } from "./soak/plot.ts";
import { INTERVAL, readProc, startEndpoints, startSoakServer, type EndpointStats, type Endpoints, type MetricsSample, type SoakServer } from "./soak/server.ts";

const GOAL_MINUTES = 30;
const GOAL_CHECKS = 2000;
/** The slope is fitted over the last 20 minutes of 30; a shorter run fits its last two thirds. */
const SLOPE_WINDOW_SEC = 20 * 60;
const SAMPLE_SEC = 10;
/** The page changes view every this many samples (a minute). */
const SWITCH_EVERY = 6;
const GOAL_RSS_MB_PER_10MIN = 1;
const GOAL_CPU_CORES = 0.5;
const GOAL_LAG_MS = 50;
/** "The page's memory stays flat", read as the same bound as opskit's RSS: under 1 MB of JS heap per 10 minutes. */
const GOAL_PAGE_MB_PER_10MIN = 1;
const GROWTH_CHECKS = [20, 200, 2000];
const GROWTH_STEP_BOUND = 12;
const MB = 1e6;

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

interface Sample {
  /** Seconds since the phase's first sample. */
  t: number;
  rssBytes: number;
  cpuSeconds: number;
  childCpuSeconds: number;
  threads: number;
  /** Event-loop delay p99 and max since the previous sample, ms. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** The /metrics request's time: its rendering blocks the server's event loop. */
  scrapeMs: number;
  /** Checks down now that do not flap (should be none), and flapping ones down. */
  unexpectedDown: number;
  flappersDown: number;
  checksReported: number;
  /** Requests the endpoints have answered so far. */
  served: number;
  /** All cores' busy time over the last interval (every process), and Chromium's part of it, in cores. */
  machineCores: number;
  chromiumCores: number;
  metrics: MetricsSample;
  page?: PageSample;
}

interface Phase {
  checks: number;
  minutes: number;
  flappers: number;
  page: boolean;
  samples: Sample[];
  /** Event-loop delay over the server's start and the page's opening, before the first sample. */
  startLag: { p99Ms: number; maxMs: number };
  startRssBytes: number;
  /** Down windows of the flapping endpoints that ended at least 30 s before the phase did, and those that began before its end. */
  episodesDone: number;
  episodesBegun: number;
  final: MetricsSample;
  endpoints: EndpointStats;
  /** Incident totals from the API; undefined where the request failed (a problem says why). */
  api: { open?: number; resolved?: number; total?: number };
  journal: JournalCounts;
  exitCode: number | null;
  /** Unexpected: failed samples, page errors, non-flapping checks seen down, failed runs, a bad exit. */
  problems: string[];
  pageErrors: string[];
  sampleErrors: string[];
  unexpectedDownNames: string[];
  /** Lines of opskit's own output that speak of an error or a warning. */
  logAlarms: string[];
}

const mbText = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const perTenMin = (bytesPerSec: number) => (bytesPerSec * 600) / MB;
const signed = (n: number, digits = 2) => `${n >= 0 ? "+" : ""}${n.toFixed(digits)}`;

/** The samples the slope is fitted on: the last 20 minutes of a 30-minute soak, the last two thirds of a shorter one. */
function slopeWindow(phase: Phase): { fromT: number; samples: Sample[] } {
  const end = phase.samples.at(-1)!.t;
  const fromT = Math.max(0, end - Math.min(SLOPE_WINDOW_SEC, (end * 2) / 3));
  return { fromT, samples: phase.samples.filter((s) => s.t >= fromT) };
}

function rssFit(phase: Phase) {
  const { fromT, samples } = slopeWindow(phase);
  return { fromT, fit: leastSquares(samples.map((s) => ({ t: s.t, y: s.rssBytes }))) };
}

function cpuCores(samples: Sample[]): number {
  const [first, last] = [samples[0]!, samples.at(-1)!];
  return (last.cpuSeconds - first.cpuSeconds) / (last.t - first.t);
}

/** What the runner holds while a phase runs. */
interface Running {
  label: string;
  schedule: ReturnType<typeof flapSchedule>;
  endpoints: Endpoints;
  server: SoakServer;
  dashboard: Dashboard | undefined;
  unexpected: Set<string>;
  /** Where the machine's and Chromium's CPU stood at the previous sample. */
  last: { at: number; machine: number; chromium: number };
}

/** CPU seconds of the browser's processes so far (those under this runner whose command is Chromium). */
function chromiumCpuSeconds(): number {
  const table = processTable();
  let total = 0;
  for (const pid of descendantsOf(process.pid, table)) {
    if (!table.get(pid)?.cmdline.includes("chromium")) continue;
    try {
      total += cpuSecondsOf(pid);
    } catch {
      // Ended while we looked.
    }
  }
  return total;
}

async function takeSample(r: Running, t: number): Promise<Sample> {
  const proc = readProc(r.server.pid);
  const [metrics, served, page] = await Promise.all([r.server.metrics(), r.endpoints.stats(), r.dashboard?.sample()]);
  const now = performance.now();
  const [machine, chromium] = [busyCpuSeconds(), chromiumCpuSeconds()];
  const seconds = (now - r.last.at) / 1000;
  const cores = { machineCores: (machine - r.last.machine) / seconds, chromiumCores: (chromium - r.last.chromium) / seconds };
  r.last = { at: now, machine, chromium };
  const down = metrics.down.filter((name) => !r.schedule.isFlapper(Number(name.slice(1))));
  for (const name of down) r.unexpected.add(name);
  return {
    t, ...proc, ...cores,
    lagP99Ms: metrics.lagP99Seconds * 1000,
    lagMaxMs: metrics.lagMaxSeconds * 1000,
    scrapeMs: metrics.scrapeMs,
    unexpectedDown: down.length,
    flappersDown: metrics.down.length - down.length,
    checksReported: metrics.reported,
    served: served.served,
    metrics,
    ...(page ? { page } : {}),
  };
}

function progressLine(label: string, s: Sample): string {
  const page = s.page ? `, page heap ${mbText(s.page.heapBytes)} ${s.page.nodes} nodes (${s.page.view})` : "";
  return `soak ${label}: ${(s.t / 60).toFixed(1)} min, RSS ${mbText(s.rssBytes)}, lag p99 ${s.lagP99Ms.toFixed(1)} ms, machine ${s.machineCores.toFixed(2)} cores busy, ${s.flappersDown} flapping checks down, ${s.unexpectedDown} others${page}`;
}

/** Reads `what`, or notes in `problems` why it could not be read: the end of a long soak must not be lost to one refused request. */
async function attempt<T>(what: string, problems: string[], read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

async function runPhase(checks: number, minutes: number, browser: Browser | undefined, label: string): Promise<Phase> {
  const schedule = flapSchedule(checks);
  const endpoints = await startEndpoints(checks);
  const server = await startSoakServer(schedule, endpoints.ports, `${outDir}/soak/opskit-${label}.log`);
  const r: Running = { label, schedule, endpoints, server, dashboard: undefined, unexpected: new Set(), last: { at: 0, machine: 0, chromium: 0 } };
  try {
    const startRssBytes = readProc(server.pid).rssBytes;
    // Seconds on the flapping schedule's clock (the endpoints' start) when the server was serving.
    const serving = (await endpoints.stats()).seconds;
    if (browser) r.dashboard = await openDashboard(browser, server.url, server.token, checks);
    // This scrape closes the start's window of the event-loop histogram (prom-client resets it at every scrape).
    const atStart = await server.metrics();
    const origin = (await endpoints.stats()).seconds;
    const samples: Sample[] = [];
    const sampleErrors: string[] = [];
    const switchErrors: string[] = [];
    const started = performance.now();
    r.last = { at: started, machine: busyCpuSeconds(), chromium: chromiumCpuSeconds() };
    const total = Math.round((minutes * 60) / SAMPLE_SEC);
    for (let k = 0; k <= total; k++) {
      await Bun.sleep(Math.max(0, started + k * SAMPLE_SEC * 1000 - performance.now()));
      const t = (performance.now() - started) / 1000;
      try {
        samples.push(await takeSample(r, t));
        if (k % SWITCH_EVERY === 0) console.log(progressLine(label, samples.at(-1)!));
      } catch (error) {
        sampleErrors.push(`t=${t.toFixed(0)} s: ${error instanceof Error ? error.message : String(error)}`);
      }
      const dashboard = r.dashboard;
      if (dashboard && k > 0 && k % SWITCH_EVERY === 0 && k < total) {
        const next = dashboard.view === "now" ? "health" : "now";
        await dashboard.show(next).catch((error: Error) => switchErrors.push(`t=${t.toFixed(0)} s, to ${next}: ${error.message.split("\n")[0]}`));
      }
    }
    if (samples.length < 2) throw new Error(`soak ${label}: ${samples.length} samples; ${sampleErrors.slice(0, 3).join("; ")}`);
    return await finishPhase(r, { checks, minutes, page: browser !== undefined, samples, sampleErrors, switchErrors, atStart, startRssBytes, serving, end: origin + samples.at(-1)!.t });
  } finally {
    await r.dashboard?.close().catch(() => undefined);
    await server.dispose();
    await endpoints.stop();
  }
}

/** The end of a phase: the counts from the API and /metrics, the page closed, SIGTERM, the journal read. */
async function finishPhase(
  r: Running,
  p: { checks: number; minutes: number; page: boolean; samples: Sample[]; sampleErrors: string[]; switchErrors: string[]; atStart: MetricsSample; startRssBytes: number; serving: number; end: number },
): Promise<Phase> {
  const problems: string[] = [];
  const total = (path: string) => attempt(`GET ${path}`, problems, async () => (await r.server.get<{ total: number }>(path)).total);
  const final = (await attempt("the last /metrics", problems, () => r.server.metrics())) ?? p.samples.at(-1)!.metrics;
  const api = { open: await total("/api/v1/incidents?status=open&limit=1"), resolved: await total("/api/v1/incidents?status=resolved&limit=1"), total: await total("/api/v1/incidents?limit=1") };
  const endpointStats = (await attempt("the endpoints' counts", problems, () => r.endpoints.stats())) ?? { seconds: Number.NaN, served: p.samples.at(-1)!.served, failed: Number.NaN, unknown: Number.NaN };
  const pageErrors = [...(r.dashboard?.errors ?? []), ...p.switchErrors];
  await r.dashboard?.close();
  r.dashboard = undefined;
  const exitCode = await r.server.stop();
  const journal = readJournal(r.server.journal, []);
  const logAlarms = readFileSync(r.server.log, "utf8").split("\n").filter((line) => /\b(error|warn(ing)?|E_[A-Z_]+)\b/i.test(line));
  const phase: Phase = {
    checks: p.checks, minutes: p.minutes, flappers: r.schedule.flappers.length, page: p.page, samples: p.samples,
    startLag: { p99Ms: p.atStart.lagP99Seconds * 1000, maxMs: p.atStart.lagMaxSeconds * 1000 },
    startRssBytes: p.startRssBytes,
    episodesDone: r.schedule.windows(p.serving, p.end - 30).length,
    episodesBegun: r.schedule.windows(0, p.end + DOWN_SEC).filter(([from]) => from < p.end).length,
    final, endpoints: endpointStats, api, journal, exitCode, problems, pageErrors,
    sampleErrors: p.sampleErrors,
    unexpectedDownNames: [...r.unexpected].sort(),
    logAlarms,
  };
  phase.problems.push(...phaseProblems(phase));
  return phase;
}

function phaseProblems(p: Phase): string[] {
  const problems: string[] = [];
  if (p.sampleErrors.length > 0) problems.push(`${p.sampleErrors.length} samples failed (first: ${p.sampleErrors[0]})`);
  if (p.pageErrors.length > 0) problems.push(`the page reported ${p.pageErrors.length} errors (first: ${p.pageErrors[0]})`);
  if (p.logAlarms.length > 0) problems.push(`opskit's output has ${p.logAlarms.length} error or warning lines (first: ${p.logAlarms[0]!.slice(0, 200)})`);
  if (p.unexpectedDownNames.length > 0) problems.push(`${p.unexpectedDownNames.length} checks that never fail were seen down (${p.unexpectedDownNames.slice(0, 5).join(", ")})`);
  const opened = p.final.incidentsOpened;
  if (opened < p.episodesDone || opened > p.episodesBegun) problems.push(`${opened} incidents opened for ${p.episodesDone}-${p.episodesBegun} flapping episodes`);
  if (p.final.incidentsResolved < p.episodesDone) problems.push(`${p.final.incidentsResolved} incidents resolved for ${p.episodesDone} finished episodes`);
  const succeeded = p.journal.runs.succeeded ?? 0;
  const runs = Object.values(p.journal.runs).reduce((a, b) => a + b, 0);
  if (runs !== succeeded) problems.push(`runs not all succeeded: ${JSON.stringify(p.journal.runs)}`);
  if (runs < p.episodesDone) problems.push(`${runs} remediation runs for ${p.episodesDone} finished episodes`);
  if (p.exitCode !== 0) problems.push(`SIGTERM: exit ${p.exitCode ?? "none within 40 s (killed)"}`);
  return problems;
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

function results(main: Phase, growth: Phase[], browserVersion: string): BenchResult[] {
  const narrower = narrowness(main);
  const judge = (met: boolean) => (narrower ? undefined : met);
  const would = (met: boolean) => (narrower ? ` (${met ? "would meet" : "would NOT meet"} the goal; ${narrower})` : met ? " (met)" : " (NOT met)");
  const { fromT, fit } = rssFit(main);
  const slope = perTenMin(fit.slope);
  const rssMet = slope < GOAL_RSS_MB_PER_10MIN;
  const cores = cpuCores(main.samples);
  const cpuMet = cores < GOAL_CPU_CORES;
  const lag = lagFigures(main);
  const lagMet = lag.worstP99 < GOAL_LAG_MS;
  const window = `${((main.samples.at(-1)!.t - fromT) / 60).toFixed(1)} minutes`;
  const rss = main.samples.map((s) => s.rssBytes);
  const points: Point[] = main.samples.map((s) => ({ t: s.t, y: s.rssBytes / MB }));
  const rate = probeRate(main);
  const cpuWindow = cpuCores(main.samples.filter((s) => s.t >= fromT));
  const childCpu = main.samples.at(-1)!.childCpuSeconds - main.samples[0]!.childCpuSeconds;
  const out: BenchResult[] = [
    {
      name: "soak",
      title: "K1. RSS plateau",
      opskit: `${signed(slope)} MB per 10 min over the last ${window}`,
      anchor: "no anchor: a goal",
      ratio: `${(slope / GOAL_RSS_MB_PER_10MIN).toFixed(2)}x goal`,
      goal: `< ${GOAL_RSS_MB_PER_10MIN} MB per 10 min`,
      met: judge(rssMet),
      details: [
        `- ${main.checks.toLocaleString("en-US")} checks every ${INTERVAL} for ${main.minutes} minutes (${main.flappers} flapping), ${main.page ? "the dashboard open in headless Chromium" : "**no page open**"}; RSS (VmRSS of dist/opskit, /proc/PID/status) every ${SAMPLE_SEC} s: ${mbText(main.startRssBytes)} when serving began, ${mbText(rss[0]!)} at the first sample, ${mbText(rss.at(-1)!)} at the last, ${mbText(Math.min(...rss))}-${mbText(Math.max(...rss))} over the run`,
        `- least-squares slope of RSS over the last ${window} (${fit.points} samples): **${signed(slope)} MB per 10 minutes**${would(rssMet)}; MB = 10^6 bytes`,
        `- RSS over time (${main.samples.length} samples; the SVG: [soak-rss.svg](soak-rss.svg)):`,
        "",
        "```text",
        ...asciiPlot(points, { unit: "RSS, MB", fromT }),
        "```",
        "",
        "![opskit serve RSS over the soak](soak-rss.svg)",
      ],
    },
    {
      name: "soak",
      title: "K2. CPU",
      opskit: `${cores.toFixed(3)} cores on average`,
      anchor: "no anchor: a goal",
      ratio: `${(cores / GOAL_CPU_CORES).toFixed(2)}x goal`,
      goal: `< ${GOAL_CPU_CORES} core`,
      met: judge(cpuMet),
      details: [
        `- user+sys of the opskit process (all its threads, /proc/PID/stat) over the whole run: **${cores.toFixed(3)} cores**${would(cpuMet)}; over the last ${window}: ${cpuWindow.toFixed(3)} cores; its ended children (the remediation commands): ${childCpu.toFixed(2)} CPU seconds in all`,
        `- per ${SAMPLE_SEC} s sample: max ${Math.max(...main.samples.slice(1).map((s, i) => (s.cpuSeconds - main.samples[i]!.cpuSeconds) / (s.t - main.samples[i]!.t))).toFixed(3)} cores; threads ${Math.min(...main.samples.map((s) => s.threads))}-${Math.max(...main.samples.map((s) => s.threads))}`,
        `- the whole machine (${cpus().length} cores, every process): median ${median(main.samples.slice(1).map((s) => s.machineCores)).toFixed(2)} cores busy, at most ${Math.max(...main.samples.slice(1).map((s) => s.machineCores)).toFixed(2)}; Chromium (the page) ${mean(main.samples.slice(1).map((s) => s.chromiumCores)).toFixed(3)} cores on average`,
        `- probes answered by the endpoints: ${rate.rate.toFixed(1)}/s for the ${rate.wanted.toFixed(0)}/s the checks' interval asks (${main.endpoints.failed} answered 503 by the flapping ones, ${main.endpoints.unknown} unknown paths); the endpoints are a process of their own, so their CPU is not counted; nor is Chromium's`,
      ],
    },
    {
      name: "soak",
      title: "K3. event-loop delay p99",
      opskit: `${lag.worstP99.toFixed(1)} ms, worst ${SAMPLE_SEC} s window`,
      anchor: "no anchor: a goal",
      ratio: `${(lag.worstP99 / GOAL_LAG_MS).toFixed(2)}x goal`,
      goal: `< ${GOAL_LAG_MS} ms`,
      met: judge(lagMet),
      details: [
        `- opskit's own /metrics, scraped every ${SAMPLE_SEC} s: opskit_nodejs_eventloop_lag_p99_seconds (prom-client's default metrics over perf_hooks.monitorEventLoopDelay at 10 ms resolution; Bun implements it: a loop blocked 80 ms every 200 ms reads p99 78.5 ms, max 78.5 ms), whose histogram is reset at every scrape, so each figure is the p99 of one ${SAMPLE_SEC} s window`,
        `- p99 over ${lag.windows} windows: worst **${lag.worstP99.toFixed(1)} ms**${would(lagMet)}, median ${lag.medianP99.toFixed(2)} ms; ${lag.over} windows at or over ${GOAL_LAG_MS} ms; the longest single delay ${lag.max.toFixed(1)} ms. The p99 of the whole run is at most the worst window's (in every window at most 1% of the delays exceed it)`,
        `- the longest delay of each window: median ${lag.medianMax.toFixed(1)} ms; the /metrics request itself took ${lag.scrapeMedian.toFixed(1)} ms median, ${lag.scrapeMax.toFixed(1)} ms at most, as the runner timed it: its rendering runs on the server's event loop, so each scrape's own delay lands in the next window`,
        `- the slowest windows (p99, the longest delay, the whole machine's busy cores, the page's view): ${slowWindows(main)}`,
        `- before the first window: starting the server with ${main.checks.toLocaleString("en-US")} checks${main.page ? " and opening the page" : ""}: p99 ${main.startLag.p99Ms.toFixed(1)} ms, max ${main.startLag.maxMs.toFixed(1)} ms (not counted above)`,
      ],
    },
  ];
  if (main.page) {
    const page = pageFigures(main);
    const pageSlope = page.worst;
    const pageMet = pageSlope < GOAL_PAGE_MB_PER_10MIN && main.pageErrors.length === 0;
    out.push({
      name: "soak",
      title: "K4. the dashboard's own memory",
      opskit: `JS heap ${signed(pageSlope)} MB per 10 min, the steeper view`,
      anchor: "no anchor: a goal",
      ratio: `${(pageSlope / GOAL_PAGE_MB_PER_10MIN).toFixed(2)}x goal`,
      goal: `flat: < ${GOAL_PAGE_MB_PER_10MIN} MB per 10 min, no errors`,
      met: judge(pageMet),
      details: [
        `- the dashboard at / in headless Chromium (playwright-core, Chromium ${browserVersion}), the token entered in its token field, switching between the Now page and the health grid every minute; every ${SAMPLE_SEC} s HeapProfiler.collectGarbage, then Performance.getMetrics (JSHeapUsedSize, Nodes, JSEventListeners) over the DevTools protocol`,
        `- least-squares slope of the JS heap over the last ${window}, each view fitted on its own samples: the steeper **${signed(pageSlope)} MB per 10 minutes**${would(pageMet)}`,
        `- ${describeView("Now page", page.now)}`,
        `- ${describeView("health grid", page.health)}`,
        `- page errors (console errors, uncaught exceptions, failed requests): ${main.pageErrors.length}${main.pageErrors.length > 0 ? `: ${main.pageErrors.slice(0, 5).join("; ")}` : ""}`,
      ],
    });
  }
  const j = main.journal;
  out.push({
    name: "soak",
    title: "K5. work done, errors",
    opskit: `${main.final.incidentsOpened} incidents, ${Object.values(j.runs).reduce((a, b) => a + b, 0)} runs, ${main.problems.length} problems`,
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
  });
  if (growth.length > 0) out.push(growthResult(growth));
  return out;
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
    return `| ${p.checks.toLocaleString("en-US")} | ${cores[i]!.toFixed(3)} | ${i > 0 ? `${steps[i - 1]!.toFixed(2)}x` : "-"} | ${mbText(p.samples.at(-1)!.rssBytes)} | ${signed(perTenMin(fit.slope))} | ${lag.worstP99.toFixed(1)} / ${lag.medianP99.toFixed(2)} | ${rate.rate.toFixed(1)} of ${rate.wanted.toFixed(0)} | ${p.final.incidentsOpened} / ${Object.values(p.journal.runs).reduce((a, b) => a + b, 0)} | ${page ? `${mbText(page.heapBytes)}, ${page.nodes}` : "-"} |`;
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
    return results(main, growth, browser?.version() ?? "none");
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
