import { describe, expect, test } from "bun:test";
import type { RunEvent } from "../engine/index.ts";
import { LiveOutput } from "./live-output.ts";

const started = (runId: string, target: string, index: number, phase: "main" | "rollback" = "main") =>
  ({ type: "step.started", runId, target, phase, index, name: `s${index}`, action: "exec", description: "exec", spanId: "0000000000000001" }) as unknown as RunEvent;
const output = (runId: string, target: string, text: string, stream: "stdout" | "stderr" = "stdout") => ({ type: "step.output", runId, target, step: "s", stream, text }) as RunEvent;
const finished = (runId: string, target: string, index: number) =>
  ({ type: "step.finished", runId, target, phase: "main", index, name: `s${index}`, action: "exec", description: "exec", status: "ok", attempts: 1, result: {}, startedAt: "" }) as unknown as RunEvent;

describe("LiveOutput", () => {
  test("output goes to the step its target last started, per stream, with the offset of each chunk in its stream", () => {
    const live = new LiveOutput();
    live.apply(started("r", "web-1", 0));
    live.apply(started("r", "web-2", 0));
    expect(live.apply(output("r", "web-1", "a\n"))).toEqual({ phase: "main", index: 0, offset: 0 });
    expect(live.apply(output("r", "web-1", "b\n"))).toEqual({ phase: "main", index: 0, offset: 2 });
    live.apply(output("r", "web-2", "other"));
    live.apply(output("r", "web-1", "oops", "stderr"));
    live.apply(finished("r", "web-1", 0));
    live.apply(started("r", "web-1", 1));
    expect(live.apply(output("r", "web-1", "second"))).toEqual({ phase: "main", index: 1, offset: 0 });
    expect(live.read("r", "web-1", "main", 0)).toEqual({ stdout: "a\nb\n", stderr: "oops", dropped: { stdout: 0, stderr: 0 }, finished: true });
    expect(live.read("r", "web-1", "main", 1)).toEqual({ stdout: "second", stderr: "", dropped: { stdout: 0, stderr: 0 }, finished: false });
    expect(live.read("r", "web-2", "main", 0)?.stdout).toBe("other");
    expect(live.read("r", "web-3", "main", 0)).toBeUndefined();
    // Output of a target no step started on has nowhere to go.
    expect(live.apply(output("r", "web-9", "x"))).toBeUndefined();
    expect(live.total).toBe("a\nb\noopssecondother".length);
  });

  test("a stream keeps its last characters within the limit and counts what it cut; offsets go on counting", () => {
    const live = new LiveOutput({ stream: 10, total: 1000 });
    live.apply(started("r", "t", 0));
    for (const chunk of ["0123456", "789ab", "cdefghijkl"]) live.apply(output("r", "t", chunk));
    expect(live.read("r", "t", "main", 0)).toEqual({ stdout: "cdefghijkl", stderr: "", dropped: { stdout: 12, stderr: 0 }, finished: false });
    expect(live.apply(output("r", "t", "m"))).toEqual({ phase: "main", index: 0, offset: 22 });
    expect(live.total).toBe(10);
  });

  test("over the total, finished steps go first, then running ones are cut to a share; the total never stays above the bound", () => {
    const live = new LiveOutput({ stream: 1 << 20, total: 300_000 });
    live.apply(started("r", "done", 0));
    live.apply(output("r", "done", "d".repeat(100_000)));
    live.apply(finished("r", "done", 0));
    live.apply(started("r", "a", 0));
    live.apply(started("r", "b", 0));
    live.apply(output("r", "a", "a".repeat(150_000)));
    live.apply(output("r", "b", "b".repeat(100_000)));
    expect(live.read("r", "done", "main", 0)).toBeUndefined();
    expect(live.total).toBe(250_000);
    live.apply(output("r", "b", "b".repeat(200_000)));
    expect(live.total).toBeLessThanOrEqual(300_000);
    const b = live.read("r", "b", "main", 0)!;
    expect(b.stdout.length + b.dropped.stdout).toBe(300_000);
    expect(b.stdout.length).toBeGreaterThanOrEqual(64 * 1024);
  });

  test("a run's output is dropped a little after the run finishes; clear forgets everything", async () => {
    const live = new LiveOutput({ keptAfterRunMs: 20 });
    live.apply(started("r", "t", 0));
    live.apply(output("r", "t", "x"));
    live.apply(started("q", "t", 0));
    live.apply(output("q", "t", "y"));
    live.apply({ type: "run.finished", runId: "r", status: "succeeded", counts: {} as never, durationMs: 1 } as RunEvent);
    expect(live.read("r", "t", "main", 0)?.stdout).toBe("x");
    while (live.read("r", "t", "main", 0)) await Bun.sleep(5);
    expect(live.total).toBe(1);
    expect(live.read("q", "t", "main", 0)?.stdout).toBe("y");
    live.clear();
    expect(live.read("q", "t", "main", 0)).toBeUndefined();
    expect(live.read("r", "t", "main", 0)).toBeUndefined();
    expect(live.total).toBe(0);
  });
});
