// One phase of the soak: the endpoints and `opskit serve` started fresh, the
// dashboard opened, a sample every 10 s for the phase's minutes (the page
// switching view every minute), then the counts read from the API, /metrics
// and, after SIGTERM, the journal.
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { busyCpuSeconds } from "../machine.ts";
import { cpuSecondsOf, descendantsOf, outDir, processTable } from "../process.ts";
import { readJournal, type JournalCounts } from "../storm-targets.ts";
import { DOWN_SEC, flapSchedule } from "./flaps.ts";
import { openDashboard, type Dashboard, type PageSample } from "./page.ts";
import { mbText } from "./report.ts";
import { readProc, startEndpoints, startSoakServer, type EndpointStats, type Endpoints, type MetricsSample, type SoakServer } from "./server.ts";

export const SAMPLE_SEC = 10;
/** The page changes view every this many samples (a minute). */
const SWITCH_EVERY = 6;

export interface Sample {
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

export interface Phase {
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

export async function runPhase(checks: number, minutes: number, browser: Browser | undefined, label: string): Promise<Phase> {
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
  const pageErrors = [...((r.dashboard && (await attempt("the page's errors", problems, () => r.dashboard!.errors()))) ?? []), ...p.switchErrors];
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
