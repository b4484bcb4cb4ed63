// The servers of the high-availability benchmark, started fresh for each
// storm: one `opskit serve` on SQLite, or N replicas on one PostgreSQL
// database of their own (on the machine's PostgreSQL, 127.0.0.1:5432), each
// on a loopback port it keeps across a restart. Also what a storm leaves in
// the PostgreSQL journal, read directly.
import type { Subprocess } from "bun";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refusedPort } from "../test/harness/net.ts";
import { createTestDatabase, queryDatabase, type TestDatabase } from "../test/harness/postgres.ts";
import { collectOutput, waitForServeUrl } from "../test/harness/serve.ts";
import { cpuSecondsOf, opskitBin, processTable, root, track } from "./process.ts";
import type { JournalCounts } from "./storm-targets.ts";

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 40_000;

export type Setup = "sqlite-1" | "pg-1" | "pg-3";
export const SETUPS: readonly Setup[] = ["sqlite-1", "pg-1", "pg-3"];
export const replicaCount = (setup: Setup) => (setup === "pg-3" ? 3 : 1);

export interface Replica {
  readonly name: string;
  readonly url: string;
  /** The pid of the running process (changes with a restart). */
  pid(): number;
  alive(): boolean;
  /** The latest process's exit code; null while it runs or when a signal ended it. */
  exitCode(): number | null;
  output(): string;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface Servers {
  setup: Setup;
  replicas: Replica[];
  token: string;
  /** postgres://… for the PostgreSQL setups. */
  database?: TestDatabase;
  /** The SQLite journal's path for sqlite-1. */
  journalPath?: string;
  /** user+sys of every replica process now running. */
  cpuSeconds(): number;
  /** user+sys of the PostgreSQL backends serving this storm's database (0 on SQLite). */
  databaseCpuSeconds(): number;
  /** SIGTERM to all, the exit codes (null: killed after 40 s). */
  stop(): Promise<(number | null)[]>;
  /** Kills what runs, drops the database, removes the config dir. */
  dispose(): Promise<void>;
}

async function spawnReplica(argv: string[], dir: string, token: string): Promise<{ child: Subprocess<"ignore", "pipe", "pipe">; text: () => string; drained: Promise<void> }> {
  const child = track(
    Bun.spawn(argv, { cwd: root, env: { ...process.env, NO_COLOR: "1", OPSKIT_STORM_TOKEN: token }, stdin: "ignore", stdout: "pipe", stderr: "pipe" }),
  ) as Subprocess<"ignore", "pipe", "pipe">;
  const { text, drained } = collectOutput(child);
  const url = await waitForServeUrl(child, text, READY_TIMEOUT_MS);
  if (!url) {
    child.kill("SIGKILL");
    throw new Error(`opskit serve did not start in ${dir} (exit ${child.exitCode}): ${argv.join(" ")}\n${text().slice(-3000)}`);
  }
  return { child, text, drained };
}

/** Starts the servers of a setup with `config` (its server.token must be env:OPSKIT_STORM_TOKEN). */
export async function startServers(setup: Setup, config: string): Promise<Servers> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-ha-bench-"));
  writeFileSync(join(dir, "opskit.yaml"), config);
  const token = randomBytes(32).toString("base64url");
  const database = setup === "sqlite-1" ? undefined : await createTestDatabase();
  const journalPath = setup === "sqlite-1" ? join(dir, "journal.db") : undefined;
  const replicas: Replica[] = [];
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", removeDir);
  const dispose = async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await database?.drop().catch(() => undefined);
    removeDir();
    process.off("exit", removeDir);
  };
  try {
    for (let i = 1; i <= replicaCount(setup); i++) {
      const name = `r${i}`;
      const port = await refusedPort();
      const url = `http://127.0.0.1:${port}`;
      const argv = [opskitBin, "serve", "-c", dir, "--listen", `127.0.0.1:${port}`, "--journal", database?.url ?? journalPath!, ...(database ? ["--replica", name, "--advertise-url", url] : [])];
      let current = await spawnReplica(argv, dir, token);
      let earlier = "";
      const alive = () => current.child.exitCode === null && current.child.signalCode === null;
      replicas.push({
        name,
        url,
        pid: () => current.child.pid,
        alive,
        exitCode: () => current.child.exitCode,
        output: () => earlier + current.text(),
        async kill() {
          if (alive()) current.child.kill("SIGKILL");
          await current.child.exited;
        },
        async restart() {
          earlier += `${current.text()}\n--- restarted ---\n`;
          current = await spawnReplica(argv, dir, token);
        },
      });
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  const backends = () => (database ? [...processTable()].filter(([, p]) => p.cmdline.startsWith("postgres:") && p.cmdline.includes(` ${database.name} `)).map(([pid]) => pid) : []);
  const cpuOf = (pids: number[]) =>
    pids.reduce((sum, pid) => {
      try {
        return sum + cpuSecondsOf(pid);
      } catch {
        return sum; // ended meanwhile
      }
    }, 0);
  return {
    setup,
    replicas,
    token,
    ...(database ? { database } : {}),
    ...(journalPath ? { journalPath } : {}),
    cpuSeconds: () => cpuOf(replicas.filter((r) => r.alive()).map((r) => r.pid())),
    databaseCpuSeconds: () => cpuOf(backends()),
    async stop() {
      return Promise.all(
        replicas.map(async (r) => {
          if (!r.alive()) return null;
          process.kill(r.pid(), "SIGTERM");
          const deadline = Date.now() + STOP_TIMEOUT_MS;
          while (Date.now() < deadline && r.alive()) await Bun.sleep(50);
          if (r.alive()) {
            await r.kill();
            return null;
          }
          return r.exitCode();
        }),
      );
    },
    dispose,
  };
}

/** The storm's journal counts (storm-targets.ts), read from PostgreSQL. */
export type PgJournalCounts = Pick<JournalCounts, "notifications" | "unprocessed" | "unanswered" | "missing" | "incidents" | "attempts" | "runs">;

const grouped = async (url: string, sql: string) => Object.fromEntries((await queryDatabase<{ k: string; n: number }>(url, sql)).map(({ k, n }) => [k, n]));

/** Notifications committed now, read by another connection while the replicas run. */
export async function committedPg(url: string): Promise<number> {
  return (await queryDatabase<{ n: number }>(url, "SELECT count(*)::int AS n FROM notifications"))[0]!.n;
}

/** What the PostgreSQL journal holds, against the notification ids the 2xx answers named. */
export async function readPgJournal(url: string, answeredIds: number[]): Promise<PgJournalCounts> {
  const ids = new Set((await queryDatabase<{ id: string }>(url, "SELECT id::text AS id FROM notifications")).map((r) => Number(r.id)));
  const answered = new Set(answeredIds);
  return {
    notifications: ids.size,
    unprocessed: (await queryDatabase<{ n: number }>(url, "SELECT count(*)::int AS n FROM notifications WHERE NOT processed"))[0]!.n,
    unanswered: [...ids].filter((id) => !answered.has(id)).length,
    missing: [...answered].filter((id) => !ids.has(id)).length + (answeredIds.length - answered.size),
    incidents: await grouped(url, "SELECT alertname || ' ' || status AS k, count(*)::int AS n FROM incidents GROUP BY 1 ORDER BY 1"),
    attempts: await grouped(url, "SELECT status AS k, count(*)::int AS n FROM remediation_attempts GROUP BY 1 ORDER BY 1"),
    runs: await grouped(url, "SELECT status AS k, count(*)::int AS n FROM runs GROUP BY 1 ORDER BY 1"),
  };
}

/** The PostgreSQL server's version line, for the report. */
export async function postgresVersion(): Promise<string> {
  try {
    return (await queryDatabase<{ v: string }>("postgres://postgres@127.0.0.1:5432/postgres", "SELECT version() AS v"))[0]!.v.split(" on ")[0]!;
  } catch (error) {
    return `unreachable (${error instanceof Error ? error.message : String(error)})`;
  }
}
