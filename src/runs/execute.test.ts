import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadTestConfig } from "../../test/harness/config.ts";
import type { LoadedConfig } from "../config/index.ts";
import type { RunEvent } from "../engine/index.ts";
import { newRunId, openJournal, type Journal } from "../journal/index.ts";
import { registerSecret } from "../observe/index.ts";
import { prepareWorkflow, startJournaledRun, type ApplyShadow, type RunNote } from "./index.ts";

let loaded: LoadedConfig;
let journal: Journal;
let remove: () => void;

beforeAll(async () => {
  let dir: string;
  ({ dir, loaded, remove } = await loadTestConfig(`workflows:
  hello:
    targets: local
    vars: { who: world }
    steps:
      - name: greet
        ssh: echo hello {{ vars.who }}
  shadowed:
    targets: local
    shadow: { legacy: "echo old" }
    steps:
      - name: greet
        exec: echo new
`));
  journal = await openJournal(join(dir, "journal.db"));
});

afterAll(async () => {
  await journal.close();
  remove();
});

describe("startJournaledRun", () => {
  test("records the run in the journal, from its start to its end, before it resolves", async () => {
    const prepared = await prepareWorkflow(loaded, { name: "hello" });
    const run = await startJournaledRun(prepared, { journal });
    expect(run.status).toBe("succeeded");
    expect(run.counts.changed).toBe(1);
    const found = await journal.getRun(run.runId);
    expect(found?.run).toMatchObject({ id: run.runId, kind: "workflow", name: "hello", status: "succeeded", params: { workflow: "hello", vars: { who: "world" } } });
    expect(found?.steps.map((s) => [s.target, s.name, s.status, s.stdout])).toEqual([["local", "greet", "changed", "hello world\n"]]);
    expect((await journal.events(run.runId)).map((e) => e.type)).toEqual(["run.started", "batch.started", "target.started", "step.started", "step.finished", "target.finished", "run.finished"]);
  });

  test("the caller's sinks see every event in order, secrets masked, under the run id it chose", async () => {
    const secret = `s3cr3t-${newRunId()}`;
    registerSecret(secret);
    const prepared = await prepareWorkflow(loaded, { name: "hello", vars: { who: secret } });
    const seen: RunEvent[] = [];
    const runId = newRunId();
    const run = await startJournaledRun(prepared, { journal, runId, sinks: [(event) => seen.push(event)] });
    expect(run.runId).toBe(runId);
    expect(seen.map((e) => e.type)).toEqual(["run.started", "batch.started", "target.started", "step.started", "step.finished", "target.finished", "run.finished"]);
    expect(seen.every((e) => e.runId === runId)).toBe(true);
    expect(JSON.stringify(seen)).not.toContain(secret);
    expect(JSON.stringify((await journal.getRun(runId))?.steps)).not.toContain(secret);
  });

  test("a run that continues an earlier one records it as resumedFrom and does not run its finished steps again", async () => {
    const prepared = await prepareWorkflow(loaded, { name: "hello" });
    const first = await startJournaledRun(prepared, { journal });
    const { priorProgress } = await import("../engine/index.ts");
    const progress = await priorProgress(journal, first.runId);
    const seen: RunEvent[] = [];
    const second = await startJournaledRun(prepared, { journal, progress, sinks: [(event) => seen.push(event)] });
    expect((await journal.getRun(second.runId))?.run.resumedFrom).toBe(first.runId);
    expect(seen.find((e) => e.type === "step.finished")).toMatchObject({ resumedFrom: first.runId });
  });

  test("a workflow's shadow declaration applies only through the shadowing the caller hands in, with its notes before and after", async () => {
    const prepared = await prepareWorkflow(loaded, { name: "shadowed" });
    const calls: string[] = [];
    const shadow: ApplyShadow = (compiled, options) => {
      calls.push(`apply ${options.name} ${options.runId}`);
      return { compiled, notes: [{ type: "shadow", message: "before" }], finish: () => [{ type: "shadow", message: "after" }] };
    };
    const notes: RunNote[] = [];
    const run = await startJournaledRun(prepared, { journal, shadow, onNote: (note) => notes.push(note), sinks: [(event) => calls.push(event.type)] });
    expect(calls[0]).toBe(`apply shadowed ${run.runId}`);
    expect(notes.map((n) => n.message)).toEqual(["before", "after"]);
    const plain = await startJournaledRun(await prepareWorkflow(loaded, { name: "hello" }), { journal, shadow, onNote: (note) => notes.push(note) });
    expect(plain.status).toBe("succeeded");
    expect(calls.filter((c) => c.startsWith("apply"))).toHaveLength(1);
    expect(notes).toHaveLength(2);
  });

  test("connections handed in stay open for the caller's next run", async () => {
    const prepared = await prepareWorkflow(loaded, { name: "hello" });
    let closed = 0;
    let connected = 0;
    let released = 0;
    const { openRunRemotes } = await import("./index.ts");
    const real = await openRunRemotes(prepared);
    const remotes = {
      connect: (target: string, signal: AbortSignal) => {
        connected++;
        return real.connect(target, signal);
      },
      release: () => {
        released++;
      },
      close: async () => {
        closed++;
      },
    };
    await startJournaledRun(prepared, { journal, remotes });
    await startJournaledRun(prepared, { journal, remotes });
    expect(connected).toBe(2);
    expect(closed).toBe(0);
    expect(released).toBe(0);
  });
});
