import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProbeEvent, ProbeResult, ProbeTally } from "../../probe/index.ts";
import { LineWriter } from "../../ui/index.ts";
import { jsonSink, junitSink, terminalSink } from "./sinks.ts";

const at = Date.parse("2026-01-02T03:04:05.000Z");
const result = (name: string, verdict: ProbeResult["verdict"], extra: Partial<ProbeResult> = {}): ProbeResult => ({
  target: `http://${name}/`, name, kind: "http", labels: {}, verdict, exitCode: verdict === "healthy" ? 0 : 2,
  timings: { total: 1.23456789 }, expectations: [], attempts: [{ attempt: 1, startedAt: "", verdict, exitCode: 0, timings: { total: 1 } }], startedAt: "s",
  ...extra,
});
const tally: ProbeTally = { targets: 3, healthy: 1, unhealthy: 1, down: 0, interrupted: 1, notStarted: 0, durationMs: 12.3456789, exitCode: 130 };
const healthy = result("a", "healthy", { status: 200 });
const events: ProbeEvent[] = [
  { type: "probe.result", at, result: healthy },
  { type: "probe.result", at, result: result("b", "unhealthy", { status: 503, reason: "status 503" }) },
  { type: "probe.result", at, result: result("c", "interrupted") },
  { type: "probe.finished", at, tally },
];

function collect(): { out: LineWriter; lines: string[] } {
  const lines: string[] = [];
  return { out: new LineWriter((text) => lines.push(...text.split("\n"))), lines };
}

test("--json keeps its line types and fields: a result line per finished target, then the summary, each stamped with at", () => {
  const { out, lines } = collect();
  const sink = jsonSink(out);
  for (const event of events) sink(event);
  out.flush();
  const parsed = lines.map((line) => JSON.parse(line));
  expect(parsed.map((line) => [line.type, line.name ?? null])).toEqual([["result", "a"], ["result", "b"], ["summary", null]]);
  expect(Object.keys(parsed[0])).toEqual(["at", "type", ...Object.keys(healthy)]);
  expect(parsed[0]).toMatchObject({ at: "2026-01-02T03:04:05.000Z", status: 200, timings: { total: 1.235 } });
  expect(parsed[2]).toEqual({ at: "2026-01-02T03:04:05.000Z", type: "summary", ...tally, durationMs: 12.346 });
});

test("the terminal sink prints each finished target, repeats failures, and ends with the summary", () => {
  const { out, lines } = collect();
  const sink = terminalSink(out, { quiet: false, nameWidth: 1, terminal: false });
  for (const event of events) sink(event);
  out.flush();
  expect(lines[0]).toStartWith("HEALTHY     a 200");
  expect(lines[1]).toStartWith("UNHEALTHY   b 503");
  expect(lines.slice(2)).toEqual(["", "failures:", "  b: status 503", "3 targets: 1 healthy, 1 unhealthy, 0 down, 1 interrupted in 12ms"]);
});

test("the JUnit sink writes its report when the run finishes, and drained() reports a failed write", async () => {
  const dir = await mkdtemp(join(tmpdir(), "opskit-junit-"));
  try {
    const file = join(dir, "nested", "report.xml");
    const sink = junitSink(file);
    for (const event of events) sink(event);
    await sink.drained();
    const xml = await Bun.file(file).text();
    expect(xml).toContain('tests="2" failures="1" errors="0"');
    const blocked = junitSink(join(file, "under-a-file.xml"));
    for (const event of events) blocked(event);
    expect(blocked.drained()).rejects.toThrow();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
