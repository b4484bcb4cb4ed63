// opskit agent's log sources alone: how many lines a second the files source
// reads (single lines, and multi-line records), how many entries a second the
// journald source takes from journalctl, and the files source's tail latency
// (a line written by another process → the event emitted) at a steady rate.
// The source's context takes every event at once (no rules), so this is the
// source's own cost.
// Run: flock /tmp/bench.lock bun bench/agent-logs.ts
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { filesSource } from "../src/agent/sources/files.ts";
import { journaldSource } from "../src/agent/sources/journald.ts";
import type { AgentEvent, SourceContext } from "../src/agent/types.ts";
import { createSchemaKit } from "../src/schema/index.ts";
import { startJournalWriter, waitForJournal } from "../test/harness/journal.ts";

const kit = createSchemaKit(z);
const dir = mkdtempSync(join(tmpdir(), "opskit-bench-logs-"));

function context(name: string, onEvent: (event: AgentEvent) => void): SourceContext {
  return {
    name,
    stateDir: join(dir, "state", name),
    emit: (event) => (onEvent(event), true),
    drained: async () => undefined,
    signal: new AbortController().signal,
    warn: (message) => console.error(`warn: ${message}`),
    counters: { inc: () => undefined },
  };
}

/** A syslog-like line of about 120 bytes. */
const line = (i: number) => `2026-12-06T17:00:${String(i % 60).padStart(2, "0")}.123456+00:00 web-7 nginx[4242]: 192.0.2.${i % 250} - - "GET /api/v1/items/${i} HTTP/1.1" 200 512\n`;

async function throughput(label: string, lines: number, multiline: boolean): Promise<void> {
  const file = join(dir, `${label}.log`);
  const fd = openSync(file, "w");
  const batch: string[] = [];
  let bytes = 0;
  for (let i = 0; i < lines; i++) {
    // With multiline: every fourth line is a continuation ("  at ...") of the record before.
    const text = multiline && i % 4 !== 0 ? `  at frame ${i} (app.js:${i % 1000})\n` : line(i);
    batch.push(text);
    bytes += Buffer.byteLength(text);
    if (batch.length === 10_000) writeSync(fd, batch.splice(0).join(""));
  }
  writeSync(fd, batch.join(""));
  closeSync(fd);
  const expected = multiline ? lines / 4 : lines;
  let seen = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const spec = filesSource.schema(kit).parse({ paths: [file], ...(multiline ? { multiline: { start: "^\\d{4}-", timeout: "100ms" } } : {}) });
  const source = await filesSource.start(spec, context(label, () => ++seen === expected && done()));
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await source.stop();
  console.log(`${label}: ${lines.toLocaleString("en")} lines (${(bytes / 1e6).toFixed(0)} MB), ${expected.toLocaleString("en")} records in ${seconds.toFixed(2)} s: ${Math.round(lines / seconds).toLocaleString("en")} lines/s, ${(bytes / 1e6 / seconds).toFixed(0)} MB/s, CPU ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)}% of a core`);
}

/** Wall-clock time in ms with sub-ms precision, comparable across processes (Bun's process.hrtime counts from each process's start). */
const wallMs = () => performance.timeOrigin + performance.now();

/** A writer process appends lines carrying its wall-clock time at `rate` a second; the source emits them; latency = emit time − write time. */
async function latency(rate: number, seconds: number): Promise<void> {
  const file = join(dir, `latency-${rate}.log`);
  closeSync(openSync(file, "w"));
  const latencies: number[] = [];
  const source = await filesSource.start(filesSource.schema(kit).parse({ paths: [file] }), context(`latency-${rate}`, (event) => latencies.push(wallMs() - Number(event.message!.split(" ")[0]!))));
  const count = rate * seconds;
  const writer = `
    const fd = require("node:fs").openSync(${JSON.stringify(file)}, "a");
    const every = 1000 / ${rate};
    const start = performance.now();
    for (let i = 0; i < ${count}; i++) {
      const due = start + i * every;
      const wait = due - performance.now();
      if (wait > 1) await Bun.sleep(wait);
      require("node:fs").writeSync(fd, (performance.timeOrigin + performance.now()).toFixed(3) + " line " + i + " ${"x".repeat(80)}\\n");
    }`;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const child = Bun.spawn([process.execPath, "-e", writer], { stdout: "inherit", stderr: "inherit" });
  await child.exited;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuShare = ((cpu.user + cpu.system) / 1000 / (performance.now() - started)) * 100;
  const deadline = Date.now() + 10_000;
  while (latencies.length < count && Date.now() < deadline) await Bun.sleep(20);
  await source.stop();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2);
  console.log(`tail latency at ${rate} lines/s for ${seconds} s (${latencies.length}/${count} lines): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${latencies.at(-1)!.toFixed(2)} ms; this process's CPU ${cpuShare.toFixed(1)}% of a core`);
}

async function journald(entries: number): Promise<void> {
  const journal = join(dir, "journal");
  mkdirSync(journal, { recursive: true });
  const writer = startJournalWriter(journal);
  for (let i = 0; i < entries; i += 10_000) {
    await writer.write(Array.from({ length: Math.min(10_000, entries - i) }, (_, j) => ({ _SYSTEMD_UNIT: "nginx.service", _PID: "4242", _COMM: "nginx", PRIORITY: "6", MESSAGE: line(i + j).trimEnd() })));
  }
  await writer.close();
  await waitForJournal(journal, entries);
  let seen = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const source = await journaldSource.start(journaldSource.schema(kit).parse({ directory: journal, startAt: "beginning" }), context("journald", () => ++seen === entries && done()));
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await source.stop();
  console.log(`journald: ${entries.toLocaleString("en")} entries through journalctl --output=json in ${seconds.toFixed(2)} s: ${Math.round(entries / seconds).toLocaleString("en")} entries/s`);
}

try {
  console.log(`bun ${Bun.version}, ${navigator.hardwareConcurrency} cores`);
  await throughput("files", 2_000_000, false);
  await throughput("files-multiline", 2_000_000, true);
  await latency(1000, 10);
  await latency(10_000, 5);
  await journald(200_000);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
