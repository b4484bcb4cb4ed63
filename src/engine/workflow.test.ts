import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { workflowSchema } from "../config/schema.ts";
import type { RunEvent } from "./events.ts";
import { compileWorkflow, executeRun, type RunTarget } from "./workflow.ts";

const targets: RunTarget[] = Array.from({ length: 6 }, (_, i) => ({
  name: `h${i + 1}`,
  address: `10.0.0.${i + 1}`,
  port: 22,
  user: "ops",
  labels: { canary: i === 0 ? "true" : "false" },
  vars: {},
  groups: [],
}));

async function run(definition: z.input<typeof workflowSchema>, options: { vars?: Record<string, unknown>; abortAfterMs?: number; released?: string[] } = {}) {
  const workflow = workflowSchema.parse(definition);
  const compiled = await compileWorkflow(workflow, { name: "t", baseDir: process.cwd(), defaultTimeoutMs: 10_000, where: (p) => p.join(".") });
  const events: RunEvent[] = [];
  const controller = new AbortController();
  if (options.abortAfterMs !== undefined) setTimeout(() => controller.abort(), options.abortAfterMs);
  const outcome = await executeRun({
    runId: "r1",
    kind: "workflow",
    name: "t",
    compiled,
    targets,
    vars: options.vars ?? {},
    connect: () => Promise.reject(new Error("no remote targets in this test")),
    baseDir: process.cwd(),
    maxOutputBytes: 4096,
    stream: false,
    signal: controller.signal,
    hardSignal: new AbortController().signal,
    emit: (event) => events.push(event),
    ...(options.released ? { release: (target: RunTarget) => options.released!.push(target.name) } : {}),
  });
  const steps = events.filter((e): e is Extract<RunEvent, { type: "step.finished" }> => e.type === "step.finished");
  return { outcome, events, steps };
}

describe("executeRun", () => {
  test("runs every step on every target and registers results for later steps", async () => {
    const { outcome, steps } = await run({
      steps: [
        { name: "greet", exec: "echo hello-{{ target.name }}" },
        { name: "use", exec: 'test "{{ steps.greet.stdout.trim() }}" = "hello-{{ target.name }}"' },
      ],
    });
    expect(outcome.status).toBe("succeeded");
    expect(outcome.counts).toMatchObject({ targets: 6, changed: 6, failed: 0 });
    expect(steps.filter((s) => s.name === "use" && s.status === "changed")).toHaveLength(6);
  });

  test("a rolling run stops after maxFailures and rolls back only the targets that changed", async () => {
    const { outcome, events, steps } = await run({
      strategy: { rolling: { batch: [1, 2, 3], maxFailures: 0 } },
      hooks: { rollback: [{ name: "undo", exec: "echo undo {{ target.name }}" }] },
      steps: [
        { name: "change", exec: 'test "{{ target.name }}" != h3' },
      ],
    });
    // Batch 1: h1 ok. Batch 2: h2 ok, h3 fails: the budget (0) is spent, batch 3 never starts.
    expect(outcome.status).toBe("failed");
    expect(outcome.counts).toMatchObject({ failed: 1, notStarted: 3, rolledBack: 2 });
    expect(events.filter((e) => e.type === "batch.started")).toHaveLength(2);
    const undone = steps.filter((s) => s.phase === "rollback").map((s) => s.target).sort();
    expect(undone).toEqual(["h1", "h2"]);
    expect(outcome.targets.get("h4")?.status).toBe("pending");
  });

  test("each target's connection is released once after its steps and hooks, never before a rollback it may owe", async () => {
    const plain: string[] = [];
    const { events } = await run({ hooks: { post: [{ name: "after", exec: "true" }] }, steps: [{ name: "one", exec: "true" }] }, { released: plain });
    expect(plain.sort()).toEqual(targets.map((t) => t.name));
    const finished = events.filter((e) => e.type === "target.finished");
    expect(finished).toHaveLength(6);

    const released: string[] = [];
    const { steps } = await run(
      {
        strategy: { rolling: { batch: [1, 2, 3], maxFailures: 0 } },
        hooks: { rollback: [{ name: "undo", exec: "true" }] },
        steps: [{ name: "change", exec: 'test "{{ target.name }}" != h3' }],
      },
      { released },
    );
    // h3 failed without changing: released at once. h1 and h2 changed: kept for the rollback, released after it. h4-h6 never started.
    expect(released.slice(0, 1)).toEqual(["h3"]);
    expect(released.slice(1).sort()).toEqual(["h1", "h2"]);
    expect(steps.filter((s) => s.phase === "rollback")).toHaveLength(2);
  });

  test("when skips a step; continueOnError keeps going; on_failure runs for the failed target only", async () => {
    const { outcome, steps } = await run({
      hooks: { on_failure: [{ name: "alert", exec: "true" }] },
      steps: [
        { name: "canary-only", exec: "true", when: 'target.labels.canary == "true"' },
        { name: "flaky", exec: "false", continueOnError: true },
        { name: "last", exec: 'test "{{ target.name }}" != h2' },
      ],
    });
    expect(steps.filter((s) => s.name === "canary-only" && s.status === "skipped")).toHaveLength(5);
    expect(steps.filter((s) => s.name === "flaky" && s.status === "failed")).toHaveLength(6);
    expect(steps.filter((s) => s.phase === "on_failure").map((s) => s.target)).toEqual(["h2"]);
    expect(outcome.counts.failed).toBe(1);
  });

  test("retries run a failing step again with backoff and keep the attempt count", async () => {
    const marker = `/tmp/opskit-retry-${process.pid}-${Date.now()}`;
    const { steps } = await run({
      strategy: { parallel: { concurrency: 1 } },
      steps: [{ name: "eventually", exec: `n=$(cat ${marker}-{{ target.name }} 2>/dev/null || echo 0); echo $((n+1)) > ${marker}-{{ target.name }}; test $n -ge 2`, retries: { attempts: 3, backoff: "10ms" } }],
    });
    expect(steps.every((s) => s.attempts === 3 && s.status === "changed")).toBe(true);
  });

  test("vars with hostile text reach the command as literal text", async () => {
    const hostile = "$(touch /tmp/pwned); `id`; 'q' \"dq\"\nline2";
    const { steps } = await run({ steps: [{ name: "echo", exec: "printf %s {{ vars.msg }}" }] }, { vars: { msg: hostile } });
    expect(steps.every((s) => s.result.stdout === hostile)).toBe(true);
  });

  test("a sink that fails while the run is being aborted does not throw into whoever aborts; the run still ends", async () => {
    const compiled = await compileWorkflow(workflowSchema.parse({ steps: [{ exec: "sleep 20" }] }), { name: "t", baseDir: process.cwd(), defaultTimeoutMs: 10_000, where: (p) => p.join(".") });
    const controller = new AbortController();
    const gone = new Error("the journal is unavailable");
    let stepStarted!: () => void;
    const started = new Promise<void>((resolve) => (stepStarted = resolve));
    const running = executeRun({
      runId: "r-abort",
      kind: "workflow",
      name: "t",
      compiled,
      targets: targets.slice(0, 1).map((t) => ({ ...t, name: "local", address: "localhost" })),
      vars: {},
      connect: () => Promise.reject(new Error("no remote targets in this test")),
      baseDir: process.cwd(),
      maxOutputBytes: 4096,
      stream: false,
      signal: controller.signal,
      hardSignal: new AbortController().signal,
      emit: (event) => {
        if (event.type === "step.started") stepStarted();
        // As the journal sink does once a write failed: every later emit throws.
        if (event.type === "run.stopping") throw gone;
      },
    }).then(
      (outcome) => ({ outcome }),
      (error: unknown) => ({ error }),
    );
    await started;
    expect(() => controller.abort()).not.toThrow();
    const ended = await running;
    // Either the run ends interrupted or with the sink's failure; it never hangs and never escapes into abort().
    if ("outcome" in ended) expect(ended.outcome.status).toBe("interrupted");
    else expect(ended.error).toBe(gone);
  });

  test("an interrupt cancels in-flight steps and starts nothing new", async () => {
    const started = performance.now();
    const { outcome } = await run({ strategy: { parallel: { concurrency: 2 } }, steps: [{ exec: "sleep 20" }] }, { abortAfterMs: 300 });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(outcome.status).toBe("interrupted");
    expect(outcome.counts.notStarted).toBe(4);
    expect(outcome.counts.failed).toBe(2);
  });
});
