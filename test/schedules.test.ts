import { afterAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openJournal } from "../src/journal/index.ts";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { createTestDatabase } from "./harness/postgres.ts";

// A schedule every 2 seconds (six fields) run by three processes sharing one
// journal (a SQLite file, then a PostgreSQL database), one of them killed with SIGKILL and started again halfway: every
// scheduled time in the window fires exactly once, the journal holds one
// fire per time, and the workflow's side effect (a line in a file) happens
// once per time.

const PERIOD_MS = 2_000;
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

interface ReplicaProcess {
  name: string;
  child: Subprocess<"ignore", "pipe", "pipe">;
  replica: string;
  lines: string[];
}

async function startReplica(dir: string, journal: string, name: string): Promise<ReplicaProcess> {
  const child = Bun.spawn([process.execPath, join(repoRoot, "test/harness/schedule-replica.ts"), dir, journal, name], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const lines: string[] = [];
  let ready: (replica: string) => void = () => {};
  const started = new Promise<string>((resolve) => (ready = resolve));
  void (async () => {
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += new TextDecoder().decode(chunk);
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (line.includes('"type":"ready"')) ready(JSON.parse(line).replica);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const replica = await Promise.race([
    started,
    child.exited.then(async (code) => {
      throw new Error(`replica ${name} exited with ${code} before it was ready: ${await stderr}`);
    }),
    Bun.sleep(30_000).then(() => {
      throw new Error(`replica ${name} not ready after 30 s`);
    }),
  ]);
  return { name, child, replica, lines };
}

const nextTime = (ms: number) => Math.floor(ms / PERIOD_MS) * PERIOD_MS + PERIOD_MS;
const iso = (ms: number) => new Date(ms).toISOString();

async function scheduleAcrossRestarts(journalLocation: (dir: string) => string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-schedules-"));
  roots.push(dir);
  // The line is written first, then the run lasts a while, so a kill may land in the middle of one.
  writeFileSync(
    join(dir, "opskit.yaml"),
    `workflows:
  tick:
    schedule: { cron: "*/2 * * * * *", missed: once }
    steps:
      - exec: "echo {{ vars.schedule.at }} >> out.txt; sleep 0.3"
        timeout: 30s
`,
  );
  const location = journalLocation(dir);
  // The schema exists before three processes race to create it.
  await (await openJournal(location)).close();
  const replicas = await Promise.all(["a", "b", "c"].map((name) => startReplica(dir, location, name)));
  const killed: string[] = [];
  try {
    const windowStart = nextTime(Date.now());
    await Bun.sleep(6_500);
    const b = replicas[1]!;
    b.child.kill("SIGKILL");
    await b.child.exited;
    killed.push(b.replica);
    await Bun.sleep(4_000);
    replicas[1] = await startReplica(dir, location, "b");
    await Bun.sleep(6_000);
    // The last time at least a second ago: fired and claimed before any replica stops.
    const windowEnd = nextTime(Date.now() - 1_000) - PERIOD_MS;
    for (const replica of replicas) replica.child.kill("SIGTERM");
    expect(await Promise.all(replicas.map((r) => r.child.exited))).toEqual([0, 0, 0]);

    const times: number[] = [];
    for (let t = windowStart; t <= windowEnd; t += PERIOD_MS) times.push(t);
    expect(times.length).toBeGreaterThanOrEqual(7);

    const journal = await openJournal(location);
    try {
      const fires = (await journal.scheduleFires("tick", { limit: 1000 })).filter((f) => f.at >= windowStart && f.at <= windowEnd).sort((x, y) => x.at - y.at);
      // One fire per time: none missing, and (the journal's unique key) none twice.
      expect(fires.map((f) => iso(f.at))).toEqual(times.map(iso));
      // Only the killed process's fire can have been cut off; every other one ran to the end.
      for (const fire of fires) {
        if (fire.status !== "succeeded") expect({ at: iso(fire.at), status: fire.status, replica: killed.includes(fire.replica) }).toEqual({ at: iso(fire.at), status: "interrupted", replica: true });
      }
      expect(await journal.runningScheduleFires()).toEqual([]);
      expect((await journal.listRuns({ limit: 1000 })).filter((run) => run.status === "running").map((run) => run.id)).toEqual([]);
      // Each fire's run is in the journal with the time it is for.
      for (const fire of fires.filter((f) => f.status === "succeeded")) {
        const run = await journal.getRun(fire.runId!);
        expect({ status: run?.run.status, at: (run?.run.params.vars.schedule as { at: string }).at }).toEqual({ status: "succeeded", at: iso(fire.at) });
      }
      // The side effect: once per time (an interrupted fire may have stopped before writing it).
      const written = readFileSync(join(dir, "out.txt"), "utf8").trim().split("\n");
      const counts = new Map<string, number>();
      for (const line of written) counts.set(line, (counts.get(line) ?? 0) + 1);
      expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
      for (const fire of fires) {
        if (fire.status === "succeeded") expect({ at: iso(fire.at), lines: counts.get(iso(fire.at)) ?? 0 }).toEqual({ at: iso(fire.at), lines: 1 });
      }
      // More than one process won fires: the work is shared, not run by one of them alone.
      expect(new Set(fires.map((f) => f.replica.split(":")[0])).size).toBeGreaterThan(1);

      // opskit schedules shows the newest fire.
      const newest = (await journal.scheduleFires("tick", { limit: 1 }))[0]!;
      const listed = await runOpskit(["schedules", "-c", dir, "--journal", location, "--json"]);
      expect(listed.code).toBe(0);
      const [line] = listed.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect({ schedule: line.schedule, cron: line.cron, last: { at: line.last.at, status: line.last.status, runId: line.last.runId } }).toEqual({
        schedule: "tick",
        cron: "*/2 * * * * *",
        last: { at: iso(newest.at), status: newest.status, runId: newest.runId },
      });
      expect(line.next).toHaveLength(3);
    } finally {
      await journal.close();
    }
  } finally {
    for (const replica of replicas) if (replica.child.exitCode === null) replica.child.kill("SIGKILL");
  }
}

test("a schedule every 2 s across three processes on one SQLite journal, one killed and restarted: every time fires exactly once", async () => {
  await scheduleAcrossRestarts((dir) => join(dir, "journal.db"));
}, 90_000);

test("the same on one PostgreSQL journal: every time fires exactly once", async () => {
  const database = await createTestDatabase();
  try {
    await scheduleAcrossRestarts(() => database.url);
  } finally {
    await database.drop();
  }
}, 90_000);

test("opskit schedules lists each schedule with its settings, next times and last fire; a journal not created yet holds none", async () => {
  const dir = mkdtempSync(join(tmpdir(), "opskit-schedules-cli-"));
  roots.push(dir);
  writeFileSync(
    join(dir, "opskit.yaml"),
    `workflows:
  nightly:
    schedule: { cron: "30 2 * * *", timezone: Europe/Paris, jitter: 5m, missed: once }
    steps: [{ exec: "true" }]
  quarterly:
    schedule: "0 0 1 */3 *"
    steps: [{ exec: "true" }]
  manual:
    steps: [{ exec: "true" }]
`,
  );
  const location = join(dir, "journal.db");
  const before = await runOpskit(["schedules", "-c", dir, "--journal", location]);
  expect(before.code).toBe(0);
  expect(before.stdout).toContain("nightly  30 2 * * *  (Europe/Paris, jitter 5m, concurrency: forbid, missed: once)");
  expect(before.stdout).toContain("quarterly  0 0 1 */3 *  (UTC, concurrency: forbid, missed: skip)");
  expect(before.stdout).not.toContain("manual");
  expect(before.stdout.match(/last: never fired/g)).toHaveLength(2);
  expect(before.stdout).toContain(`2 schedules; fires from ${location} (none yet)`);
  expect(existsSync(location)).toBe(false);

  const journal = await openJournal(location);
  const at = Date.parse("2026-01-01T01:30:00Z");
  await journal.claimScheduleFire({ schedule: "nightly", at, firedAt: at + 120_000, replica: "web-1:42", status: "running", runId: "20260101T013200-0000abcd" });
  await journal.updateScheduleFire("nightly", at, { status: "failed", finishedAt: at + 130_000, detail: "run 20260101T013200-0000abcd failed: ok=0 changed=0 failed=1 unreachable=0" });
  await journal.close();
  const after = await runOpskit(["schedules", "-c", dir, "--journal", location, "--count", "2"]);
  expect(after.code).toBe(0);
  expect(after.stdout).toContain("  last: 2026-01-01 01:30:00Z (started 2026-01-01 01:32:00Z) failed · run 20260101T013200-0000abcd · web-1:42 · run 20260101T013200-0000abcd failed: ok=0 changed=0 failed=1 unreachable=0");
  const nextLine = after.stdout.split("\n").find((l) => l.startsWith("  next:"))!;
  expect(nextLine.split(", ")).toHaveLength(2);

  const none = mkdtempSync(join(tmpdir(), "opskit-schedules-none-"));
  roots.push(none);
  writeFileSync(join(none, "opskit.yaml"), "workflows:\n  manual:\n    steps: [{ exec: \"true\" }]\n");
  const empty = await runOpskit(["schedules", "-c", none, "--journal", join(none, "journal.db")]);
  expect({ code: empty.code, out: empty.stdout.trim() }).toEqual({ code: 0, out: `no schedules in ${join(none, "opskit.yaml")} (a workflow runs on one with schedule: "*/5 * * * *")` });
});
