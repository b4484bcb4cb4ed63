// Benchmark "storm": 10,000 alerts over 100 fingerprints, posted as fast as
// the server sustains, one alert per request, to `opskit serve` (Alertmanager
// webhook notifications, each journaled before its 2xx, then turned into
// incidents and remediation runs) in both journal modes, the default and
// `server.fsync: true`, and to Alertmanager itself (POST /api/v2/alerts, as
// Prometheus sends them). The same load generator (bench/storm-load.ts, a
// process of its own) drives all three at concurrency 16 and 64 after a
// warm-up; every storm gets a fresh server. Rounds rotate which side goes
// first; other work on a shared machine only ever slows a storm, so each
// side's fastest round at a concurrency counts. The goals are judged at
// concurrency 64 for both sides: opskit's rate at least 0.75x Alertmanager's
// and its p99 at most 20 ms; they concern the default mode, and the fsync side
// is reported beside it. The cost growth storms 1,000 and 100,000 alerts at
// concurrency 64 (S5), beside the 10,000 of the rounds.
// After each opskit storm, either mode: every alert applied, then SIGTERM,
// then the journal is read: 100 incidents, at most 100 runs, none lost.
import type { Subprocess } from "bun";
import { awaitQuiet } from "./machine.ts";
import { bun, outDir, root, track } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { median } from "./stats.ts";
import type { BodyKind, LoadReport } from "./storm-load.ts";
import { STORM_FINGERPRINTS, WARMUP_FINGERPRINTS } from "./storm-load.ts";
import {
  committedNotifications, journalFilesystem, readJournal, settleOpskit, startBlackhole, startOpskitServe, startStormAlertmanager,
  type Blackhole, type JournalCounts, type Settled, type StormTarget,
} from "./storm-targets.ts";

const ALERTS = 10_000;
const WARMUP = 500;
const CONCURRENCIES = [16, 64];
const ROUNDS = 3;
/** Both sides are judged at this concurrency. */
const GOAL_CONCURRENCY = 64;
/** opskit's rate against Alertmanager's, at GOAL_CONCURRENCY. */
const GOAL_RATIO = 0.75;
const GOAL_P99_MS = 20;
/** The cost growth: 1x, 10x and 100x the work at GOAL_CONCURRENCY (ALERTS is the rounds' own). */
const GROWTH_ALERTS = [1_000, ALERTS, 100_000];
const GROWTH_ROUNDS = 2;
const QUIET_WAIT_MS = 10_000;
/** Bounds: a warm-up or a storm that takes longer has failed to measure; so has a server that never settles. */
const LOAD_BOUND_MS = 180_000;
const SETTLE_BOUND_MS = 120_000;

type OpskitSide = "opskit" | "opskit-fsync";
type Side = OpskitSide | "alertmanager";
const SIDES: readonly Side[] = ["opskit", "opskit-fsync", "alertmanager"];

interface Storm {
  side: Side;
  concurrency: number;
  /** Alerts in the measured storm (ALERTS but in the cost growth). */
  alerts: number;
  round: number;
  /** How busy the cores were (other work) in the second before the storm. */
  busy: number;
  requests: number;
  /** 2xx answers. */
  accepted: number;
  /** Requests without a 2xx: other statuses and requests that got no answer. */
  errors: number;
  firstError?: string;
  wallSeconds: number;
  /** accepted / wall. */
  rate: number;
  p50: number;
  p90: number;
  p99: number;
  maxMs: number;
  /** user+sys of the server and of the load generator during the storm. */
  serverCpu: number;
  loadCpu: number;
  peakRssBytes: number;
  /** What the checks found wrong; empty when every check held. */
  problems: string[];
  opskit?: {
    /** Notifications another connection saw committed when the last answer arrived, and how many had been answered 2xx. */
    journaledAtLastAnswer: number;
    answered: number;
    settle: Settled;
    /** Server CPU from the last answer until it settled. */
    processingCpu: number;
    exitCode: number | null;
    journal: JournalCounts;
  };
  alertmanager?: { alertsHeld: number };
}

/** Nearest-rank percentile of sorted values. */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
export const count2xx = (statuses: Record<string, number>) => Object.entries(statuses).reduce((sum, [code, n]) => sum + (code.startsWith("2") ? n : 0), 0);
export const msText = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0));

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}

type WarmReport = Omit<LoadReport, "latenciesMs">;
export type StormReport = Omit<LoadReport, "latenciesMs"> & { latenciesMs: (number | null)[] };

export interface Load {
  warm: WarmReport;
  /** Starts the measured storm and resolves with its report. */
  storm(): Promise<StormReport>;
  kill(): void;
}

/** Starts the load generator and waits for its warm-up to finish. */
export async function startLoad(url: string, kind: BodyKind, alerts: number, concurrency: number, token?: string): Promise<Load> {
  const child: Subprocess<"pipe", "pipe", "pipe"> = track(
    Bun.spawn([bun, "bench/storm-load.ts", url, kind, String(alerts), String(concurrency), String(WARMUP)], {
      cwd: root,
      env: { ...process.env, ...(token ? { OPSKIT_STORM_TOKEN: token } : {}) },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  let stderr = "";
  void (async () => {
    for await (const chunk of child.stderr) stderr = (stderr + new TextDecoder().decode(chunk)).slice(-4000);
  })().catch(() => undefined);
  const reports = lines(child.stdout);
  const next = async <T>(what: string): Promise<T> => {
    const line = await Promise.race([reports.next(), Bun.sleep(LOAD_BOUND_MS).then(() => undefined)]);
    if (!line || line.done) throw new Error(`load generator gave no ${what} report within ${LOAD_BOUND_MS / 1000} s (exit ${child.exitCode}): ${stderr}`);
    return JSON.parse(line.value) as T;
  };
  try {
    const warm = await next<WarmReport>("warm-up");
    return {
      warm,
      async storm() {
        child.stdin.write("go\n");
        await child.stdin.flush();
        return next<StormReport>("storm");
      },
      kill: () => child.kill("SIGKILL"),
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/** The part both sides share: warm-up, a quiet second, the measured storm, its figures. */
async function measure(side: Side, target: StormTarget, alerts: number, concurrency: number, round: number, afterWarmup: (load: Load) => Promise<void>): Promise<{ storm: Storm; load: Load; report: StormReport }> {
  const load = await startLoad(target.alertsUrl, side === "alertmanager" ? "v2" : "webhook", alerts, concurrency, "token" in target ? (target.token as string) : undefined);
  try {
    await afterWarmup(load);
    const busy = await awaitQuiet(QUIET_WAIT_MS);
    const cpuBefore = target.cpuSeconds();
    const report = await load.storm();
    const serverCpu = target.cpuSeconds() - cpuBefore;
    const answered = report.latenciesMs.filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
    const accepted = count2xx(report.statuses);
    const storm: Storm = {
      side, concurrency, alerts, round, busy,
      requests: report.requests,
      accepted,
      errors: report.requests - accepted,
      ...(report.firstRejection || report.firstFailure ? { firstError: report.firstRejection ?? report.firstFailure } : {}),
      wallSeconds: report.wallSeconds,
      rate: accepted / report.wallSeconds,
      p50: percentile(answered, 50),
      p90: percentile(answered, 90),
      p99: percentile(answered, 99),
      maxMs: answered.at(-1) ?? Number.NaN,
      serverCpu,
      loadCpu: report.cpuSeconds,
      peakRssBytes: target.peakRssBytes(),
      problems: [],
    };
    return { storm, load, report };
  } catch (error) {
    load.kill();
    throw error;
  }
}

function journalProblems(o: NonNullable<Storm["opskit"]>): string[] {
  const { journal, settle } = o;
  const problems: string[] = [];
  if (o.journaledAtLastAnswer < o.answered) problems.push(`when the last answer arrived the journal held ${o.journaledAtLastAnswer} of the ${o.answered} notifications answered 2xx`);
  if (!settle.settled) problems.push(`not settled within ${SETTLE_BOUND_MS / 1000} s: ${settle.alertsApplied} of ${o.answered} alerts applied, ${settle.incidents} incidents, ${settle.runs} runs`);
  if (o.exitCode !== 0) problems.push(`SIGTERM: exit ${o.exitCode ?? "none within 40 s (killed)"}`);
  if (journal.notifications !== o.answered || journal.missing > 0 || journal.unanswered > 0) {
    problems.push(`journal holds ${journal.notifications} notifications for ${o.answered} 2xx answers (${journal.missing} answered ids missing, ${journal.unanswered} never answered)`);
  }
  if (journal.unprocessed > 0) problems.push(`${journal.unprocessed} notifications left unprocessed`);
  const storm = Object.entries(journal.incidents).filter(([k]) => k.startsWith("StormAlert ")).reduce((sum, [, n]) => sum + n, 0);
  if (storm !== STORM_FINGERPRINTS || journal.incidents["StormAlert open"] !== STORM_FINGERPRINTS) problems.push(`StormAlert incidents ${JSON.stringify(journal.incidents)}, expected ${STORM_FINGERPRINTS} open`);
  const runs = Object.values(journal.runs).reduce((a, b) => a + b, 0);
  if (runs > STORM_FINGERPRINTS) problems.push(`${runs} remediation runs for ${STORM_FINGERPRINTS} incidents`);
  return problems;
}

async function stormOpskit(side: OpskitSide, concurrency: number, round: number, alerts = ALERTS): Promise<Storm> {
  const server = await startOpskitServe({ fsync: side === "opskit-fsync" });
  let load: Load | undefined;
  try {
    const measured = await measure(side, server, alerts, concurrency, round, async (warming) => {
      // The warm-up's incidents settle before the storm, so its processing does not run into the storm.
      await settleOpskit(server, count2xx(warming.warm.statuses), 30_000);
    });
    load = measured.load;
    const { storm, report } = measured;
    const answeredIds = [...load.warm.notificationIds, ...report.notificationIds];
    // Read at once, by another connection, while the server runs: what was answered 2xx is committed.
    const journaledAtLastAnswer = committedNotifications(server.journal);
    const cpuAtLastAnswer = server.cpuSeconds();
    const settle = await settleOpskit(server, answeredIds.length, SETTLE_BOUND_MS);
    const processingCpu = server.cpuSeconds() - cpuAtLastAnswer;
    storm.peakRssBytes = server.peakRssBytes();
    const exitCode = await server.stop();
    const journal = readJournal(server.journal, answeredIds);
    storm.opskit = { journaledAtLastAnswer, answered: answeredIds.length, settle, processingCpu, exitCode, journal };
    storm.problems = journalProblems(storm.opskit);
    return storm;
  } finally {
    load?.kill();
    await Bun.write(`${outDir}/storm/${side}-n${alerts}-c${concurrency}-r${round}.log`, server.output());
    await server.dispose();
  }
}

async function stormAlertmanager(concurrency: number, round: number, blackhole: Blackhole, alerts = ALERTS): Promise<Storm> {
  const am = await startStormAlertmanager(blackhole);
  let load: Load | undefined;
  try {
    const measured = await measure("alertmanager", am, alerts, concurrency, round, async () => undefined);
    load = measured.load;
    const { storm } = measured;
    const alertsHeld = await am.alertCount("StormAlert");
    storm.alertmanager = { alertsHeld };
    if (alertsHeld !== STORM_FINGERPRINTS) storm.problems.push(`Alertmanager holds ${alertsHeld} StormAlert alerts, expected ${STORM_FINGERPRINTS}`);
    return storm;
  } finally {
    load?.kill();
    await am.stop();
  }
}

/** The median rate of a side's rounds at the concurrency of `like`. */
const medianRate = (storms: Storm[], like: Storm) => median(storms.filter((s) => s.side === like.side && s.concurrency === like.concurrency).map((s) => s.rate));
const bestOf = (storms: Storm[]) => [...storms].sort((a, b) => b.rate - a.rate)[0]!;

/** A side's fastest round of ALERTS alerts at the goals' concurrency. */
function chosen(storms: Storm[], side: Side): Storm {
  return bestOf(storms.filter((s) => s.side === side && s.concurrency === GOAL_CONCURRENCY));
}

function levelTable(storms: Storm[]): string[] {
  const rows = SIDES.flatMap((side) =>
    CONCURRENCIES.map((c) => {
      const all = storms.filter((s) => s.side === side && s.concurrency === c);
      const b = bestOf(all);
      const cpu = `${Math.round((b.serverCpu / b.requests) * 1e6)} µs`;
      return `| ${side} | ${c} | **${Math.round(b.rate)}** (${all.map((s) => Math.round(s.rate)).join(", ")}) | ${msText(b.p50)} | ${msText(b.p90)} | ${msText(b.p99)} | ${msText(b.maxMs)} | ${all.reduce((n, s) => n + s.errors, 0)} | ${cpu} | ${b.loadCpu.toFixed(2)} s |`;
    }),
  );
  return [
    "| server | concurrency | accepted/s, best (rounds) | p50 ms | p90 ms | p99 ms | max ms | non-2xx, all rounds | server CPU per alert | generator CPU |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ];
}

function stormLine(s: Storm): string {
  const o = s.opskit!;
  const j = o.journal;
  return `- c${s.concurrency} round ${s.round}: ${Math.round(s.rate)}/s; journal ${j.notifications} notifications for ${o.answered} 2xx (${o.journaledAtLastAnswer} committed when the last answer arrived), ${j.unprocessed} unprocessed; incidents ${JSON.stringify(j.incidents)}; attempts ${JSON.stringify(j.attempts)}; runs ${JSON.stringify(j.runs)}${j.failures.length > 0 ? ` (failed: ${j.failures.map((f) => `"${f}"`).join(", ")})` : ""}; ${j.escalated} incidents escalated; ${j.timelineLines} timeline lines; every alert applied ${o.settle.appliedSeconds.toFixed(2)} s after the last answer (server CPU ${o.processingCpu.toFixed(2)} s until settled); SIGTERM exit ${o.exitCode}${s.problems.length > 0 ? `; **problems: ${s.problems.join("; ")}**` : ""}`;
}

function results(all: Storm[], blackhole: Blackhole): BenchResult[] {
  const storms = all.filter((s) => s.alerts === ALERTS);
  const o = chosen(storms, "opskit");
  const a = chosen(storms, "alertmanager");
  const opskitStorms = storms.filter((s) => s.side === "opskit");
  const failing = opskitStorms.filter((s) => s.problems.length > 0);
  const lost = opskitStorms.some((s) => s.opskit!.journal.missing > 0 || s.opskit!.journaledAtLastAnswer < s.opskit!.answered);
  const ratio = o.rate / a.rate;
  const rateMet = ratio >= GOAL_RATIO && !lost;
  const p99Met = o.p99 <= GOAL_P99_MS;
  const oj = o.opskit!.journal;
  const runs = Object.values(oj.runs).reduce((x, y) => x + y, 0);
  const lostHere = oj.missing + Math.max(0, o.opskit!.answered - oj.notifications);
  const busy = storms.map((s) => s.busy);
  const amProblems = storms.filter((s) => s.side === "alertmanager" && s.problems.length > 0);
  return [
    {
      name: "storm",
      title: "S1. 10,000 alerts, accepted per second",
      opskit: `${Math.round(o.rate)} alerts/s at c${o.concurrency}`,
      anchor: `Alertmanager ${Math.round(a.rate)} alerts/s at c${a.concurrency}`,
      ratio: `${ratio.toFixed(2)}x Alertmanager`,
      goal: `>= ${GOAL_RATIO}x Alertmanager, none lost`,
      met: rateMet,
      details: [
        `- opskit: **${Math.round(o.rate)} accepted alerts/s** at concurrency ${o.concurrency} (${o.accepted} of ${o.requests} answered 2xx in ${o.wallSeconds.toFixed(2)} s; median round ${Math.round(medianRate(storms, o))}/s), each journaled before its 2xx${lost ? ": NOT so in every storm, see S3" : " (checked in every storm, S3)"}`,
        `- Alertmanager: **${Math.round(a.rate)} accepted alerts/s** at concurrency ${a.concurrency} (${a.accepted} of ${a.requests} answered 2xx in ${a.wallSeconds.toFixed(2)} s; median round ${Math.round(medianRate(storms, a))}/s)`,
        `- ratio of the fastest rounds **${ratio.toFixed(2)}x** (goal >= ${GOAL_RATIO}x Alertmanager at concurrency ${GOAL_CONCURRENCY}): ${rateMet ? "met" : "NOT met"}; of the median rounds ${(medianRate(storms, o) / medianRate(storms, a)).toFixed(2)}x`,
        `- each side's fastest of ${ROUNDS} rounds at each concurrency (opskit-fsync is opskit with \`server.fsync: true\`, S4); the goals are judged at concurrency ${GOAL_CONCURRENCY}, the other rows are for context:`,
        "",
        ...levelTable(storms),
        "",
        `- load: one alert per request, StormAlert over ${STORM_FINGERPRINTS} fingerprints (instance 0-99), ${ALERTS} requests after a warm-up of ${WARMUP} (StormWarmup over ${WARMUP_FINGERPRINTS} fingerprints, which no rule matches), by \`bench/storm-load.ts\` (Bun fetch, keep-alive, a fixed number of workers with one request in flight each; bodies built before the clock starts); to opskit an Alertmanager version 4 webhook notification per request (POST /api/v1/alerts/alertmanager), to Alertmanager POST /api/v2/alerts with the same alert (endsAt an hour ahead); rate = 2xx answers / time from the first request to the last answer`,
        `- a fresh server for every storm: opskit serve (\`-c\` a temp config: rule StormAlert → workflow \`fix\`, one \`exec: "true"\` on local, cooldown 10m, maxAttempts 1, maxConcurrentRemediations 4, and for opskit-fsync \`fsync: true\`; a new journal); Alertmanager 0.25 (Debian) on loopback, gossip off, group_by [alertname] and its default timings (group_wait 30s, group_interval 5m), routed to a blackhole webhook in the runner (${blackhole.notifications} notifications reached it in all)`,
        `- server CPU (user+sys) per alert: the server process's alone, from the first request to the last answer; opskit's includes turning the alerts into incidents and runs as far as it kept up (what was left after the last answer is in S3)`,
        `- cores busy with other work in the second before each storm: median ${median(busy)}%, max ${Math.max(...busy)}% (each waits up to ${QUIET_WAIT_MS / 1000} s for under 15%)`,
      ],
    },
    {
      name: "storm",
      title: `S2. p99 latency at concurrency ${GOAL_CONCURRENCY}`,
      opskit: `${msText(o.p99)} ms p99 at c${o.concurrency}`,
      anchor: `Alertmanager ${msText(a.p99)} ms p99 at c${a.concurrency}`,
      ratio: `${(o.p99 / a.p99).toFixed(2)}x Alertmanager`,
      goal: `<= ${GOAL_P99_MS} ms`,
      met: p99Met,
      details: [
        `- opskit at concurrency ${o.concurrency} (its fastest round, S1): p50 ${msText(o.p50)} ms, p90 ${msText(o.p90)} ms, **p99 ${msText(o.p99)} ms**, max ${msText(o.maxMs)} ms; goal <= ${GOAL_P99_MS} ms: ${p99Met ? "met" : "NOT met"}; p99 of every round at c${GOAL_CONCURRENCY}: ${opskitStorms.filter((s) => s.concurrency === GOAL_CONCURRENCY).map((s) => msText(s.p99)).join(", ")} ms`,
        `- Alertmanager at concurrency ${a.concurrency}: p50 ${msText(a.p50)} ms, p90 ${msText(a.p90)} ms, p99 ${msText(a.p99)} ms, max ${msText(a.maxMs)} ms`,
        `- latency: from the request's send to its whole answer read, in the load generator, over the ${ALERTS} storm requests; opskit's covers parsing and validating the notification and committing it to the journal (one transaction per turn of the event loop), Alertmanager's validating and storing the alert in memory`,
        `- peak RSS (VmHWM) in those storms: opskit ${(o.peakRssBytes / 1e6).toFixed(1)} MB, Alertmanager ${(a.peakRssBytes / 1e6).toFixed(1)} MB`,
      ],
    },
    {
      name: "storm",
      title: "S3. after the storm: incidents, runs, lost",
      opskit: `${oj.incidents["StormAlert open"] ?? 0} incidents, ${runs} runs, ${lostHere} lost`,
      anchor: `Alertmanager holds ${a.alertmanager!.alertsHeld} alerts`,
      ratio: failing.length === 0 ? `all ${opskitStorms.length} storms` : `${failing.length} of ${opskitStorms.length} storms fail`,
      goal: `${STORM_FINGERPRINTS}, <= ${STORM_FINGERPRINTS}, 0`,
      met: failing.length === 0,
      details: [
        `- after each opskit storm: the incidents API polled until every 2xx'd alert was counted on an incident and the incident total, alerts and runs had held for a second (none running; at most ${SETTLE_BOUND_MS / 1000} s), then SIGTERM, then the journal read with bun:sqlite read-only; besides, the journal was read by another connection the moment the last answer arrived, while the server ran`,
        `- checks in every storm of the default mode (opskit-fsync's storms, checked alike, are in S4): notifications in the journal == 2xx answers (warm-up included) and the ids the answers named are exactly the journal's; all committed when the last answer arrived; none unprocessed; ${STORM_FINGERPRINTS} StormAlert incidents, open; at most ${STORM_FINGERPRINTS} remediation runs; exit 0 on SIGTERM`,
        ...opskitStorms.map(stormLine),
        `- Alertmanager after each storm: it held ${[...new Set(storms.filter((s) => s.side === "alertmanager").map((s) => s.alertmanager!.alertsHeld))].join(", ")} StormAlert alerts (GET /api/v2/alerts)${amProblems.length > 0 ? `; problems: ${amProblems.flatMap((s) => s.problems).join("; ")}` : ""}`,
      ],
    },
    fsyncResult(storms, o, a),
    growthResult(all),
  ];
}

/** Cost growth (S5): the wall time of each side's fastest storm at 1x, 10x and 100x the alerts, at GOAL_CONCURRENCY. */
function growthResult(all: Storm[]): BenchResult {
  const at = (side: Side, alerts: number) => bestOf(all.filter((s) => s.side === side && s.alerts === alerts && s.concurrency === GOAL_CONCURRENCY));
  const rows = GROWTH_ALERTS.map((alerts) => ({ alerts, o: at("opskit", alerts), a: at("alertmanager", alerts) }));
  const steps = rows.slice(1).map((row, i) => row.o.wallSeconds / rows[i]!.o.wallSeconds);
  const worst = Math.max(...steps);
  const met = worst <= 12;
  const growthStorms = all.filter((s) => s.side === "opskit" && s.alerts !== ALERTS);
  const failing = growthStorms.filter((s) => s.problems.length > 0);
  const cell = (s: Storm, before: Storm | undefined) =>
    `${s.wallSeconds.toFixed(2)} s (${Math.round(s.rate)}/s, p99 ${msText(s.p99)} ms)${before ? ` | ${(s.wallSeconds / before.wallSeconds).toFixed(2)}x` : " | -"}`;
  return {
    name: "storm",
    title: "S5. cost growth: 1,000, 10,000 and 100,000 alerts",
    opskit: `worst step ${worst.toFixed(2)}x for 10x`,
    anchor: "Alertmanager in the same rounds",
    ratio: rows.map((r) => `${(r.o.rate / r.a.rate).toFixed(2)}x`).join(", "),
    goal: "<= 12x per 10x",
    met: met && failing.length === 0,
    details: [
      `- each size at concurrency ${GOAL_CONCURRENCY} over the same ${STORM_FINGERPRINTS} fingerprints, after the same warm-up, a fresh server each storm; ${GROWTH_ALERTS.filter((n) => n !== ALERTS).map((n) => n.toLocaleString("en-US")).join(" and ")} alerts: the fastest of ${GROWTH_ROUNDS} alternating rounds of each side; ${ALERTS.toLocaleString("en-US")}: S1's rounds; the time is from the first request to the last answer`,
      "",
      "| alerts | opskit | × the size before | Alertmanager | × the size before | opskit/Alertmanager rate |",
      "| --- | --- | --- | --- | --- | --- |",
      ...rows.map((row, i) => `| ${row.alerts.toLocaleString("en-US")} | ${cell(row.o, rows[i - 1]?.o)} | ${cell(row.a, rows[i - 1]?.a)} | ${(row.o.rate / row.a.rate).toFixed(2)}x |`),
      "",
      `- S3's checks in the cost-growth storms of opskit: ${failing.length === 0 ? `all ${growthStorms.length} passed` : `${failing.length} of ${growthStorms.length} FAIL: ${failing.flatMap((s) => s.problems).join("; ")}`}`,
      ...growthStorms.map(stormLine),
    ],
  };
}

/** The fsync side, beside the default: no goal of its own, the same checks as S3. */
function fsyncResult(storms: Storm[], o: Storm, a: Storm): BenchResult {
  const f = chosen(storms, "opskit-fsync");
  const fsyncStorms = storms.filter((s) => s.side === "opskit-fsync");
  const failing = fsyncStorms.filter((s) => s.problems.length > 0);
  const checks = failing.length === 0 ? `all ${fsyncStorms.length} storms passed` : `${failing.length} of ${fsyncStorms.length} storms FAIL`;
  const fs = journalFilesystem();
  return {
    name: "storm",
    title: "S4. server.fsync: true, accepted/s and p99",
    opskit: `${Math.round(f.rate)} alerts/s, ${msText(f.p99)} ms p99 at c${f.concurrency}${failing.length > 0 ? `; ${checks} S3's checks` : ""}`,
    anchor: `Alertmanager ${Math.round(a.rate)} alerts/s at c${a.concurrency}`,
    ratio: `${(f.rate / a.rate).toFixed(2)}x Alertmanager`,
    goal: "none; commits survive power loss",
    met: failing.length > 0 ? false : undefined,
    details: [
      `- opskit with \`server.fsync: true\`: **${Math.round(f.rate)} accepted alerts/s** at concurrency ${f.concurrency} (${f.accepted} of ${f.requests} answered 2xx in ${f.wallSeconds.toFixed(2)} s; median round ${Math.round(medianRate(storms, f))}/s); p50 ${msText(f.p50)} ms, p90 ${msText(f.p90)} ms, **p99 ${msText(f.p99)} ms**, max ${msText(f.maxMs)} ms`,
      `- against the default mode (S1, c${o.concurrency}): ${(f.rate / o.rate).toFixed(2)}x its rate, of the median rounds ${(medianRate(storms, f) / medianRate(storms, o)).toFixed(2)}x; against Alertmanager ${(f.rate / a.rate).toFixed(2)}x; every concurrency and round in S1's table`,
      `- the same config, load, rounds and checks as the default mode, with \`server: { maxConcurrentRemediations: 4, fsync: true }\`: SQLite synchronous=FULL, so each commit is flushed to disk before the 2xx it stands behind and survives a power loss; the default (WAL, synchronous=NORMAL) survives any crash of the opskit process but may lose its last commits to a power loss; no goal: the goals concern the default mode`,
      `- journals in ${fs.dir}, on ${fs.type} (on a tmpfs the flush would cost nothing)`,
      `- server CPU (user+sys) per alert ${Math.round((f.serverCpu / f.requests) * 1e6)} µs; peak RSS (VmHWM) ${(f.peakRssBytes / 1e6).toFixed(1)} MB`,
      `- S3's checks in every storm: ${checks}`,
      ...fsyncStorms.map(stormLine),
    ],
  };
}

export async function benchStorm(): Promise<BenchResult[]> {
  const blackhole = startBlackhole();
  const storms: Storm[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [level, concurrency] of CONCURRENCIES.entries()) {
        // The order rotates from one set of storms to the next: over three rounds every side goes first, second and third once at each concurrency.
        const shift = (round - 1 + level) % SIDES.length;
        const sides = [...SIDES.slice(shift), ...SIDES.slice(0, shift)];
        for (const side of sides) {
          const storm = side === "alertmanager" ? await stormAlertmanager(concurrency, round, blackhole) : await stormOpskit(side, concurrency, round);
          storms.push(storm);
          console.log(`storm: round ${round}/${ROUNDS}, ${side} c${concurrency}: ${Math.round(storm.rate)} alerts/s, p99 ${msText(storm.p99)} ms, ${storm.errors} errors${storm.problems.length > 0 ? `; ${storm.problems.join("; ")}` : ""}`);
        }
      }
    }
    for (const alerts of GROWTH_ALERTS.filter((n) => n !== ALERTS)) {
      for (let round = 1; round <= GROWTH_ROUNDS; round++) {
        const sides: Side[] = round % 2 === 1 ? ["opskit", "alertmanager"] : ["alertmanager", "opskit"];
        for (const side of sides) {
          const storm = side === "alertmanager" ? await stormAlertmanager(GOAL_CONCURRENCY, round, blackhole, alerts) : await stormOpskit("opskit", GOAL_CONCURRENCY, round, alerts);
          storms.push(storm);
          console.log(`storm: growth ${alerts} alerts, round ${round}/${GROWTH_ROUNDS}, ${side}: ${Math.round(storm.rate)} alerts/s in ${storm.wallSeconds.toFixed(2)} s, p99 ${msText(storm.p99)} ms${storm.problems.length > 0 ? `; ${storm.problems.join("; ")}` : ""}`);
        }
      }
    }
    await Bun.write(`${outDir}/storm-samples.json`, `${JSON.stringify(storms, null, 2)}\n`);
    return results(storms, blackhole);
  } finally {
    blackhole.stop();
  }
}
