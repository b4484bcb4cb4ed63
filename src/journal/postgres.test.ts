// What the PostgreSQL journal does beyond the contract: versioned migrations
// (rolling restarts, a newer schema refused), transactions serialized across
// processes, passwords kept out of every message, and its behaviour when
// PostgreSQL goes away and comes back (a private server this file stops).
import { afterAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { refusedPort, startHangServer } from "../../test/harness/net.ts";
import { createTestDatabase, queryDatabase, startPrivatePostgres, type TestDatabase } from "../../test/harness/postgres.ts";
import { describeError, isOpsError } from "../errors.ts";
import { redact } from "../observe/index.ts";
import { openPostgresJournal } from "./postgres.ts";
import { SCHEMA_VERSION } from "./postgres-schema.ts";
import { maskPostgresUrl } from "./postgres-url.ts";
import type { Journal } from "./types.ts";

const databases: TestDatabase[] = [];
const journals: Journal[] = [];
afterAll(async () => {
  for (const journal of journals) await journal.close();
  for (const database of databases) await database.drop();
});

async function database(server?: { host: string; port: number }): Promise<TestDatabase> {
  const created = await createTestDatabase(server);
  databases.push(created);
  return created;
}

async function open(url: string, options: Parameters<typeof openPostgresJournal>[1] = {}): Promise<Journal> {
  const journal = await openPostgresJournal(url, options);
  journals.push(journal);
  return journal;
}

/** The rejection of a promise that must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it holds, at most `tries` times. */
async function eventually(check: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error("the condition did not hold in time");
}

const params = { configFiles: [], cwd: "/", vars: {}, dryRun: false };
const versions = async (url: string) => (await queryDatabase<{ version: number }>(url, "SELECT version FROM opskit_schema ORDER BY version")).map((r) => r.version);
const hasIndex = async (url: string, name: string) => (await queryDatabase(url, "SELECT 1 FROM pg_indexes WHERE indexname = $1", [name])).length === 1;

describe("schema migrations", () => {
  test("an empty database gets every migration, each recorded once, even when two replicas open it at once", async () => {
    const { url } = await database();
    const [a, b] = await Promise.all([open(url), open(url)]);
    expect(await versions(url)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    await a.putSetting("k", "from a");
    expect(await b.getSetting("k")).toBe("from a");
  });

  test("a rolling restart across a migration: the newer build migrates while the older one goes on reading and writing", async () => {
    const { url } = await database();
    const older = await open(url, { schemaVersion: 1 });
    expect(await versions(url)).toEqual([1]);
    expect(await hasIndex(url, "runs_running")).toBe(false);
    // Written as the older build writes them: this build's statements name columns (trace_id) a version-1 schema lacks.
    await queryDatabase(url, "INSERT INTO runs (id, kind, name, status, params, started_at, owner_pid, owner_host) VALUES ('run-old', 'workflow', 'deploy', 'running', $1, $2, $3, 'elsewhere')", [JSON.stringify(params), new Date().toISOString(), process.pid]);
    const [row] = await queryDatabase<{ id: string }>(url, "INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, started_at, notifications, last_notified_at) VALUES ('fp-1', 'open', 'Down', 'generic', '{}', '{}', 1, 1, 1) RETURNING id");
    const incident = { id: Number(row!.id) };

    const newer = await open(url);
    expect(await versions(url)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(await hasIndex(url, "runs_running")).toBe(true);
    expect((await newer.getRun("run-old"))?.run.status).toBe("running");
    expect((await newer.findOpenIncident("fp-1"))?.id).toBe(incident.id);

    // The older process keeps working on the migrated database, and each sees the other's writes.
    await older.finishRun("run-old", "succeeded", {});
    await older.transaction(async (tx) => tx.addIncidentEvent(incident.id, { at: 2, kind: "note", message: "still here" }));
    await newer.startRun({ id: "run-new", kind: "workflow", name: "deploy", params: { ...params, trigger: { incident: incident.id, attempt: 1, rule: "r" } } });
    expect((await older.getRun("run-new"))?.run.status).toBe("running");
    expect((await newer.getRun("run-old"))?.run.status).toBe("succeeded");
    expect((await newer.incidentEvents(incident.id)).map((e) => e.message)).toEqual(["still here"]);
    expect(await newer.interruptRunningRuns({ except: [] })).toEqual(["run-new"]);

    // Another start of the older build is refused now: it would write a schema it does not know.
    const refused = await rejection(openPostgresJournal(url, { schemaVersion: 1 }));
    expect(isOpsError(refused) && refused.code).toBe("E_JOURNAL_SCHEMA_NEWER");
  });

  test("statements a replica prepared keep working when a newer build adds columns under it", async () => {
    const { url } = await database();
    // One connection: every statement is prepared on the one that runs it again after the change.
    const older = await open(url, { poolSize: 1 });
    const incident = await older.openIncident({ fingerprint: "fp-1", title: "Down", source: "generic", labels: {}, annotations: {}, milestones: { started: 1 }, lastNotifiedAt: 1 });
    await older.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
    await older.recordShadowComparison({ name: "s", at: 1, source: "cli", legacyExit: 0, legacyDurationMs: 1, candidateExit: 0, candidateDurationMs: 1, candidateFailed: false, equal: true, differs: [], diff: "" });
    const reads = () => Promise.all([older.getIncident(incident.id), older.listIncidents(), older.getRun("run-1"), older.listRuns(), older.shadowComparisons("s")]);
    const before = await reads();
    for (const table of ["incidents", "runs", "run_targets", "step_results", "shadow_comparisons"]) await queryDatabase(url, `ALTER TABLE ${table} ADD COLUMN added_later text`);
    expect(await reads()).toEqual(before);
  });

  test("a database migrated by a newer opskit is refused at open, naming both versions and the fix", async () => {
    const { url } = await database();
    await (await open(url)).close();
    await queryDatabase(url, "INSERT INTO opskit_schema (version, name, applied_at) VALUES ($1, 'from the future', 0)", [SCHEMA_VERSION + 1]);
    const error = await rejection(openPostgresJournal(url));
    expect(isOpsError(error) && error.code).toBe("E_JOURNAL_SCHEMA_NEWER");
    expect((error as Error).message).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this opskit knows (${SCHEMA_VERSION})`);
    expect((error as Error).message).toContain(url);
    expect(isOpsError(error) && error.hint).toMatch(/upgrade opskit/);
    // Nothing was changed by the refused open.
    expect(await versions(url)).toEqual([...Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1), SCHEMA_VERSION + 1]);
  });
});

describe("transactions across processes", () => {
  test("two replicas' transactions that read and then write do not interleave: concurrent increments lose none", async () => {
    const { url } = await database();
    const replicas = [await open(url), await open(url)];
    await replicas[0]!.putSetting("n", "0");
    const increment = (journal: Journal) =>
      journal.transaction(async (tx) => {
        const n = Number(await tx.getSetting("n"));
        await sleep(2);
        await tx.putSetting("n", String(n + 1));
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => increment(replicas[i % 2]!)));
    expect(await replicas[1]!.getSetting("n")).toBe("20");
  });

  test("a replica's transaction starts only once another replica's has committed; work outside transactions goes on meanwhile", async () => {
    const { url } = await database();
    const [first, second] = [await open(url), await open(url)];
    const hold = deferred();
    const holding = deferred();
    const holder = first.transaction(async (tx) => {
      await tx.putSetting("owner", "first");
      holding.resolve();
      await hold.promise;
    });
    await holding.promise;
    let entered = false;
    const waiter = second.transaction(async (tx) => {
      entered = true;
      return tx.getSetting("owner");
    });
    // The second waits on the journal's advisory lock, in PostgreSQL.
    await eventually(async () => (await queryDatabase(url, "SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()")).length > 0);
    expect(entered).toBe(false);
    // A notification is committed (the webhook's 2xx) while the lock is held.
    expect(await second.acceptNotifications([{ source: "generic", receivedAt: 1, body: "{}" }])).toHaveLength(1);
    hold.resolve();
    await holder;
    expect(await waiter).toBe("first");
    expect(entered).toBe(true);
  });

  test("a transaction in which a statement failed (its error caught) is not passed off as committed: it rejects with E_JOURNAL_ROLLED_BACK and keeps nothing", async () => {
    const { url } = await database();
    const journal = await open(url);
    const error = await rejection(
      journal.transaction(async (tx) => {
        await tx.putSetting("written-before", "yes");
        // A bigint column compared with a value PostgreSQL cannot read: the statement fails and aborts the transaction.
        await tx.getIncident(Number.NaN).catch(() => undefined);
      }),
    );
    expect((error as { code?: string }).code).toBe("E_JOURNAL_ROLLED_BACK");
    expect(await journal.getSetting("written-before")).toBeUndefined();
    await journal.close();
  });

  test("calls through a transaction made at once run one after the other, in the order made, without pg's warning", async () => {
    const { url } = await database();
    const journal = await open(url);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      const read = await journal.transaction(async (tx) => {
        const writes = [tx.putSetting("a", "1"), tx.putSetting("a", "2"), tx.putSetting("b", "3")];
        const [, , , a] = await Promise.all([...writes, tx.getSetting("a")]);
        return a;
      });
      expect(read).toBe("2");
      expect([await journal.getSetting("a"), await journal.getSetting("b")]).toEqual(["2", "3"]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  test("a write blocked by a lock held elsewhere fails with E_JOURNAL_BUSY after the lock timeout, and the journal goes on", async () => {
    const { url } = await database();
    const journal = await open(url, { lockTimeoutMs: 300 });
    await journal.putSetting("k", "1");
    const other = new pg.Client({ connectionString: url });
    other.on("error", () => undefined);
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT * FROM settings WHERE key = 'k' FOR UPDATE");
      const error = await rejection(journal.putSetting("k", "2"));
      expect(isOpsError(error) && error.code).toBe("E_JOURNAL_BUSY");
      await other.query("ROLLBACK");
    } finally {
      await other.end();
    }
    await journal.putSetting("k", "3");
    expect(await journal.getSetting("k")).toBe("3");
  });
});

describe("values SQLite keeps and PostgreSQL's text cannot", () => {
  test("command output with NUL bytes is kept, each NUL as U+FFFD", async () => {
    const { url } = await database();
    const journal = await open(url);
    await journal.startRun({ id: "run-1", kind: "exec", name: "cat", params });
    await journal.putStep({ runId: "run-1", target: "web-1", phase: "main", index: 0, name: "cat", action: "exec", status: "ok", exitCode: 0, stdout: "a\0b", stderr: "\0", durationMs: 1, attempts: 1, startedAt: "2026-01-01T00:00:00.000Z" });
    expect((await journal.getRun("run-1"))!.steps.map((s) => [s.stdout, s.stderr])).toEqual([["a\uFFFDb", "\uFFFD"]]);
  });

  test("an alert whose fingerprint and labels hold NUL opens its incident and is found again by the same fingerprint", async () => {
    const { url } = await database();
    const journal = await open(url);
    const opened = await journal.openIncident({ fingerprint: "fp\0x", title: "Disk\0Full", source: "generic", labels: { alertname: "Disk\0Full" }, annotations: {}, milestones: { started: 1 }, lastNotifiedAt: 1 });
    expect(opened).toMatchObject({ title: "Disk\uFFFDFull", labels: { alertname: "Disk\0Full" } });
    expect((await journal.findOpenIncident("fp\0x"))?.id).toBe(opened.id);
    await journal.putAlertState({ fingerprint: "fp\0x", status: "firing", startsAt: 1, updatedAt: 1 });
    expect(await journal.getAlertState("fp\0x")).toMatchObject({ status: "firing" });
  });
});

describe("passwords and addresses", () => {
  test("a URL's password is masked in the location, and the URL in every form keeps its other parts", () => {
    expect(maskPostgresUrl("postgres://opskit:s3cret-pw@db.example:5433/journal")).toBe("postgres://opskit:***@db.example:5433/journal");
    expect(maskPostgresUrl("postgresql://opskit@db/journal?sslmode=require&password=s3cret-pw")).toBe("postgresql://opskit@db/journal?sslmode=require&password=***");
    expect(maskPostgresUrl("postgres://opskit@db:5432/journal")).toBe("postgres://opskit@db:5432/journal");
    expect(maskPostgresUrl("postgres://opskit:p%40ss-word@db/journal")).toBe("postgres://opskit:***@db/journal");
  });

  test("an open journal's location hides the password it connected with", async () => {
    const { url, name } = await database();
    // The shared server trusts the user; the password is sent all the same.
    const journal = await open(url.replace("postgres@", "postgres:Open-Sesame-42@"));
    expect(journal.location).toBe(`postgres://postgres:***@127.0.0.1:5432/${name}`);
    expect(redact("connecting with Open-Sesame-42")).toBe("connecting with ***");
  });

  test("an unreachable server fails the open at once with E_JOURNAL_UNAVAILABLE, naming the masked URL and the fix", async () => {
    const port = await refusedPort();
    const error = await rejection(openPostgresJournal(`postgres://opskit:Refused-Pass-7@127.0.0.1:${port}/journal`));
    expect(isOpsError(error) && error.code).toBe("E_JOURNAL_UNAVAILABLE");
    expect(describeError(error)).toContain(`postgres://opskit:***@127.0.0.1:${port}/journal`);
    expect(describeError(error)).toContain(`pg_isready -h 127.0.0.1 -p ${port}`);
    expect(describeError(error)).not.toContain("Refused-Pass-7");
  });

  test("a server that accepts the connection and never answers fails the open after the connect timeout, not a hang", async () => {
    const hang = await startHangServer();
    try {
      const error = await rejection(openPostgresJournal(`postgres://opskit@127.0.0.1:${hang.port}/journal`, { connectTimeoutMs: 300 }));
      expect(isOpsError(error) && error.code).toBe("E_JOURNAL_UNAVAILABLE");
    } finally {
      await hang.stop();
    }
  });

  test("a database that does not exist is E_JOURNAL_OPEN, saying to create it", async () => {
    const error = await rejection(openPostgresJournal("postgres://postgres@127.0.0.1:5432/opskit_test_no_such_database"));
    expect(isOpsError(error) && error.code).toBe("E_JOURNAL_OPEN");
    expect(isOpsError(error) && error.hint).toMatch(/createdb/);
  });
});

describe("connections lost and PostgreSQL gone", () => {
  test("a connection lost inside a transaction fails it with E_JOURNAL_UNAVAILABLE, commits nothing, and the next transaction works", async () => {
    const { url, name } = await database();
    const journal = await open(url);
    const inside = deferred();
    const resume = deferred();
    const failed = rejection(
      journal.transaction(async (tx) => {
        await tx.putSetting("half", "written");
        inside.resolve();
        await resume.promise;
        await tx.putSetting("other", "half");
      }),
    );
    await inside.promise;
    await queryDatabase(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'", [name]);
    resume.resolve();
    const error = await failed;
    expect(isOpsError(error) && error.code).toBe("E_JOURNAL_UNAVAILABLE");
    expect(await journal.getSetting("half")).toBeUndefined();
    await journal.transaction((tx) => tx.putSetting("after", "ok"));
    expect(await journal.getSetting("after")).toBe("ok");
  });

  test("tables dropped under a running journal: E_JOURNAL_GONE, which says to restart", async () => {
    const { url } = await database();
    const journal = await open(url);
    await queryDatabase(url, "DROP TABLE settings");
    const error = await rejection(journal.getSetting("k"));
    expect(isOpsError(error) && error.code).toBe("E_JOURNAL_GONE");
    expect(isOpsError(error) && error.hint).toMatch(/restart opskit/);
  });

  test("PostgreSQL stopped: every call fails with E_JOURNAL_UNAVAILABLE and health says why; started again, the pool reconnects by itself and nothing committed is lost", async () => {
    const server = await startPrivatePostgres();
    try {
      const { url } = await createTestDatabase(server);
      const journal = await openPostgresJournal(url, { connectTimeoutMs: 2_000 });
      try {
        const before = await journal.acceptNotifications([1, 2, 3].map((n) => ({ source: "generic", receivedAt: n, body: String(n) })));
        // Several connections sit idle in the pool when the server goes: their errors must not end the process.
        await Promise.all(Array.from({ length: 5 }, (_, i) => journal.putSetting(`k${i}`, "v")));
        await server.stop("fast");

        const health = await journal.health();
        expect(health?.code).toBe("E_JOURNAL_UNAVAILABLE");
        expect(health?.message).toContain(journal.location);
        for (const call of [
          () => journal.acceptNotifications([{ source: "generic", receivedAt: 4, body: "4" }]),
          () => journal.getSetting("k0"),
          () => journal.transaction((tx) => tx.putSetting("k", "v")),
          () => journal.addIncidentEvent(1, { at: 1, kind: "note", message: "x" }),
        ]) {
          const error = await rejection(call());
          expect(isOpsError(error) && error.code).toBe("E_JOURNAL_UNAVAILABLE");
        }

        await server.start();
        await eventually(async () => (await journal.health()) === undefined);
        const after = await journal.acceptNotifications([{ source: "generic", receivedAt: 5, body: "5" }]);
        expect((await journal.pendingNotifications(10)).map((n) => n.id)).toEqual([...before, ...after]);
        expect(await journal.transaction(async (tx) => tx.getSetting("k4"))).toBe("v");
      } finally {
        await journal.close();
      }
    } finally {
      await server.destroy();
    }
  });
});
