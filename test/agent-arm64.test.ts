// The linux-arm64 executable (scripts/build.ts --target=linux-arm64) run under
// qemu-user-static on this x64 machine: `opskit --version` and `opskit probe`,
// then `opskit agent` tailing a log file that is rotated by rename, rotated by
// copytruncate and truncated while it runs, delivering to a real `opskit
// serve`. Every line raises one alert labelled with the line itself, so the
// server's journal says which lines arrived; the agent's own counters say how
// many it read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import type { Server } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { arm64Env, arm64Missing, buildArm64, elfHeader, underQemu } from "./harness/arm64.ts";
import { startHttpServer } from "./harness/http.ts";
import { lineNumber, logrotate, startLogWriter, writerLine } from "./harness/logs.ts";
import { collectOutput, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const missing = arm64Missing();
const build = missing.length ? undefined : buildArm64();
if (build && "error" in build && build.runtimeUnavailable) missing.push(`the Bun linux-arm64 runtime from npm (@oven/bun-linux-aarch64):\n${build.error}`);
const binary = build && "binary" in build ? build.binary : undefined;
const skip = missing.length > 0 && process.env.CI !== "true";

test("qemu-user-static, the arm64 C library and the arm64 Bun runtime are present (missing is a failure in CI)", () => {
  if (skip) {
    console.warn(`the linux-arm64 tests are skipped: missing ${missing.join("; ")} (scripts/setup.sh installs the Debian packages; the runtime comes from the npm registry)`);
    return;
  }
  expect(missing).toEqual([]);
  if (build && "error" in build) throw new Error(`scripts/build.ts --target=linux-arm64 failed:\n${build.error}`);
  expect(binary).toBeString();
  console.log(build && "built" in build && build.built ? `built ${binary} in ${build.ms} ms` : `reused ${binary} (built from the same sources)`);
});

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, detail: () => string = () => ""): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await Bun.sleep(50);
  }
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-agent-arm64-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the arm64 opskit to its end. Async: a server this test runs lives in this process's event loop. */
async function runArm64(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(underQemu(binary!, args), { env: arm64Env(), cwd: "/", stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 120_000 });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe.skipIf(skip || !binary)("the linux-arm64 executable under qemu", () => {
  let http: Server<undefined>;
  beforeAll(() => {
    http = startHttpServer();
  });
  afterAll(() => {
    http?.stop(true);
  });

  test("is an aarch64 ELF executable that reports its version and probes, its probe workers included", async () => {
    expect(elfHeader(binary!)).toEqual({ magic: true, bits: 64, littleEndian: true, machine: 183 });
    const version = await runArm64(["--version"]);
    expect(version.stderr).toBe("");
    expect(version.stdout).toMatch(/^opskit \d+\.\d+\.\d+ \([\w-]+\) bun \d+\.\d+\.\d+ linux-arm64\n$/);

    const probe = await runArm64(["probe", "--json", `http://127.0.0.1:${http.port}/json`, "--expect", 'body.json.status == "UP"']);
    expect(probe.code).toBe(0);
    expect(JSON.parse(probe.stdout.split("\n")[0]!)).toMatchObject({ type: "result", verdict: "healthy", status: 200 });
    // The probe worker is a second entry point embedded in the executable.
    const urls = Array.from({ length: 6 }, (_, i) => `http://127.0.0.1:${http.port}/ok?i=${i}`);
    const sharded = await runArm64(["probe", "--json", "--workers", "2", ...urls]);
    expect(sharded.stderr).toBe("");
    expect(sharded.code).toBe(0);
    expect(JSON.parse(sharded.stdout.trim().split("\n").at(-1)!)).toMatchObject({ type: "summary", healthy: 6 });
  }, 120_000);

  test.each([
    ["the file's own path", "app.log"],
    // What was read in the rotated files the glob also matches must not be read again.
    ["a glob that matches the rotated files too", "app.log*"],
  ])("opskit agent tails a log rotated by rename, rotated by copytruncate and truncated, named by %s: every line read once, its alert raised and resolved at opskit serve", async (_name, pattern) => {
    const started = performance.now();
    const server = await startServe(writeConfig("rules: []\n"));
    cleanups.push(() => server.child.exitCode === null && server.kill());
    const dir = tempDir();
    const logs = join(dir, "logs");
    const log = join(logs, "app.log");
    mkdirSync(logs);
    writeFileSync(log, "");
    writeFileSync(
      join(dir, "opskit.yaml"),
      `agent:
  server: { url: ${server.url}, token: "file:${join(server.dir, "server.token")}", timeout: 5s }
  stateDir: ${join(dir, "state")}
  sources:
    - name: app
      files: { paths: ["${logs}/${pattern}"], pollInterval: 100ms }
  rules:
    - name: line
      when: log.message.startsWith("line ")
      labels: { alertname: LogLine, line: "{{ log.message }}" }
      resolveAfter: 2s
`,
    );
    const agent = Bun.spawn(underQemu(binary!, ["agent", "-c", dir, "--listen", "127.0.0.1:0"]), { env: arm64Env(), cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    cleanups.push(() => {
      if (agent.exitCode !== null) return;
      agent.kill("SIGCONT");
      agent.kill("SIGKILL");
    });
    const output = collectOutput(agent);
    const metricsUrl = (await until("the agent's start line", () => /metrics on (http:\/\/[\d.:]+)\/metrics/.exec(output.text()) ?? (agent.exitCode !== null && ["", ""]), 60_000))[1];
    if (!metricsUrl) throw new Error(`opskit agent did not start:\n${output.text()}`);
    const metric = async (line: string): Promise<number> => {
      const text = await (await fetch(`${metricsUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      const found = text.split("\n").find((l) => l.startsWith(`${line} `));
      return found ? Number(found.slice(line.length + 1)) : 0;
    };
    const EVENTS = 'opskit_agent_events_total{source="app",kind="log"}';
    // Lost lines show as a count that stops short: 15 s without a new line fails at once rather than at the timeout.
    const readAtLeast = async (n: number, what = `${n} lines read`) => {
      let last = { events: -1, at: Date.now() };
      await until(what, async () => {
        const events = await metric(EVENTS);
        if (events !== last.events) last = { events, at: Date.now() };
        else if (Date.now() - last.at > 15_000) throw new Error(`${what}: the agent stopped at ${events} lines\n${output.text()}`);
        return events >= n;
      }, 120_000, output.text);
    };
    // While the agent is stopped (SIGSTOP) the writer goes on, so each rotation leaves lines in the old file the agent has not read.
    const frozen = async (rotate: () => Promise<void>) => {
      agent.kill("SIGSTOP");
      try {
        await Bun.sleep(200);
        await rotate();
        await Bun.sleep(200);
      } finally {
        agent.kill("SIGCONT");
      }
    };

    // The rotations are paced by the writer, not by the agent, so the writer is still there to reopen its file after the rename.
    const count = 3000;
    const writer = startLogWriter(log, { count, batch: 5, intervalMs: 10 });
    cleanups.push(() => writer.kill());
    const lastWritten = () => lineNumber(readFileSync(log, "utf8").trimEnd().split("\n").at(-1) ?? "");
    const writtenAtLeast = (n: number) => until(`line ${n} written`, () => lastWritten() >= n, 60_000);
    await writtenAtLeast(600);
    // rename: app.log becomes app.log.1, a new app.log is created, the writer reopens on SIGHUP.
    await frozen(() => logrotate(log, "create", dir, writer.pid));
    await writtenAtLeast(1400);
    // copytruncate: the writer is held while logrotate copies and truncates (logrotate's own race would lose lines otherwise).
    await frozen(async () => {
      writer.pause();
      try {
        await logrotate(log, "copytruncate", dir);
      } finally {
        writer.resume();
      }
    });
    await writtenAtLeast(2200);
    // A plain truncation loses what was not read: it happens once the agent has caught up with the writer.
    writer.pause();
    const written = lastWritten();
    await readAtLeast(written, `the agent caught up at line ${written}`);
    truncateSync(log, 0);
    writer.resume();
    expect(await writer.exited).toBe(0);

    await readAtLeast(count, "every line read");
    const resolvedTotal = async () => (await server.get("/api/v1/incidents?status=resolved&limit=1")).total as number;
    await until(`${count} incidents resolved at the server`, async () => (await resolvedTotal()) >= count, 120_000, () => `${output.text()}\n${server.output()}`);
    await Bun.sleep(1000); // a line read twice would count here

    expect(await metric(EVENTS)).toBe(count);
    expect(await metric('opskit_agent_alerts_raised_total{rule="line",status="firing"}')).toBe(count);
    expect(await metric('opskit_agent_alerts_raised_total{rule="line",status="resolved"}')).toBe(count);
    expect(await metric("opskit_agent_alerts_delivered_total")).toBe(2 * count);
    expect(await metric('opskit_agent_files_copies_continued_total{source="app"}')).toBe(1);
    expect(await metric('opskit_agent_files_truncated_total{source="app"}')).toBeGreaterThanOrEqual(2);
    agent.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    expect(await server.stop()).toBe(0);

    // The server's journal: every line's alert once firing, then once resolved, and no other.
    const statuses = new Map<string, string[]>();
    for (const { line, status } of journalNotifications(server)) statuses.set(line, [...(statuses.get(line) ?? []), status]);
    const expected = Array.from({ length: count }, (_, i) => writerLine("line", i + 1)).sort();
    expect([...statuses.keys()].sort()).toEqual(expected);
    const wrong = [...statuses].filter(([, s]) => s.join() !== "firing,resolved");
    expect(wrong.slice(0, 10)).toEqual([]);
    console.log(`arm64 agent under qemu, ${pattern}: ${count} lines through two rotations and a truncation, ${2 * count} alerts delivered, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 300_000);
});

/** The alerts the server committed, in the order received: each one's line label and status. */
function journalNotifications(server: ServeProcess): { line: string; status: string }[] {
  const db = new Database(server.journal, { readonly: true });
  try {
    return db
      .query<{ body: string }, []>("SELECT body FROM notifications ORDER BY id")
      .all()
      .flatMap((row) => {
        const body = JSON.parse(row.body) as unknown;
        const alerts = (Array.isArray(body) ? body : [body]) as { labels: Record<string, string>; status?: string }[];
        return alerts.map((alert) => ({ line: alert.labels.line ?? "", status: alert.status ?? "firing" }));
      });
  } finally {
    db.close();
  }
}
