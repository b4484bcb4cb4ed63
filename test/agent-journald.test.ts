// The agent's `journald` source driving the real journalctl over real
// journal files that systemd-journal-remote writes while the source follows
// them (this machine, like most containers, runs no journald).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { journaldSource } from "../src/agent/sources/journald.ts";
import { createSchemaKit } from "../src/schema/index.ts";
import { type JournalFields, startJournalWriter, waitForJournal } from "./harness/journal.ts";
import { collectingContext, waitUntil } from "./harness/source-context.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-agent-journald-"));
  dirs.push(dir);
  mkdirSync(join(dir, "journal"));
  return dir;
}

const kit = createSchemaKit(z);
const spec = (value: unknown) => journaldSource.schema(kit).parse(value);

const ssh = (message: string, extra: JournalFields = {}): JournalFields => ({ _SYSTEMD_UNIT: "ssh.service", _PID: "4242", _COMM: "sshd", PRIORITY: "6", SYSLOG_IDENTIFIER: "sshd", MESSAGE: message, ...extra });
const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ssh(`entry ${from + i}`));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `entry ${from + i}`);

/** journalctl processes reading this directory (their command lines name it). */
function journalctlsReading(directory: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("journalctl") && argv.includes(`--directory=${directory}`)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe("journald source over journalctl", () => {
  test("follows the unit's entries as they are written: text and byte-array messages, pid, comm, unit, priority and the entry's own time; entries before the first start are not read (startAt: end)", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const writer = startJournalWriter(journal);
    const sink = collectingContext(join(dir, "state"), "sshd");
    await writer.write([ssh("before the agent started")]);
    await waitForJournal(journal, 1);
    const source = await journaldSource.start(spec({ directory: journal, units: ["ssh.service"] }), sink.context);
    try {
      await writer.write([
        ssh("Accepted publickey for root from 192.0.2.7", { __REALTIME_TIMESTAMP: "1700000000123456" }),
        { _SYSTEMD_UNIT: "cron.service", _PID: "7", _COMM: "cron", MESSAGE: "not this unit" },
        ssh("", { MESSAGE: new Uint8Array([0x62, 0x69, 0x6e, 0x01, 0xff, 0x0a, 0x32]), PRIORITY: "3" }),
        ssh("two\nlines"),
      ]);
      await waitUntil("three entries", () => sink.events.length >= 3);
      await Bun.sleep(300);
    } finally {
      await source.stop();
      await writer.close();
    }
    expect(sink.events.length).toBe(3);
    const [first, binary, multiline] = sink.events;
    expect(first).toEqual({ source: "sshd", kind: "log", time: 1700000000123, pid: 4242, comm: "sshd", message: "Accepted publickey for root from 192.0.2.7", fields: { unit: "ssh.service", priority: 6, identifier: "sshd" } });
    expect(binary!.message).toBe("bin\u0001\uFFFD\n2");
    expect(binary!.fields.priority).toBe(3);
    expect(multiline!.message).toBe("two\nlines");
    expect(journalctlsReading(journal)).toEqual([]);
  }, 30_000);

  test("restarts resume after the saved cursor: nothing repeated, nothing skipped, across a reboot (a new boot id) while stopped", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const writer = startJournalWriter(journal);
    const config = spec({ directory: journal, units: ["ssh.service"], startAt: "beginning" });
    const sink = collectingContext(join(dir, "state"));
    const run = async (until: number) => {
      const source = await journaldSource.start(config, sink.context);
      try {
        await waitUntil(`entry ${until}`, () => sink.events.length >= until);
        await Bun.sleep(200);
      } finally {
        await source.stop();
      }
    };
    try {
      await writer.write(numbered(1, 20));
      await run(20);
      await writer.write(numbered(21, 40));
      await run(40);
      // A reboot while the agent is down: the rest of this boot, then a new boot. journalctl --follow alone reads the current boot only.
      await writer.write(numbered(41, 50));
      await writer.write(numbered(51, 60), "fedcba9876543210fedcba9876543210");
      await run(60);
    } finally {
      await writer.close();
    }
    expect(sink.messages()).toEqual(range(1, 60));
  }, 30_000);

  test("a crash (no final checkpoint) reads again what came after the last checkpoint, never skips", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const writer = startJournalWriter(journal);
    const config = spec({ directory: journal, startAt: "beginning" });
    try {
      const first = collectingContext(join(dir, "state"));
      await journaldSource.start(config, first.context);
      await writer.write(numbered(1, 20));
      await waitUntil("the first entries", () => first.events.length >= 20);
      await Bun.sleep(1200); // past the checkpoint interval: the next entry read writes one
      await writer.write(numbered(21, 30));
      await waitUntil("the next entries", () => first.events.length >= 30);
      // That checkpoint on disk before the crash, however long a busy machine takes to write it.
      const saved = join(dir, "state", "journald-cursor.json");
      const checkpointed = () => {
        try {
          return typeof JSON.parse(readFileSync(saved, "utf8")).cursor === "string";
        } catch {
          return false; // not written yet
        }
      };
      await waitUntil("a checkpoint", checkpointed);
      first.controller.abort(); // journalctl is killed, the loop ends; stop() (the final checkpoint) never runs
      await writer.write(numbered(31, 40));
      const second = collectingContext(join(dir, "state"));
      const source = await journaldSource.start(config, second.context);
      await waitUntil("the entries after the crash", () => second.messages().includes("entry 40"));
      await source.stop();
      const numbers = second.messages().map((message) => Number(message.split(" ")[1]));
      expect(numbers[0]).toBeGreaterThan(1);
      expect(numbers[0]).toBeLessThanOrEqual(21);
      expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => numbers[0]! + i));
    } finally {
      await writer.close();
    }
  }, 30_000);

  test("matches are journal matches passed as arguments, never through a shell: hostile values match literally and run nothing", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const canary = join(dir, "pwned");
    const hostile = `$(touch ${canary}); \`touch ${canary}\` ' " *`;
    const writer = startJournalWriter(journal);
    const sink = collectingContext(join(dir, "state"));
    const source = await journaldSource.start(spec({ directory: journal, matches: [`_COMM=${hostile}`, "PRIORITY=3"], units: [`-h; touch ${canary}`, "ssh.service"] }), sink.context);
    try {
      await writer.write([ssh("hostile comm, wrong priority", { _COMM: hostile }), ssh("hostile comm", { _COMM: hostile, PRIORITY: "3" }), ssh("sshd, priority 3", { PRIORITY: "3" })]);
      await waitUntil("the matching entry", () => sink.events.length >= 1);
      await Bun.sleep(300);
    } finally {
      await source.stop();
      await writer.close();
    }
    expect(sink.messages()).toEqual(["hostile comm"]);
    expect(sink.events[0]!.comm).toBe(hostile);
    expect(existsSync(canary)).toBe(false);
  }, 30_000);

  test("backpressure: while the queue says no, nothing more is read; once it drains everything arrives once, in order", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const writer = startJournalWriter(journal);
    const sink = collectingContext(join(dir, "state"));
    sink.setRoom(10);
    const source = await journaldSource.start(spec({ directory: journal, startAt: "beginning" }), sink.context);
    try {
      await writer.write(numbered(1, 200));
      await waitUntil("a full queue", () => sink.stats.refused >= 1);
      await Bun.sleep(300);
      expect(sink.events.length).toBe(10);
      expect(sink.stats.refused).toBe(1);
      sink.setRoom(Number.POSITIVE_INFINITY);
      await waitUntil("every entry", () => sink.events.length >= 200);
      await Bun.sleep(200);
    } finally {
      await source.stop();
      await writer.close();
    }
    expect(sink.messages()).toEqual(range(1, 200));
  }, 30_000);

  test("journalctl killed from outside is started again from the cursor; stop() leaves no journalctl behind", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const writer = startJournalWriter(journal);
    const sink = collectingContext(join(dir, "state"));
    const source = await journaldSource.start(spec({ directory: journal, startAt: "beginning" }), sink.context);
    try {
      await writer.write(numbered(1, 10));
      await waitUntil("the first entries", () => sink.events.length >= 10);
      const [pid] = journalctlsReading(journal);
      expect(pid).toBeNumber();
      process.kill(pid!, "SIGKILL");
      await writer.write(numbered(11, 20));
      await waitUntil("entries after the kill", () => sink.events.length >= 20);
      await Bun.sleep(200);
      expect(sink.counts.journald_restarts).toBe(1);
      expect(sink.warnings.some((warning) => warning.includes("journalctl exited"))).toBe(true);
    } finally {
      await source.stop();
      await writer.close();
    }
    expect(sink.messages()).toEqual(range(1, 20));
    expect(journalctlsReading(journal)).toEqual([]);
  }, 30_000);

  test("following the system journal where journald does not run says so once; a journal directory does not", async () => {
    const dir = tempDir();
    const system = collectingContext(join(dir, "system"));
    const source = await journaldSource.start(spec({ units: ["opskit-test-none.service"] }), system.context);
    await source.stop();
    const running = existsSync("/run/systemd/journal/socket");
    expect(system.warnings.filter((warning) => warning.startsWith("journald does not run on this machine"))).toHaveLength(running ? 0 : 1);
    const directory = collectingContext(join(dir, "directory"));
    const other = await journaldSource.start(spec({ directory: join(dir, "journal") }), directory.context);
    await other.stop();
    expect(directory.warnings).toEqual([]);
  }, 30_000);

  test("once reads from the saved cursor to the journal's end and leaves the cursor; with no cursor, startAt decides", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const state = join(dir, "state");
    const writer = startJournalWriter(journal);
    try {
      await writer.write(numbered(1, 5));
      await waitForJournal(journal, 5);
      const fresh = collectingContext(state);
      await journaldSource.once!(spec({ directory: journal }), fresh.context);
      expect(fresh.events).toEqual([]);
      await journaldSource.once!(spec({ directory: journal, startAt: "beginning" }), fresh.context);
      expect(fresh.messages()).toEqual(range(1, 5));
      expect(existsSync(join(state, "journald-cursor.json"))).toBe(false);

      const sink = collectingContext(state);
      const source = await journaldSource.start(spec({ directory: journal, startAt: "beginning" }), sink.context);
      await waitUntil("the first entries", () => sink.events.length >= 5);
      await source.stop();
      const saved = readFileSync(join(state, "journald-cursor.json"), "utf8");
      await writer.write(numbered(6, 8));
      await waitForJournal(journal, 8);
      for (const _ of [1, 2]) {
        const oneShot = collectingContext(state);
        await journaldSource.once!(spec({ directory: journal }), oneShot.context);
        expect(oneShot.messages()).toEqual(range(6, 8));
        expect(readFileSync(join(state, "journald-cursor.json"), "utf8")).toBe(saved);
      }
    } finally {
      await writer.close();
    }
  }, 30_000);
});
