// For the queue's tests and benchmark: a database of its own on the local
// PostgreSQL (127.0.0.1:5432, user postgres, or OPSKIT_TEST_PG as a base URL),
// created empty and dropped with everything connected to it.
import { randomBytes } from "node:crypto";

export const testServerUrl = process.env.OPSKIT_TEST_PG ?? "postgres://postgres@127.0.0.1:5432";

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function admin<R>(use: (query: (text: string) => Promise<unknown>) => Promise<R>): Promise<R> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: `${testServerUrl}/postgres`, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await use((text) => client.query(text));
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(prefix = "opskit_jobs_test"): Promise<TestDatabase> {
  // The name is ours (hex), never a caller's value: safe to put in the statement.
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await admin((query) => query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: `${testServerUrl}/${name}`,
    drop: () => admin((query) => query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

export interface WorkerLine {
  event: "ready" | "start" | "done";
  pid: number;
  at: number;
  id?: string;
  key?: string;
  attempt?: number;
}

export interface WorkerProcess {
  pid: number;
  lines: WorkerLine[];
  /** Resolves with the first line (seen or to come) that `match` accepts; rejects after timeoutMs or if the process exits first. */
  waitFor(match: (line: WorkerLine) => boolean, timeoutMs: number): Promise<WorkerLine>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<number>;
}

export interface WorkerSpec {
  url: string;
  library: "pg-boss" | "graphile-worker";
  effects: string;
  queue?: string;
  concurrency?: number;
  mode?: "work" | "hold";
  workMs?: number;
}

const workerScript = new URL("./testdata/queue-worker.ts", import.meta.url).pathname;

/** Starts testdata/queue-worker.ts in a bun process of its own and follows its lines. */
export function spawnWorker(spec: WorkerSpec): WorkerProcess {
  const child = Bun.spawn([process.execPath, workerScript], {
    env: {
      ...process.env,
      JOBS_URL: spec.url,
      JOBS_LIBRARY: spec.library,
      JOBS_QUEUE: spec.queue ?? "remediation",
      JOBS_CONCURRENCY: String(spec.concurrency ?? 1),
      JOBS_EFFECTS: spec.effects,
      JOBS_MODE: spec.mode ?? "work",
      JOBS_WORK_MS: String(spec.workMs ?? 0),
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines: WorkerLine[] = [];
  const waiters = new Set<{ match: (line: WorkerLine) => boolean; resolve(line: WorkerLine): void }>();
  let ended = false;
  const exited = child.exited;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!text.startsWith("{")) continue;
        const line = JSON.parse(text) as WorkerLine;
        lines.push(line);
        for (const waiter of waiters) if (waiter.match(line)) waiter.resolve(line);
      }
    }
  })().finally(() => (ended = true));
  return {
    pid: child.pid,
    lines,
    exited,
    kill: (signal = "SIGKILL") => child.kill(signal),
    waitFor(match, timeoutMs) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: WorkerLine) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`worker ${child.pid}: no matching line within ${timeoutMs} ms${ended ? " (it exited)" : ""}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() =>
          setTimeout(() => {
            if (!waiters.has(waiter)) return;
            clearTimeout(timer);
            waiters.delete(waiter);
            reject(new Error(`worker ${child.pid} exited with ${child.exitCode ?? child.signalCode} before a matching line`));
          }, 100),
        );
      });
    },
  };
}

export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const pgBin = "/usr/lib/postgresql/15/bin";

async function asPostgres(args: string[]): Promise<void> {
  const child = Bun.spawn(["runuser", "-u", "postgres", "--", ...args], { stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${args.join(" ")} exited with ${code}: ${err}`);
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * A PostgreSQL server of the test's own (initdb in a temporary directory, on
 * a free loopback port, trust auth), for tests that stop the database: the
 * shared server is never stopped.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const { mkdtempSync, chownSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const root = mkdtempSync(join(tmpdir(), "opskit-pg-"));
  const ids = Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim();
  const gid = Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim();
  chownSync(root, Number(ids), Number(gid));
  const data = join(root, "data");
  const port = await freePort();
  await asPostgres([`${pgBin}/initdb`, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${root} -c fsync=off`;
  const start = () => asPostgres([`${pgBin}/pg_ctl`, "-D", data, "-l", join(root, "log"), "-o", options, "-w", "-t", "30", "start"]);
  await start();
  const stop = () => asPostgres([`${pgBin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async destroy() {
      await stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
