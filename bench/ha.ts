// Benchmark "ha": the alert storm of bench/storm.ts (10,000 alerts over 100
// fingerprints, one per request, concurrency 64, the same load generator)
// against one `opskit serve` on SQLite, one replica on PostgreSQL and three
// replicas on PostgreSQL with the load spread round-robin over them, all on
// this machine with PostgreSQL itself (127.0.0.1:5432, a fresh database per
// storm). Rounds rotate the order; each setup's fastest round counts (other
// work on a shared machine only slows a storm). After each storm: every 2xx
// is in the journal, 100 incidents, at most 100 runs, nothing unprocessed.
// Then the takeover: three replicas on PostgreSQL, a remediation that runs
// for minutes, and the replica running it killed with SIGKILL, five times:
// the time from the kill until another replica has marked the attempt
// interrupted, read from the journal. Goals: three replicas >= 5,000 alerts/s
// at p99 < 50 ms, takeover <= 15 s. The cost growth storms 1,000 and 100,000
// alerts beside the 10,000 of the rounds.
import { alertmanagerNotification } from "../test/harness/serve.ts";
import { queryDatabase } from "../test/harness/postgres.ts";
import { committedPg, postgresVersion, readPgJournal, replicaCount, SETUPS, startServers, type PgJournalCounts, type Servers, type Setup } from "./ha-targets.ts";
import { awaitQuiet, busyCpuSeconds } from "./machine.ts";
import { descendantsOf, outDir } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { median } from "./stats.ts";
import { count2xx, msText, percentile, startLoad, type Load } from "./storm.ts";
import { STORM_FINGERPRINTS } from "./storm-load.ts";
import { committedNotifications, readJournal, settleOpskit, stormConfig, type Settled } from "./storm-targets.ts";

const ALERTS = 10_000;
const CONCURRENCY = 64;
const ROUNDS = 3;
const GROWTH_ALERTS = [1_000, ALERTS, 100_000];
const KILLS = 5;
const GOAL_RATE = 5_000;
const GOAL_P99_MS = 50;
const GOAL_TAKEOVER_MS = 15_000;
const QUIET_WAIT_MS = 10_000;
const SETTLE_BOUND_MS = 180_000;
const TAKEOVER_BOUND_MS = 120_000;

const token = "server:\n  token: env:OPSKIT_STORM_TOKEN";
/** bench/storm.ts's config: every StormAlert runs `true` once per incident, four at a time. */
const STORM_CONFIG = stormConfig(false);
/** A remediation that runs until it is killed; its interruption escalates (no second attempt to wait for). */
const TAKEOVER_CONFIG = `${token}
workflows:
  hold:
    targets: local
    steps:
      - exec: "sleep 600"
        timeout: 15m
rules:
  - name: hold
    match: { alertname: TakeoverAlert }
    run: hold
    cooldown: 10m
    maxAttempts: 1
    onInterrupted: escalate
`;

interface HaStorm {
  setup: Setup;
  alerts: number;
  round: number;
  busy: number;
  requests: number;
  accepted: number;
  errors: number;
  firstError?: string;
  wallSeconds: number;
  rate: number;
  p50: number;
  p90: number;
  p99: number;
  maxMs: number;
  /** user+sys during the storm: the replicas, the PostgreSQL backends of the storm's database, every core of the machine. */
  serverCpu: number;
  databaseCpu: number;
  machineCpu: number;
  answered: number;
  journaledAtLastAnswer: number;
  settle: Settled;
  exitCodes: (number | null)[];
  journal: PgJournalCounts;
  problems: string[];
}

const alertsUrls = (servers: Servers) => servers.replicas.map((r) => `${r.url}/api/v1/alerts/alertmanager`).join(",");

function problemsOf(s: HaStorm): string[] {
  const { journal, settle } = s;
  const problems: string[] = [];
  if (s.journaledAtLastAnswer < s.answered) problems.push(`when the last answer arrived the journal held ${s.journaledAtLastAnswer} of the ${s.answered} notifications answered 2xx`);
  if (!settle.settled) problems.push(`not settled within ${SETTLE_BOUND_MS / 1000} s: ${settle.alertsApplied} of ${s.answered} alerts applied, ${settle.incidents} incidents, ${settle.runs} runs`);
  if (s.exitCodes.some((code) => code !== 0)) problems.push(`SIGTERM: exit codes ${JSON.stringify(s.exitCodes)}`);
  if (journal.notifications !== s.answered || journal.missing > 0 || journal.unanswered > 0) {
    problems.push(`journal holds ${journal.notifications} notifications for ${s.answered} 2xx answers (${journal.missing} answered ids missing, ${journal.unanswered} never answered)`);
  }
  if (journal.unprocessed > 0) problems.push(`${journal.unprocessed} notifications left unprocessed`);
  if (journal.incidents["StormAlert open"] !== STORM_FINGERPRINTS) problems.push(`StormAlert incidents ${JSON.stringify(journal.incidents)}, expected ${STORM_FINGERPRINTS} open`);
  const runs = Object.values(journal.runs).reduce((a, b) => a + b, 0);
  if (runs > STORM_FINGERPRINTS) problems.push(`${runs} remediation runs for ${STORM_FINGERPRINTS} incidents`);
  return problems;
}

async function storm(setup: Setup, alerts: number, round: number): Promise<HaStorm> {
  const servers = await startServers(setup, STORM_CONFIG);
  let load: Load | undefined;
  try {
    load = await startLoad(alertsUrls(servers), "webhook", alerts, CONCURRENCY, servers.token);
    const first = { url: servers.replicas[0]!.url, token: servers.token };
    // The warm-up's work settles before the storm, so its processing does not run into the storm.
    await settleOpskit(first, count2xx(load.warm.statuses), 30_000);
    const busy = await awaitQuiet(QUIET_WAIT_MS);
    const [cpu0, db0, machine0] = [servers.cpuSeconds(), servers.databaseCpuSeconds(), busyCpuSeconds()];
    const report = await load.storm();
    const [serverCpu, databaseCpu, machineCpu] = [servers.cpuSeconds() - cpu0, servers.databaseCpuSeconds() - db0, busyCpuSeconds() - machine0];
    const answeredIds = [...load.warm.notificationIds, ...report.notificationIds];
    // Read at once, by another connection, while the servers run: what was answered 2xx is committed.
    const journaledAtLastAnswer = servers.database ? await committedPg(servers.database.url) : committedNotifications(servers.journalPath!);
    const settle = await settleOpskit(first, answeredIds.length, SETTLE_BOUND_MS);
    const exitCodes = await servers.stop();
    const journal = servers.database ? await readPgJournal(servers.database.url, answeredIds) : readJournal(servers.journalPath!, answeredIds);
    const answered = report.latenciesMs.filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
    const accepted = count2xx(report.statuses);
    const result: HaStorm = {
      setup, alerts, round, busy,
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
      serverCpu, databaseCpu, machineCpu,
      answered: answeredIds.length,
      journaledAtLastAnswer, settle, exitCodes, journal,
      problems: [],
    };
    result.problems = problemsOf(result);
    return result;
  } finally {
    load?.kill();
    await Bun.write(`${outDir}/ha/${setup}-n${alerts}-r${round}.log`, servers.replicas.map((r) => `=== ${r.name} ===\n${r.output()}`).join("\n"));
    await servers.dispose();
  }
}

interface Takeover {
  kill: number;
  replica: string;
  wasLeader: boolean;
  /** From the SIGKILL to the journal showing the attempt no longer running. */
  ms: number;
  status: string;
  detail: string;
}

/** The running attempt of the incident whose alert has this instance label, and its owner's replica row. */
async function runningAttempt(url: string, instance: string): Promise<{ incident: number; attempt: number; owner: string; pid: number; name: string } | undefined> {
  const rows = await queryDatabase<{ incident: number; attempt: number; owner: string; pid: number; name: string }>(
    url,
    `SELECT a.incident_id::int AS incident, a.attempt, a.owner, r.pid, r.name FROM remediation_attempts a
       JOIN incidents i ON i.id = a.incident_id JOIN replicas r ON r.id = a.owner
      WHERE i.labels->>'instance' = $1 AND a.status = 'running'`,
    [instance],
  );
  return rows[0];
}

async function takeovers(): Promise<Takeover[]> {
  const servers = await startServers("pg-3", TAKEOVER_CONFIG);
  const url = servers.database!.url;
  const measured: Takeover[] = [];
  const orphans: number[] = [];
  try {
    for (let kill = 1; kill <= KILLS; kill++) {
      const instance = `takeover-${kill}`;
      const body = JSON.stringify(alertmanagerNotification([{ labels: { alertname: "TakeoverAlert", instance, severity: "critical" } }]));
      const to = servers.replicas[kill % servers.replicas.length]!;
      const response = await fetch(`${to.url}/api/v1/alerts/alertmanager`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${servers.token}` }, body, signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`takeover ${kill}: the alert was refused: ${response.status} ${await response.text()}`);
      let running: Awaited<ReturnType<typeof runningAttempt>>;
      const deadline = Date.now() + 60_000;
      while (!(running = await runningAttempt(url, instance)) && Date.now() < deadline) await Bun.sleep(50);
      if (!running) throw new Error(`takeover ${kill}: no replica started the remediation within 60 s`);
      const victim = servers.replicas.find((r) => r.alive() && r.pid() === running!.pid);
      if (!victim) throw new Error(`takeover ${kill}: the attempt's owner (${running.name}, pid ${running.pid}) is none of the replicas started`);
      const leader = (await queryDatabase<{ holder: string }>(url, "SELECT holder FROM leases WHERE name = 'leader'"))[0]?.holder;
      orphans.push(...descendantsOf(victim.pid()).slice(1));
      const killedAt = performance.now();
      await victim.kill();
      let row: { status: string; detail: string | null } | undefined;
      const bound = performance.now() + TAKEOVER_BOUND_MS;
      for (;;) {
        row = (await queryDatabase<{ status: string; detail: string | null }>(url, "SELECT status, detail FROM remediation_attempts WHERE incident_id = $1 AND attempt = $2", [running.incident, running.attempt]))[0];
        if (row?.status !== "running" || performance.now() > bound) break;
        await Bun.sleep(50);
      }
      const ms = performance.now() - killedAt;
      measured.push({ kill, replica: victim.name, wasLeader: leader === running.owner, ms: row?.status === "running" ? Number.POSITIVE_INFINITY : ms, status: row?.status ?? "missing", detail: row?.detail ?? "" });
      console.log(`ha: takeover ${kill}/${KILLS}: ${victim.name}${leader === running.owner ? " (leader)" : ""} killed; attempt ${row?.status} after ${(ms / 1000).toFixed(2)} s`);
      await victim.restart();
    }
    return measured;
  } finally {
    for (const pid of orphans) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await servers.dispose();
  }
}

const bestOf = (storms: HaStorm[]) => [...storms].sort((a, b) => b.rate - a.rate)[0]!;
const cpuUs = (seconds: number, requests: number) => `${Math.round((seconds / requests) * 1e6)} µs`;

function stormLine(s: HaStorm): string {
  const j = s.journal;
  return `- ${s.setup} ${s.alerts.toLocaleString("en-US")} alerts, round ${s.round}: ${Math.round(s.rate)}/s, p99 ${msText(s.p99)} ms; journal ${j.notifications} notifications for ${s.answered} 2xx (${s.journaledAtLastAnswer} committed when the last answer arrived), ${j.unprocessed} unprocessed; incidents ${JSON.stringify(j.incidents)}; attempts ${JSON.stringify(j.attempts)}; runs ${JSON.stringify(j.runs)}; every alert applied ${s.settle.appliedSeconds.toFixed(2)} s after the last answer; SIGTERM exits ${JSON.stringify(s.exitCodes)}${s.problems.length > 0 ? `; **problems: ${s.problems.join("; ")}**` : ""}`;
}

function results(all: HaStorm[], kills: Takeover[], postgres: string): BenchResult[] {
  const rounds = all.filter((s) => s.alerts === ALERTS);
  const best = (setup: Setup) => bestOf(rounds.filter((s) => s.setup === setup));
  const [sqlite, pg1, pg3] = [best("sqlite-1"), best("pg-1"), best("pg-3")];
  const failing = all.filter((s) => s.problems.length > 0);
  const lost = all.reduce((n, s) => n + s.journal.missing + Math.max(0, s.answered - s.journal.notifications), 0);
  const rateMet = pg3.rate >= GOAL_RATE && pg3.p99 < GOAL_P99_MS && failing.length === 0;
  const table = SETUPS.map((setup) => {
    const b = best(setup);
    const mine = rounds.filter((s) => s.setup === setup);
    return `| ${setup} | ${replicaCount(setup)} | **${Math.round(b.rate)}** (${mine.map((s) => Math.round(s.rate)).join(", ")}) | ${msText(b.p50)} | ${msText(b.p90)} | **${msText(b.p99)}** | ${msText(b.maxMs)} | ${mine.reduce((n, s) => n + s.errors, 0)} | ${cpuUs(b.serverCpu, b.requests)} | ${setup === "sqlite-1" ? "-" : cpuUs(b.databaseCpu, b.requests)} | ${cpuUs(b.machineCpu, b.requests)} |`;
  });
  const times = kills.map((k) => k.ms);
  const takeoverMedian = median(times);
  const takeoverMet = kills.length === KILLS && takeoverMedian <= GOAL_TAKEOVER_MS && times.every(Number.isFinite);
  const growth = (setup: Setup) => GROWTH_ALERTS.map((alerts) => bestOf(all.filter((s) => s.setup === setup && s.alerts === alerts)));
  const growthSteps = SETUPS.map((setup) => {
    const rows = growth(setup);
    return Math.max(...rows.slice(1).map((row, i) => row.wallSeconds / rows[i]!.wallSeconds));
  });
  const cell = (s: HaStorm, before: HaStorm | undefined) => `${s.wallSeconds.toFixed(2)} s (${Math.round(s.rate)}/s, p99 ${msText(s.p99)} ms)${before ? `, ${(s.wallSeconds / before.wallSeconds).toFixed(2)}x` : ""}`;
  return [
    {
      name: "ha",
      title: `HA1. three replicas on PostgreSQL: accepted alerts/s and p99 at concurrency ${CONCURRENCY}`,
      opskit: `${Math.round(pg3.rate)} alerts/s, p99 ${msText(pg3.p99)} ms`,
      anchor: `one on SQLite ${Math.round(sqlite.rate)}/s (p99 ${msText(sqlite.p99)} ms); one on PostgreSQL ${Math.round(pg1.rate)}/s (p99 ${msText(pg1.p99)} ms)`,
      ratio: `${(pg3.rate / sqlite.rate).toFixed(2)}x SQLite, ${(pg3.rate / pg1.rate).toFixed(2)}x one replica`,
      goal: `>= ${GOAL_RATE.toLocaleString("en-US")}/s at p99 < ${GOAL_P99_MS} ms`,
      met: rateMet,
      details: [
        `- ${ALERTS.toLocaleString("en-US")} alerts at concurrency ${CONCURRENCY}, the fastest of ${ROUNDS} rounds of each setup (rounds rotate the order); PostgreSQL: ${postgres} on this machine (127.0.0.1:5432, the machine's server as configured), a fresh database per storm`,
        "",
        "| setup | replicas | accepted/s, best (rounds) | p50 ms | p90 ms | p99 ms | max ms | non-2xx, all rounds | replicas' CPU per alert | PostgreSQL backends' CPU per alert | machine CPU per alert |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ...table,
        "",
        `- load: bench/storm.ts's (bench/storm-load.ts: one Alertmanager webhook notification per request, StormAlert over ${STORM_FINGERPRINTS} fingerprints after a warm-up of 500 StormWarmup requests; ${CONCURRENCY} workers, keep-alive); for three replicas request i goes to replica i mod 3; rate = 2xx answers / time from the first request to the last answer`,
        `- servers: \`dist/opskit serve\` with bench/storm.ts's rule (StormAlert → \`true\` once per incident, maxConcurrentRemediations 4); SQLite: a new journal file; PostgreSQL: \`--journal postgres://postgres@127.0.0.1:5432/DB --replica rN --advertise-url URL\``,
        `- CPU: user+sys from the first request to the last answer; the PostgreSQL backends are those connected to the storm's database (not its writer and WAL processes); the machine's is every core's busy time (/proc/stat), the load generator included`,
        `- goal: ${rateMet ? "met" : "NOT met"} (three replicas ${Math.round(pg3.rate)}/s, p99 ${msText(pg3.p99)} ms${failing.length > 0 ? `; ${failing.length} storms failed their checks (HA3)` : ""})`,
      ],
    },
    {
      name: "ha",
      title: `HA2. takeover after SIGKILL, median of ${KILLS} kills`,
      opskit: `${(takeoverMedian / 1000).toFixed(1)} s median (${times.map((t) => (t / 1000).toFixed(1)).join(", ")} s)`,
      anchor: "-",
      ratio: "-",
      goal: `<= ${GOAL_TAKEOVER_MS / 1000} s`,
      met: takeoverMet,
      details: [
        `- three replicas on PostgreSQL; a TakeoverAlert runs \`sleep 600\` (onInterrupted: escalate); the replica the journal names as the running attempt's owner is killed with SIGKILL, and the attempt's row is read every 50 ms until it is no longer running; the killed replica is started again before the next kill`,
        ...kills.map((k) => `- kill ${k.kill}: ${k.replica}${k.wasLeader ? " (the leader)" : ""}: attempt ${k.status} after ${(k.ms / 1000).toFixed(2)} s${k.detail ? ` (${k.detail})` : ""}`),
      ],
    },
    {
      name: "ha",
      title: "HA3. after each storm: incidents, runs, lost",
      opskit: `${lost} lost; ${failing.length} of ${all.length} storms with problems`,
      anchor: "-",
      ratio: "-",
      goal: `0 lost, ${STORM_FINGERPRINTS} incidents, <= ${STORM_FINGERPRINTS} runs`,
      met: failing.length === 0,
      details: [
        `- after each storm: the incidents API polled until every 2xx'd alert was counted on an incident and the counts held for a second (at most ${SETTLE_BOUND_MS / 1000} s), then SIGTERM to every replica, then the journal read directly; besides, the notifications were counted by another connection the moment the last answer arrived`,
        ...all.map(stormLine),
      ],
    },
    {
      name: "ha",
      title: "HA4. cost growth: 1,000, 10,000 and 100,000 alerts",
      opskit: `worst step ${Math.max(...growthSteps).toFixed(2)}x for 10x`,
      anchor: "-",
      ratio: SETUPS.map((setup, i) => `${setup} ${growthSteps[i]!.toFixed(2)}x`).join(", "),
      goal: "<= 12x per 10x",
      met: Math.max(...growthSteps) <= 12,
      details: [
        `- each size at concurrency ${CONCURRENCY} over the same ${STORM_FINGERPRINTS} fingerprints, a fresh server (and database) each storm; 10,000: HA1's fastest round; the others one round each; wall time from the first request to the last answer, and x the size before`,
        "",
        `| alerts | ${SETUPS.join(" | ")} |`,
        `| --- | ${SETUPS.map(() => "---").join(" | ")} |`,
        ...GROWTH_ALERTS.map((alerts, i) => `| ${alerts.toLocaleString("en-US")} | ${SETUPS.map((setup) => cell(growth(setup)[i]!, i > 0 ? growth(setup)[i - 1] : undefined)).join(" | ")} |`),
      ],
    },
  ];
}

export async function benchHa(): Promise<BenchResult[]> {
  const postgres = await postgresVersion();
  const storms: HaStorm[] = [];
  const note = (s: HaStorm, what: string) =>
    console.log(`ha: ${what}, ${s.setup}: ${Math.round(s.rate)} alerts/s, p99 ${msText(s.p99)} ms, ${s.errors} errors${s.problems.length > 0 ? `; ${s.problems.join("; ")}` : ""}`);
  for (let round = 1; round <= ROUNDS; round++) {
    const order = [...SETUPS.slice(round - 1), ...SETUPS.slice(0, round - 1)];
    for (const setup of order) {
      const s = await storm(setup, ALERTS, round);
      storms.push(s);
      note(s, `round ${round}/${ROUNDS}`);
    }
  }
  const kills = await takeovers();
  for (const alerts of GROWTH_ALERTS.filter((n) => n !== ALERTS)) {
    for (const setup of SETUPS) {
      const s = await storm(setup, alerts, 1);
      storms.push(s);
      note(s, `growth ${alerts.toLocaleString("en-US")} alerts`);
    }
  }
  await Bun.write(`${outDir}/ha-samples.json`, `${JSON.stringify({ storms, kills }, null, 2)}\n`);
  return results(storms, kills, postgres);
}
