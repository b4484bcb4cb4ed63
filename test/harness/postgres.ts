// PostgreSQL for the tests that need it: a database of their own on the
// machine's server (127.0.0.1:5432, trust auth, user postgres), or a private
// server a test may stop and start (the shared one is never stopped).
// A server that is not there is an error naming the fix, never a skip.
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client, QueryResultRow } from "pg";
import { refusedPort } from "./net.ts";

export const SHARED_HOST = "127.0.0.1";
export const SHARED_PORT = 5432;
const PG_BIN = "/usr/lib/postgresql/15/bin";
const CONNECT_TIMEOUT_MS = 5_000;
const START_TIMEOUT_SEC = 30;
const STOP_TIMEOUT_SEC = 30;

const FIX_SHARED = "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (sh scripts/setup.sh installs and starts it)";

async function connect(url: string): Promise<Client> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An error on an idle client (the server went away) must not crash the test runner.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** Runs one statement on a fresh connection (parameters only, never spliced) and returns its rows. */
export async function queryDatabase<R extends QueryResultRow = Record<string, any>>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = await connect(url);
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  /** postgres://postgres@HOST:PORT/NAME */
  url: string;
  name: string;
  /** Drops the database, closing whatever sessions are still in it. Safe to call twice. */
  drop(): Promise<void>;
}

/** The maintenance database's URL on a server. */
const adminUrl = (host: string, port: number) => `postgres://postgres@${host}:${port}/postgres`;

/**
 * A new, empty database with a random name on a server (the shared one by
 * default), dropped by drop(). The name is generated, never taken from input,
 * and quoted as an identifier.
 */
export async function createTestDatabase(server: { host: string; port: number } = { host: SHARED_HOST, port: SHARED_PORT }): Promise<TestDatabase> {
  const name = `opskit_test_${randomBytes(6).toString("hex")}`;
  let admin: Client;
  try {
    admin = await connect(adminUrl(server.host, server.port));
  } catch (error) {
    const shared = server.host === SHARED_HOST && server.port === SHARED_PORT;
    throw new Error(`PostgreSQL at ${server.host}:${server.port} is not reachable as user postgres (${error instanceof Error ? error.message : String(error)})${shared ? `: ${FIX_SHARED}` : ""}`);
  }
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  let dropping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${server.host}:${server.port}/${name}`,
    name,
    drop: () =>
      (dropping ??= (async () => {
        const client = await connect(adminUrl(server.host, server.port));
        try {
          // FORCE (PostgreSQL 13+) ends the sessions a killed replica left behind.
          await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await client.end().catch(() => undefined);
        }
      })()),
  };
}

export interface PrivatePostgres {
  host: string;
  port: number;
  /** The maintenance database: postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  dir: string;
  /** Stops the server (fast: sessions are closed, nothing is lost); the data stays. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  running(): boolean;
  /** The server log so far. */
  log(): Promise<string>;
  /** Stops it if running and removes its directory. Safe to call twice. */
  destroy(): Promise<void>;
}

async function asPostgres(argv: string[], what: string): Promise<void> {
  const child = Bun.spawn(["runuser", "-u", "postgres", "--", ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: (START_TIMEOUT_SEC + 30) * 1000 });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${argv.join(" ")}\n${stdout}${stderr}`);
}

/**
 * A PostgreSQL 15 server of the test's own: initdb in a temp dir owned by
 * user postgres, trust auth, on 127.0.0.1 and a free port, its socket in the
 * same dir, fsync off (its data need not survive the machine). Needs root
 * (initdb refuses to run as root, so it runs as postgres via runuser).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  for (const binary of ["initdb", "pg_ctl"]) {
    if (!(await Bun.file(join(PG_BIN, binary)).exists())) throw new Error(`${PG_BIN}/${binary} not found: run \`sh scripts/setup.sh\` (it installs Debian's postgresql package)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "opskit-pg-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  let port = 0;
  let running = false;
  const pgCtl = (...args: string[]) => [join(PG_BIN, "pg_ctl"), "-D", data, ...args];
  const start = async () => {
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    await asPostgres(pgCtl("-o", options, "-l", logFile, "-w", "-t", String(START_TIMEOUT_SEC), "start"), `starting the private PostgreSQL on port ${port}`);
    running = true;
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await asPostgres(pgCtl("-m", mode, "-w", "-t", String(STOP_TIMEOUT_SEC), "stop"), "stopping the private PostgreSQL");
    running = false;
  };
  try {
    chownSync(dir, ...ids("postgres"));
    await asPostgres([join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"], "initdb");
    // The free port is found by closing a listener; another process may take it first, so try again on a fresh one.
    for (let attempt = 1; ; attempt++) {
      port = await refusedPort();
      try {
        await start();
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
  } catch (error) {
    if (running) await stop("immediate").catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let destroying: Promise<void> | undefined;
  const server: PrivatePostgres = {
    host: SHARED_HOST,
    port,
    url: adminUrl(SHARED_HOST, port),
    dir,
    stop,
    start,
    running: () => running,
    log: async () => ((await Bun.file(logFile).exists()) ? Bun.file(logFile).text() : ""),
    destroy: () =>
      (destroying ??= (async () => {
        if (running) await stop("immediate").catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
  return server;
}

/** uid and gid of a system user, from /etc/passwd. */
function ids(user: string): [number, number] {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user} on this machine: run \`sh scripts/setup.sh\` (Debian's postgresql package creates it)`);
  const [, , uid, gid] = line.split(":");
  return [Number(uid), Number(gid)];
}
