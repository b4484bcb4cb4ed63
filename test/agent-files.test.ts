// The agent's `files` source against real files: a writer process, Debian's
// logrotate (create and copytruncate), truncation, restarts, multi-line
// records, globs, and backpressure from a queue that says no; then the whole
// of it through `opskit agent` delivering to a real `opskit serve`.
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { filesSource } from "../src/agent/sources/files.ts";
import { createSchemaKit } from "../src/schema/index.ts";
import { repoRoot } from "./harness/cli.ts";
import { lineNumber, logrotate, startLogWriter, writerLine } from "./harness/logs.ts";
import { collectOutput, startServe, writeConfig } from "./harness/serve.ts";
import { collectingContext as collector, waitUntil } from "./harness/source-context.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-agent-files-"));
  dirs.push(dir);
  return dir;
}

const kit = createSchemaKit(z);
const spec = (value: unknown) => filesSource.schema(kit).parse(value);

const lines = (from: number, to: number, prefix = "line") => Array.from({ length: to - from + 1 }, (_, i) => `${writerLine(prefix, from + i)}\n`).join("");

/** Every number 1..count exactly once and in order. */
function expectSequence(messages: string[], count: number): void {
  const numbers = messages.map(lineNumber);
  const missing = [];
  const seen = new Set(numbers);
  for (let i = 1; i <= count; i++) if (!seen.has(i)) missing.push(i);
  expect(missing.slice(0, 10)).toEqual([]);
  const duplicates = numbers.filter((n, i) => numbers.indexOf(n) !== i);
  expect(duplicates.slice(0, 10)).toEqual([]);
  expect(numbers).toEqual(Array.from({ length: count }, (_, i) => i + 1));
}

/** The last line the file holds has been emitted. */
function caughtUp(file: string, messages: string[]): boolean {
  const text = readFileSync(file, "utf8").trimEnd();
  const last = text.slice(text.lastIndexOf("\n") + 1);
  return last === "" || messages.at(-1) === last;
}

describe.each([
  ["the file's own path", (dir: string) => [join(dir, "app.log")]],
  ["a glob that matches the rotated files too", (dir: string) => [join(dir, "app.log*")]],
])("rotation while the source runs, tailing %s", (_name, paths) => {
  test("logrotate create, logrotate copytruncate and a truncation: every line seen exactly once, in order, under the file's name", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    writeFileSync(log, "");
    const sink = collector(join(dir, "state"));
    const source = await filesSource.start(spec({ paths: paths(dir), pollInterval: "50ms" }), sink.context);
    const count = 6000;
    const writer = startLogWriter(log, { count, batch: 10, intervalMs: 3 });
    // The queue is held full across each rotation, so the old file surely has lines the source has not read yet.
    const holdQueue = async () => {
      const refused = sink.stats.refused;
      sink.setRoom(sink.events.length);
      await waitUntil("the source to be held", () => sink.stats.refused > refused);
      await Bun.sleep(50);
    };
    try {
      await waitUntil("lines before the first rotation", () => sink.events.length >= 1000);
      // create: renamed to app.log.1, a new app.log, the writer told to reopen by postrotate.
      await holdQueue();
      await logrotate(log, "create", dir, writer.pid);
      await Bun.sleep(50);
      sink.setRoom(Number.POSITIVE_INFINITY);
      await waitUntil("lines after the rename", () => sink.events.length >= 2500);
      // copytruncate: the writer is held while logrotate copies and truncates (logrotate's own race would lose lines otherwise);
      // lines not yet read when the file is truncated are read from the copy.
      await holdQueue();
      writer.pause();
      await logrotate(log, "copytruncate", dir);
      writer.resume();
      await Bun.sleep(50);
      sink.setRoom(Number.POSITIVE_INFINITY);
      await waitUntil("lines after the copytruncate", () => sink.events.length >= 4000);
      // A plain truncation loses what was not read: it happens once the source has caught up.
      writer.pause();
      await waitUntil("the source to catch up", () => caughtUp(log, sink.messages()));
      truncateSync(log, 0);
      writer.resume();
      expect(await writer.exited).toBe(0);
      await waitUntil("every line", () => sink.events.length >= count);
      await Bun.sleep(300); // a duplicate would arrive in this time
    } finally {
      writer.kill();
      await source.stop();
    }
    expectSequence(sink.messages(), count);
    expect(new Set(sink.events.map((event) => event.fields.file))).toEqual(new Set([log]));
    expect(sink.events.every((event) => event.kind === "log" && event.source === "app" && typeof event.fields.offset === "number")).toBe(true);
    expect(sink.counts.files_truncated).toBeGreaterThanOrEqual(2);
    expect(sink.counts.files_copies_continued).toBe(1);
  }, 60_000);
});

describe("restarts", () => {
  test("stopped and started again between writes, rotations and truncations: nothing repeated, nothing skipped, a partial line only once completed", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const state = join(dir, "state");
    const config = spec({ paths: [log], pollInterval: "50ms" });
    const sink = collector(state);
    const run = async (until: number, between: () => void | Promise<void>) => {
      await between();
      const source = await filesSource.start(config, sink.context);
      try {
        await waitUntil(`line ${until}`, () => sink.events.length >= until);
        await Bun.sleep(200);
      } finally {
        await source.stop();
      }
    };
    await run(500, () => writeFileSync(log, lines(1, 500)));
    // A line still being written when the agent stops is not emitted half.
    await run(700, () => appendFileSync(log, lines(501, 700) + writerLine("line", 701).slice(0, 9)));
    expect(sink.messages().at(-1)).toBe(writerLine("line", 700));
    // Completed, then renamed away while the agent is down (create mode): the rest of the old file, then the new.
    await run(1000, () => {
      appendFileSync(log, `${writerLine("line", 701).slice(9)}\n${lines(702, 900)}`);
      renameSync(log, `${log}.1`);
      writeFileSync(log, lines(901, 1000));
    });
    // copytruncate while the agent is down: the unread end is read from the copy.
    await run(1200, async () => {
      appendFileSync(log, lines(1001, 1100));
      await logrotate(log, "copytruncate", dir);
      appendFileSync(log, lines(1101, 1200));
    });
    // Truncated and written again, past the old offset, while down: the fingerprint tells it is new content.
    await run(1300, () => writeFileSync(log, lines(1201, 1300)));
    expectSequence(sink.messages(), 1300);
  }, 60_000);

  test("a crash (no final checkpoint) reads again what came after the last checkpoint, never skips", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const config = spec({ paths: [log], pollInterval: "50ms" });
    writeFileSync(log, lines(1, 300));
    const first = collector(join(dir, "state"));
    const crashed = await filesSource.start(config, first.context);
    await waitUntil("the first lines", () => first.events.length >= 300);
    await Bun.sleep(2500); // checkpoints every second, each with the offsets of the one before
    appendFileSync(log, lines(301, 400));
    await waitUntil("the next lines", () => first.events.length >= 400);
    first.controller.abort(); // the source's loop ends; stop() (the final checkpoint) never runs
    void crashed;
    const second = collector(join(dir, "state"));
    appendFileSync(log, lines(401, 500));
    const source = await filesSource.start(config, second.context);
    await waitUntil("the lines after the crash", () => second.messages().includes(writerLine("line", 500)));
    await source.stop();
    const numbers = second.messages().map(lineNumber);
    expect(numbers.at(-1)).toBe(500);
    // At least once: the second run starts at a checkpoint (not from the start) at or before the crash, and runs on without a gap.
    expect(numbers[0]).toBeGreaterThan(1);
    expect(numbers[0]).toBeLessThanOrEqual(301);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => numbers[0]! + i));
  }, 30_000);

  test("a file whose first bytes changed (an inode reused, or rewritten past the old offset) is read from its start, while stopped and while running", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const config = spec({ paths: [log], pollInterval: "50ms" });
    writeFileSync(log, lines(1, 100, "old"));
    const sink = collector(join(dir, "state"));
    let source = await filesSource.start(config, sink.context);
    await waitUntil("the old file", () => sink.events.length >= 100);
    await source.stop();
    // The same device and inode, other content, longer than the saved offset: only the fingerprint tells.
    writeFileSync(log, lines(1, 200, "new"));
    source = await filesSource.start(config, sink.context);
    await waitUntil("the new file", () => sink.events.length >= 300);
    // Again while running: truncated and written past the offset between two looks.
    writeFileSync(log, lines(1, 300, "third"));
    await waitUntil("the third file", () => sink.events.length >= 600);
    await Bun.sleep(200);
    await source.stop();
    expect(sink.messages().slice(100)).toEqual([...lines(1, 200, "new").trimEnd().split("\n"), ...lines(1, 300, "third").trimEnd().split("\n")]);
  }, 30_000);

  test("saved offsets that cannot be read are said so, and reading starts as on a first start", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const state = join(dir, "state");
    mkdirSync(state);
    writeFileSync(join(state, "files-offsets.json"), '{"version": 1, "files": {"trunc');
    writeFileSync(log, lines(1, 5));
    const sink = collector(state);
    const source = await filesSource.start(spec({ paths: [log], pollInterval: "50ms" }), sink.context);
    await waitUntil("the lines", () => sink.events.length >= 5);
    await source.stop();
    expect(sink.messages().map(lineNumber)).toEqual([1, 2, 3, 4, 5]);
    expect(sink.warnings).toHaveLength(1);
    expect(sink.warnings[0]).toStartWith(`files: the saved offsets in ${join(state, "files-offsets.json")} cannot be read (`);
    expect(JSON.parse(readFileSync(join(state, "files-offsets.json"), "utf8")).version).toBe(1);
  });

  test("startAt: end reads only what is written after the very first start", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    writeFileSync(log, lines(1, 50));
    const sink = collector(join(dir, "state"));
    const source = await filesSource.start(spec({ paths: [log], startAt: "end", pollInterval: "50ms" }), sink.context);
    appendFileSync(log, lines(51, 60));
    await waitUntil("new lines", () => sink.events.length >= 10);
    await Bun.sleep(200);
    await source.stop();
    expect(sink.messages().map(lineNumber)).toEqual([51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
  });
});

describe("records", () => {
  test("multi-line records join continuation lines, the last one flushed after the idle timeout; a partial line waits for its newline; maxBytes bounds a record", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const sink = collector(join(dir, "state"));
    writeFileSync(log, "2024-05-01 10:00:00 ERROR boom\n  at a (a.js:1)\n  at b (b.js:2)\n2024-05-01 10:00:01 INFO fine\r\n");
    const source = await filesSource.start(spec({ paths: [log], multiline: { start: "^\\d{4}-\\d{2}-\\d{2} ", timeout: "300ms" }, maxBytes: 1024, pollInterval: "50ms" }), sink.context);
    try {
      await waitUntil("two records", () => sink.events.length >= 2);
      expect(sink.messages()).toEqual(["2024-05-01 10:00:00 ERROR boom\n  at a (a.js:1)\n  at b (b.js:2)", "2024-05-01 10:00:01 INFO fine"]);
      expect(sink.events.map((event) => event.fields.offset)).toEqual([0, Buffer.byteLength("2024-05-01 10:00:00 ERROR boom\n  at a (a.js:1)\n  at b (b.js:2)\n")]);
      appendFileSync(log, "2024-05-01 10:00:02 WARN par");
      await Bun.sleep(600);
      expect(sink.events.length).toBe(2);
      appendFileSync(log, "tial\n  continued\n");
      await waitUntil("the partial line completed and flushed", () => sink.events.length >= 3);
      expect(sink.messages()[2]).toBe("2024-05-01 10:00:02 WARN partial\n  continued");
      appendFileSync(log, `2024-05-01 10:00:03 ERROR long\n${"  at frame\n".repeat(300)}2024-05-01 10:00:04 INFO after\n2024-05-01 10:00:05 ${"y".repeat(3000)}\n`);
      await waitUntil("the long record, the next and the long line", () => sink.events.length >= 6);
      const [long, after, longLine] = sink.events.slice(3);
      expect(long!.fields.truncated).toBe(true);
      expect(Buffer.byteLength(long!.message!)).toBeLessThanOrEqual(1024);
      expect(long!.message!.startsWith("2024-05-01 10:00:03 ERROR long\n  at frame")).toBe(true);
      expect(after!.message).toBe("2024-05-01 10:00:04 INFO after");
      expect(longLine!.message).toBe(`2024-05-01 10:00:05 ${"y".repeat(1024 - 20)}`);
      expect(longLine!.fields.truncated).toBe(true);
    } finally {
      await source.stop();
    }
  }, 30_000);

  test("a multi-line record pending when the source stops is read whole after the restart", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const config = spec({ paths: [log], multiline: { start: "^START", timeout: "30s" }, pollInterval: "50ms" });
    const sink = collector(join(dir, "state"));
    writeFileSync(log, "START one\n  a\nSTART two\n  b\n");
    let source = await filesSource.start(config, sink.context);
    await waitUntil("the first record", () => sink.events.length >= 1);
    await Bun.sleep(200);
    await source.stop();
    appendFileSync(log, "  c\nSTART three\n");
    source = await filesSource.start(config, sink.context);
    await waitUntil("the second record", () => sink.events.length >= 2);
    await Bun.sleep(200);
    await source.stop();
    expect(sink.messages()).toEqual(["START one\n  a", "START two\n  b\n  c"]);
  }, 30_000);
});

describe("globs", () => {
  test("files and directories that appear while the source runs are picked up; excluded and compressed files are not", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "a"));
    writeFileSync(join(dir, "a", "svc-1.log"), "one 1\n");
    const sink = collector(join(dir, "state"));
    const source = await filesSource.start(spec({ paths: [join(dir, "*", "svc-*.log")], exclude: ["svc-9.log"], pollInterval: "50ms" }), sink.context);
    try {
      await waitUntil("the first file", () => sink.events.length >= 1);
      mkdirSync(join(dir, "b"));
      writeFileSync(join(dir, "b", "svc-2.log"), "two 1\ntwo 2\n");
      writeFileSync(join(dir, "b", "other.log"), "other 1\n");
      writeFileSync(join(dir, "b", "svc-9.log"), "nine 1\n");
      writeFileSync(join(dir, "b", "svc-3.log.gz"), "gz 1\n");
      writeFileSync(join(dir, "svc-4.log"), "top 1\n");
      await waitUntil("the new file", () => sink.events.length >= 3);
      appendFileSync(join(dir, "a", "svc-1.log"), "one 2\n");
      await waitUntil("the appended line", () => sink.events.length >= 4);
      await Bun.sleep(300);
    } finally {
      await source.stop();
    }
    expect(sink.events.map((event) => [event.fields.file, event.message])).toEqual([
      [join(dir, "a", "svc-1.log"), "one 1"],
      [join(dir, "b", "svc-2.log"), "two 1"],
      [join(dir, "b", "svc-2.log"), "two 2"],
      [join(dir, "a", "svc-1.log"), "one 2"],
    ]);
  }, 30_000);
});

describe("backpressure", () => {
  test("a queue that says no stops the reading until it drains; nothing is lost, and the offset saved is that of the last line taken", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const state = join(dir, "state");
    writeFileSync(log, lines(1, 1000));
    const sink = collector(state);
    sink.setRoom(100);
    let source = await filesSource.start(spec({ paths: [log], pollInterval: "20ms" }), sink.context);
    await waitUntil("a full queue", () => sink.stats.refused >= 1);
    await Bun.sleep(500);
    // Refused once, then waiting on drained(): no retry loop, no line dropped.
    expect(sink.events.length).toBe(100);
    expect(sink.stats.refused).toBe(1);
    expect(sink.counts.files_backpressure).toBe(1);
    sink.setRoom(400);
    await waitUntil("the next 300", () => sink.events.length >= 400);
    await Bun.sleep(200);
    expect(sink.events.length).toBe(400);
    // Stopped while blocked: the checkpoint is the end of line 400, not of what was read past it.
    await source.stop();
    const saved = JSON.parse(readFileSync(join(state, "files-offsets.json"), "utf8"));
    expect((Object.values(saved.files) as Array<{ offset: number }>)[0]!.offset).toBe(Buffer.byteLength(lines(1, 400)));
    sink.setRoom(Number.POSITIVE_INFINITY);
    source = await filesSource.start(spec({ paths: [log], pollInterval: "20ms" }), sink.context);
    await waitUntil("the rest", () => sink.events.length >= 1000);
    await Bun.sleep(200);
    await source.stop();
    expectSequence(sink.messages(), 1000);
  }, 30_000);
});

describe("once", () => {
  test("reads from the saved offset to the end and leaves the offset where it was", async () => {
    const dir = tempDir();
    const log = join(dir, "app.log");
    const state = join(dir, "state");
    const config = spec({ paths: [log], multiline: { start: "^line" } });
    writeFileSync(log, lines(1, 100));
    const sink = collector(state);
    const source = await filesSource.start(config, sink.context);
    await waitUntil("the first lines", () => sink.events.length >= 99);
    await source.stop();
    appendFileSync(log, `${lines(101, 150)}  a continuation\n`);
    copyFileSync(join(state, "files-offsets.json"), join(dir, "saved.json"));
    for (const _ of [1, 2]) {
      const oneShot = collector(state);
      await filesSource.once!(config, oneShot.context);
      expect(oneShot.messages().map(lineNumber)).toEqual(Array.from({ length: 51 }, (_, i) => 100 + i));
      expect(oneShot.messages().at(-1)).toBe(`${writerLine("line", 150)}\n  a continuation`);
      expect(readFileSync(join(state, "files-offsets.json"), "utf8")).toBe(readFileSync(join(dir, "saved.json"), "utf8"));
    }
  }, 30_000);
});

describe("opskit agent with a files source, delivering to opskit serve", () => {
  test("a log written, rotated by logrotate create and copytruncate and truncated while the agent runs: every line taken once; the matching lines raise alerts at the server, which then resolve", async () => {
    const server = await startServe(writeConfig("rules: []\n"));
    const dir = tempDir();
    const log = join(dir, "app.log");
    writeFileSync(log, "");
    // Every hundredth line matches; its number is the alert's label.
    writeFileSync(
      join(dir, "opskit.yaml"),
      `agent:
  server: { url: ${server.url}, token: "file:${join(server.dir, "server.token")}", timeout: 2s }
  stateDir: ${join(dir, "state")}
  sources:
    - name: app
      files: { paths: ["${log}"], pollInterval: 100ms }
  rules:
    - name: hundredth
      when: log.message.split(" ")[1].endsWith("00")
      labels: { alertname: HundredthLine, line: '{{ log.message.split(" ")[1] }}' }
      resolveAfter: 2s
`,
    );
    const agent = Bun.spawn([process.execPath, join(repoRoot, "src/cli/main.ts"), "agent", "-c", ".", "--listen", "127.0.0.1:0"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const output = collectOutput(agent);
    const count = 6000;
    const writer = startLogWriter(log, { count, batch: 10, intervalMs: 3 });
    const eventsTaken = async (metrics: string) => Number(/^opskit_agent_events_total\{source="app",kind="log"\} (\d+)$/m.exec(await (await fetch(metrics)).text())?.[1] ?? 0);
    try {
      await waitUntil("the agent's metrics address", () => /metrics on (http:\/\/[\d.:]+\/metrics)/.test(output.text()));
      const metrics = /metrics on (http:\/\/[\d.:]+\/metrics)/.exec(output.text())![1]!;
      const atLeast = async (n: number) => {
        const deadline = Date.now() + 30_000;
        while ((await eventsTaken(metrics)) < n) {
          if (Date.now() > deadline) throw new Error(`the agent did not take ${n} lines:\n${output.text()}`);
          await Bun.sleep(50);
        }
      };
      await atLeast(1000);
      // The agent is held (SIGSTOP) across each rotation, so it has lines still to read in the old file when it goes on.
      agent.kill("SIGSTOP");
      await logrotate(log, "create", dir, writer.pid);
      await Bun.sleep(100);
      agent.kill("SIGCONT");
      await atLeast(2500);
      agent.kill("SIGSTOP");
      await Bun.sleep(100);
      writer.pause();
      await logrotate(log, "copytruncate", dir);
      writer.resume();
      agent.kill("SIGCONT");
      await atLeast(4000);
      writer.pause();
      const last = lineNumber(readFileSync(log, "utf8").trimEnd().split("\n").at(-1)!);
      await atLeast(last);
      truncateSync(log, 0);
      writer.resume();
      expect(await writer.exited).toBe(0);
      await atLeast(count);
      const alerts = await server.waitFor(
        "/api/v1/incidents?status=all&limit=500",
        (body) => body.incidents.length === count / 100 && body.incidents.every((incident: any) => incident.status === "resolved") && body.incidents,
        30_000,
      );
      expect(alerts.map((incident: any) => incident.labels.line).sort()).toEqual(Array.from({ length: count / 100 }, (_, i) => String((i + 1) * 100).padStart(7, "0")));
      expect(alerts.every((incident: any) => incident.labels.alertname === "HundredthLine")).toBe(true);
      await Bun.sleep(300);
      expect(await eventsTaken(metrics)).toBe(count);
      const text = await (await fetch(metrics)).text();
      expect(text).toMatch(/^opskit_agent_alerts_raised_total\{rule="hundredth",status="firing"\} 60$/m);
      expect(text).toMatch(/^opskit_agent_files_copies_continued_total\{source="app"\} 1$/m);
      agent.kill("SIGTERM");
      expect(await agent.exited).toBe(0);
    } finally {
      writer.kill();
      if (agent.exitCode === null) {
        agent.kill("SIGCONT");
        agent.kill("SIGKILL");
      }
      await server.stop();
    }
  }, 120_000);
});
