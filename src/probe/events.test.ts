import { expect, test } from "bun:test";
import { ProbeCounter, worseExit } from "./events.ts";
import type { ProbeResult, Verdict } from "./types.ts";

const exitOf: Record<Verdict, number> = { healthy: 0, down: 1, unhealthy: 2, interrupted: 130 };
const result = (verdict: Verdict) => ({ verdict, exitCode: exitOf[verdict] }) as ProbeResult;

test("the worst exit code wins: interrupted, then unreachable, then unhealthy, then ok", () => {
  expect([0, 2, 1].reduce(worseExit)).toBe(1);
  expect([0, 2].reduce(worseExit)).toBe(2);
  expect([1, 130, 2].reduce(worseExit)).toBe(130);
  expect([0, 0].reduce(worseExit)).toBe(0);
});

test("the counter tallies results by verdict and counts what never ran as not started", () => {
  const counter = new ProbeCounter(5);
  for (const verdict of ["healthy", "unhealthy", "healthy", "down"] as const) counter.count(result(verdict));
  expect(counter.tally).toMatchObject({ targets: 5, healthy: 2, unhealthy: 1, down: 1, exitCode: 1 });
  const tally = counter.finish(false);
  expect(tally).toMatchObject({ notStarted: 1, exitCode: 130 });
  expect(tally.durationMs).toBeGreaterThanOrEqual(0);
});

test("a run aborted after every result is in still exits 130; a complete run keeps its worst code", () => {
  const aborted = new ProbeCounter(1);
  aborted.count(result("healthy"));
  expect(aborted.finish(true)).toMatchObject({ notStarted: 0, exitCode: 130 });
  const complete = new ProbeCounter(2);
  complete.count(result("healthy"));
  complete.count(result("unhealthy"));
  expect(complete.finish(false)).toMatchObject({ notStarted: 0, exitCode: 2 });
});
