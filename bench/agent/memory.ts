// opskit agent's memory, measured on the compiled executable: its resident
// set idle at start and under a minute of steady load (log lines appended to a
// file the `files` source tails, rules over each record and over the windows
// firing), split the way the kernel counts it: anonymous pages (the heap, JIT
// code: what the agent costs the machine) and file-backed pages (the
// executable's own pages it touched: shared page cache, reclaimable), with
// `opskit --version` beside it as the floor of the same executable.
//   flock /tmp/bench.lock node_modules/.bin/bun bench/agent/memory.ts [--seconds 60] [--rate 1000] [--warm] [--json]
// OPSKIT_BENCH_BIN names another build (default dist/opskit). The config is
// examples/opskit.yaml (workflows, inventory, rules: the whole file the agent
// is deployed with) plus an agent: section; alerts go to a receiver in this
// process that answers as opskit serve's generic endpoint does (200 with the
// webhook token, 401 without). Every line written must reach the agent's
// rules (its events counter) and both rules must fire, or the run fails.
// How many file-backed pages a process maps depends on the page cache (the
// kernel maps what is cached around each page touched, whole large folios
// included), so each start begins from the same state: the executable
// dropped from the cache, as at boot (--warm: read whole first, as right
// after an install, which counts the most).
import { appendFileSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSecondsOf, opskitBin, root } from "../process.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    rate: { type: "string", default: "1000" },
    json: { type: "boolean", default: false },
    warm: { type: "boolean", default: false },
  },
});
const LOAD_SECONDS = Number(args.seconds);
const LINES_PER_SECOND = Number(args.rate);
const SAMPLE_EVERY_MS = 5_000;
const TOKEN = "bench-agent-memory-token";

/** What the kernel says one process holds, in bytes. */
interface Memory {
  /** VmRSS: every page mapped and resident. */
  rss: number;
  /** RssAnon: private anonymous pages (the JS heap, malloc, JIT code, stacks). */
  anon: number;
  /** RssFile: file-backed pages (the executable's text, data and embedded modules; libc). */
  file: number;
  /** Pss from smaps_rollup: shared pages split between the processes that map them. */
  pss: number;
  /** Private_Clean + Private_Dirty: pages no other process maps (anonymous and file-backed alike). */
  private: number;
  /** Shared_Clean: file pages another process maps too (libc, the same executable running twice). */
  sharedClean: number;
}

function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (text: string, name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    if (!match) throw new Error(`no ${name} in /proc/${pid}`);
    return Number(match[1]) * 1024;
  };
  return {
    rss: kib(status, "VmRSS"),
    anon: kib(status, "RssAnon"),
    file: kib(status, "RssFile"),
    pss: kib(rollup, "Pss"),
    private: kib(rollup, "Private_Clean") + kib(rollup, "Private_Dirty"),
    sharedClean: kib(rollup, "Shared_Clean"),
  };
}

/** Where the resident pages sit, from /proc/PID/smaps: the executable's segments, other files, JIT code, the rest of anonymous memory. */
function breakdownOf(pid: number): Record<string, number> {
  const executable = readlinkSync(`/proc/${pid}/exe`);
  const mappings: { perms: string; name: string; rss: number; anonymous: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) mappings.push({ perms: header[1]!, name: header[2]!, rss: 0, anonymous: 0 });
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && mappings.length > 0) mappings.at(-1)![field[1] === "Rss" ? "rss" : "anonymous"] = Number(field[2]) * 1024;
  }
  const parts: Record<string, number> = {};
  const add = (part: string, bytes: number) => (parts[part] = (parts[part] ?? 0) + bytes);
  for (const { perms, name, rss, anonymous } of mappings) {
    if (name === executable) {
      const segment = perms.startsWith("r-x") ? "code (r-x)" : perms.startsWith("r--") ? "read-only data (r--)" : "data and embedded modules (rw-)";
      add(`executable ${segment}, file pages`, rss - anonymous);
      add("executable pages copied on write (anonymous)", anonymous);
    } else if (name.startsWith("/")) {
      add("other files (libc, ld.so, the spool's -shm)", rss - anonymous);
      add("heaps, stacks and other anonymous", anonymous);
    } else {
      add(perms.startsWith("rwx") ? "JIT code (rwx, anonymous)" : "heaps, stacks and other anonymous", rss);
    }
  }
  return parts;
}

/** The executable's pages out of the page cache (written back first, so none is left dirty), or all of them in it with --warm. */
function settleCache(): void {
  const steps = [["sync", opskitBin], ["dd", `if=${opskitBin}`, "iflag=nocache", "count=0", "status=none"], ...(args.warm ? [["dd", `if=${opskitBin}`, "of=/dev/null", "bs=1M", "status=none"]] : [])];
  for (const step of steps) {
    const run = Bun.spawnSync(step, { stderr: "pipe" });
    if (!run.success) throw new Error(`${step.join(" ")}: ${run.stderr.toString()}`);
  }
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const row = (label: string, m: Memory) =>
  `${label.padEnd(34)} ${mb(m.rss).padStart(6)} ${mb(m.anon).padStart(6)} ${mb(m.file).padStart(6)} ${mb(m.pss).padStart(6)} ${mb(m.private).padStart(8)} ${mb(m.sharedClean).padStart(7)}`;

/**
 * Peak RSS of `opskit --version`: the executable's own floor. Through GNU
 * time, whose rusage is of the executable alone (a child forked from this
 * Bun process would count this process's pages until its exec).
 */
function versionPeak(): number {
  settleCache();
  const run = Bun.spawnSync(["/usr/bin/time", "-f", "%M", opskitBin, "--version"], { stdout: "pipe", stderr: "pipe" });
  const kib = Number(run.stderr.toString().trim().split("\n").at(-1));
  if (!run.success || !Number.isFinite(kib)) throw new Error(`${opskitBin} --version failed: ${run.stderr.toString()}`);
  return kib * 1024;
}

/** A receiver standing in for opskit serve's POST /api/v1/alerts: counts what it is given, by rule and status. */
function startReceiver() {
  const received = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (request.headers.get("authorization") !== `Bearer ${TOKEN}`) return Response.json({ error: "token" }, { status: 401 });
      if (request.method !== "POST" || new URL(request.url).pathname !== "/api/v1/alerts") return new Response("not found\n", { status: 404 });
      const alerts = (await request.json()) as { labels: Record<string, string>; status: string }[];
      for (const alert of alerts) {
        const key = `${alert.labels.alertname}/${alert.status}`;
        received.set(key, (received.get(key) ?? 0) + 1);
      }
      return Response.json({ accepted: alerts.length });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, received, stop: () => server.stop(true) };
}

function writeConfig(dir: string, serverUrl: string, log: string): string {
  const example = readFileSync(join(root, "examples/opskit.yaml"), "utf8");
  if (/^agent:/m.test(example)) throw new Error("examples/opskit.yaml has an agent: section already; this benchmark appends its own");
  const agent = `
agent:
  server: { url: "${serverUrl}", token: env:BENCH_AGENT_TOKEN }
  stateDir: ${join(dir, "state")}
  listen: 127.0.0.1:0
  sources:
    - name: app
      files: { paths: ["${log}"] }
  rules:
    - name: AppErrors
      when: log.message.contains("ERROR")
      labels: { severity: warning }
      annotations: { summary: "{{ log.message }}" }
    - name: AppBusy
      when: rate("app", "10s") > ${Math.floor(LINES_PER_SECOND / 2)}
      labels: { severity: info }
`;
  const config = join(dir, "opskit.yaml");
  writeFileSync(config, `${example}\n${agent}`);
  return config;
}

/** A line as a web service logs it; one in a hundred an error. */
const logLine = (i: number) => `2026-01-01T00:00:00.${String(i % 1000).padStart(3, "0")}Z api[4242]: ${i % 100 === 0 ? "ERROR upstream timed out" : "INFO GET /api/items/" + (i % 997) + " 200"} request_id=${i.toString(16).padStart(8, "0")} ${i % 37}ms`;

async function readMetric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let sum = 0;
  for (const line of text.split("\n")) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-agent-memory-"));
  const receiver = startReceiver();
  const log = join(dir, "app.log");
  writeFileSync(log, "");
  const config = writeConfig(dir, receiver.url, log);
  const floor = versionPeak();
  settleCache();
  const agent = Bun.spawn([opskitBin, "agent", "-c", config, "--json"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, BENCH_AGENT_TOKEN: TOKEN } });
  const samples: { at: string; memory: Memory }[] = [];
  try {
    const reader = agent.stdout.getReader();
    let buffered = "";
    let metricsUrl: string | undefined;
    const startBy = Date.now() + 20_000;
    while (!metricsUrl && Date.now() < startBy) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the agent exited before it started: ${await new Response(agent.stderr).text()}`);
      buffered += new TextDecoder().decode(value);
      const started = buffered.split("\n").find((line) => line.includes('"agent.started"'));
      if (started) metricsUrl = (JSON.parse(started) as { metrics: string }).metrics.replace(/\/metrics$/, "");
    }
    if (!metricsUrl) throw new Error("the agent did not start within 20s");
    void (async () => {
      while (!(await reader.read()).done);
    })();
    await Bun.sleep(2_000);
    samples.push({ at: "idle, 2 s after start", memory: memoryOf(agent.pid) });

    // Steady load: lines appended as a daemon writes them, paced by the clock (every 10 ms, those now due).
    const started = performance.now();
    const cpuBefore = cpuSecondsOf(agent.pid);
    let written = 0;
    let nextSample = SAMPLE_EVERY_MS;
    let peak = samples[0]!.memory;
    while (written < LOAD_SECONDS * LINES_PER_SECOND) {
      const due = Math.min(LOAD_SECONDS * LINES_PER_SECOND, Math.floor(((performance.now() - started) / 1000) * LINES_PER_SECOND));
      if (due > written) {
        const lines: string[] = [];
        for (; written < due; written++) lines.push(logLine(written));
        appendFileSync(log, `${lines.join("\n")}\n`);
      }
      if (performance.now() - started >= nextSample) {
        const memory = memoryOf(agent.pid);
        if (memory.rss > peak.rss) peak = memory;
        nextSample += SAMPLE_EVERY_MS;
      }
      await Bun.sleep(10);
    }
    const loadSeconds = (performance.now() - started) / 1000;
    const cpuShare = (cpuSecondsOf(agent.pid) - cpuBefore) / loadSeconds;
    samples.push({ at: `after ${LOAD_SECONDS} s at ${LINES_PER_SECOND} lines/s`, memory: memoryOf(agent.pid) });
    const breakdown = breakdownOf(agent.pid);
    samples.push({ at: "highest sample during the load", memory: peak });

    // Every line reached the rules, and both rules fired at the receiver.
    const bound = Date.now() + 20_000;
    let seen = 0;
    while ((seen = await readMetric(metricsUrl, "opskit_agent_events_total")) < written && Date.now() < bound) await Bun.sleep(200);
    if (seen !== written) throw new Error(`the agent took ${seen} of ${written} lines`);
    while (!(receiver.received.has("AppErrors/firing") && receiver.received.has("AppBusy/firing")) && Date.now() < bound) await Bun.sleep(200);
    const fired = Object.fromEntries(receiver.received);
    if (!fired["AppErrors/firing"] || !fired["AppBusy/firing"]) throw new Error(`the rules did not both fire: ${JSON.stringify(fired)}`);
    await Bun.sleep(10_000);
    samples.push({ at: "10 s after the load stopped", memory: memoryOf(agent.pid) });

    if (args.json) {
      console.log(JSON.stringify({ binary: opskitBin, pageCache: args.warm ? "warm" : "cold", versionPeakRss: floor, linesPerSecond: LINES_PER_SECOND, loadSeconds, lines: written, cpuShare, alerts: fired, samples, breakdown }));
      return;
    }
    console.log(`opskit agent memory (${opskitBin}, ${args.warm ? "warm" : "cold"} page cache): ${written} lines in ${loadSeconds.toFixed(1)} s, all taken by the rules, at ${(cpuShare * 100).toFixed(1)}% of a core; alerts at the receiver ${JSON.stringify(fired)}`);
    console.log(`${"MB".padEnd(34)} ${"RSS".padStart(6)} ${"anon".padStart(6)} ${"file".padStart(6)} ${"PSS".padStart(6)} ${"private".padStart(8)} ${"shared".padStart(7)}`);
    for (const { at, memory } of samples) console.log(row(at, memory));
    console.log(`${"opskit --version (peak RSS)".padEnd(34)} ${mb(floor).padStart(6)}`);
    console.log(`resident after ${LOAD_SECONDS} s of load, by mapping (MB):`);
    for (const [part, bytes] of Object.entries(breakdown)) console.log(`  ${mb(bytes).padStart(6)}  ${part}`);
  } finally {
    agent.kill("SIGTERM");
    await agent.exited;
    receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
