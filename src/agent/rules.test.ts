import { describe, expect, test } from "bun:test";
import { isOpsError } from "../errors.ts";
import { compileAgentRules, RuleEngine, type AgentAlert } from "./rules.ts";
import type { AgentEvent } from "./types.ts";
import { Windows } from "./windows.ts";

type RuleInit = { name: string; when: string; labels?: Record<string, string>; annotations?: Record<string, string>; resolveAfter?: string };
const where = (index: number, ...path: (string | number)[]) => `opskit.yaml:${10 + index}:${path.length + 3}`;

async function engineFor(rules: RuleInit[], options: { sources?: string[]; maxFiring?: number } = {}) {
  const compiled = await compileAgentRules(
    rules.map((r) => ({ labels: {}, annotations: {}, ...r })),
    where,
    options.sources ?? ["kernel", "app"],
    300_000,
  );
  const raised: AgentAlert[] = [];
  const errors: string[] = [];
  const suppressed: string[] = [];
  const windows = new Windows(300);
  const engine = new RuleEngine(compiled.rules, compiled.clock, windows, {
    raise: (alert) => raised.push(alert),
    onError: (rule, message) => errors.push(`${rule}: ${message}`),
    onSuppressed: (rule) => suppressed.push(rule),
    defaultLabels: { instance: "edge-1" },
    ...(options.maxFiring !== undefined ? { maxFiring: options.maxFiring } : {}),
  });
  const feed = (event: AgentEvent, nowMs = event.time) => {
    windows.add(event, event.comm, nowMs);
    engine.onEvent(event, nowMs);
  };
  return { engine, raised, errors, suppressed, feed, rules: compiled.rules };
}

const kernel = (kind: string, comm: string, time: number, fields: AgentEvent["fields"] = {}): AgentEvent => ({ source: "kernel", kind, time, pid: 4242, comm, fields });
const log = (message: string, time: number, fields: AgentEvent["fields"] = {}): AgentEvent => ({ source: "app", kind: "log", time, message, fields: { file: "/var/log/app.log", ...fields } });

async function compileError(rules: RuleInit[]): Promise<string> {
  try {
    await engineFor(rules);
  } catch (error) {
    if (isOpsError(error)) return `${error.message}\n${error.hint ?? ""}`;
    throw error;
  }
  throw new Error("compiled");
}

describe("agent rules", () => {
  test("a rule over events raises one alert per label set, templated as data, and resolves it resolveAfter past its last match", async () => {
    const { engine, raised, feed } = await engineFor([{ name: "oom", when: 'event.kind == "oom"', labels: { severity: "page", process: "{{ event.comm }}" }, annotations: { summary: "{{ event.comm }} ({{ event.pid }}) was killed" }, resolveAfter: "30s" }]);
    const t0 = 1_700_000_000_000;
    // Hostile process names stay what they are: text in a label, never template or CEL.
    const hostile = `x"}} {{ event.pid }} $(reboot) \`id\``;
    feed(kernel("oom", "java", t0));
    feed(kernel("oom", "java", t0 + 5_000));
    feed(kernel("exec", "java", t0 + 6_000));
    feed(kernel("oom", hostile, t0 + 7_000));
    expect(raised.map((a) => [a.status, a.labels.process])).toEqual([
      ["firing", "java"],
      ["firing", hostile],
    ]);
    expect(raised[0]!.labels).toEqual({ severity: "page", process: "java", alertname: "oom", instance: "edge-1" });
    expect(raised[0]!.annotations.summary).toBe("java (4242) was killed");
    expect(raised[1]!.annotations.summary).toBe(`${hostile} (4242) was killed`);
    expect(raised[0]!.startsAt).toBe(t0);
    engine.tick(t0 + 34_000);
    expect(raised).toHaveLength(2);
    // 30s after java's last OOM (t0 + 5s): resolved; the other one 30s after its own.
    engine.tick(t0 + 35_000);
    expect(raised.map((a) => [a.status, a.labels.process])).toEqual([
      ["firing", "java"],
      ["firing", hostile],
      ["resolved", "java"],
    ]);
    expect(raised[2]!.endsAt).toBe(t0 + 35_000);
    engine.tick(t0 + 37_000);
    expect(raised.at(-1)!.status).toBe("resolved");
    expect(engine.firingCount).toBe(0);
  });

  test("a rule reading log sees log records only, with log.message, log.file and the parsed fields", async () => {
    const { raised, errors, feed } = await engineFor([{ name: "oom-log", when: 'log.message.contains("Out of memory") && log.fields.level == "error"', labels: { file: "{{ log.file }}" } }]);
    feed(kernel("exec", "Out of memory", 1000));
    feed(log("kernel: Out of memory: Killed process 1 (x)", 2000, { level: "info" }));
    feed(log("kernel: Out of memory: Killed process 2 (y)\n  at line two", 3000, { level: "error" }));
    expect(raised).toHaveLength(1);
    expect(raised[0]!.labels.file).toBe("/var/log/app.log");
    expect(errors).toEqual([]);
  });

  test("a rule over windows is evaluated each tick, fires while it holds and resolves when it stops (at once by default)", async () => {
    const { engine, raised, feed } = await engineFor([
      { name: "exec-burst", when: 'window("kernel", "exec", "10s") > 3', labels: { alertname: "ExecBurst" } },
      { name: "sshd-rate", when: 'rate("kernel", "sshd", "10s") >= 0.5', resolveAfter: "5s" },
      { name: "quiet", when: 'window("app", "1m") == 0' },
    ]);
    const t0 = 1_700_000_000_000;
    engine.tick(t0);
    expect(raised.map((a) => `${a.rule} ${a.status}`)).toEqual(["quiet firing"]);
    for (let i = 0; i < 5; i++) feed(kernel("exec", "sshd", t0 + i * 100), t0 + 500);
    feed(log("hello", t0 + 500), t0 + 500);
    engine.tick(t0 + 1000);
    expect(raised.map((a) => `${a.rule} ${a.status}`)).toEqual(["quiet firing", "exec-burst firing", "sshd-rate firing", "quiet resolved"]);
    expect(raised[1]!.labels.alertname).toBe("ExecBurst");
    // 10 seconds on the execs are out of the window: exec-burst resolves at once, sshd-rate 5s after its last match (t0 + 9s).
    for (let t = t0 + 2000; t <= t0 + 10_000; t += 1000) engine.tick(t);
    expect(raised.slice(4).map((a) => `${a.rule} ${a.status}`)).toEqual(["exec-burst resolved"]);
    engine.tick(t0 + 13_000);
    expect(raised.slice(4).map((a) => `${a.rule} ${a.status}`)).toEqual(["exec-burst resolved"]);
    engine.tick(t0 + 14_000);
    expect(raised.slice(4).map((a) => `${a.rule} ${a.status}`)).toEqual(["exec-burst resolved", "sshd-rate resolved"]);
  });

  test("a field an event lacks is no match, not an error; a type error is an error", async () => {
    const { raised, errors, feed } = await engineFor([
      { name: "comm", when: 'event.comm == "sshd"' },
      { name: "typed", when: "event.fields.size > 10" },
    ]);
    feed(log("no comm here", 1000));
    feed(kernel("open", "sshd", 2000, { size: "big" }));
    expect(raised.map((a) => a.rule)).toEqual(["comm"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith("typed: ");
  });

  test("alerts firing at once are bounded: past the bound a match is counted, not raised", async () => {
    const { raised, suppressed, feed } = await engineFor([{ name: "per-pid", when: 'event.kind == "exec"', labels: { pid: "{{ event.fields.n }}" } }], { maxFiring: 3 });
    for (let n = 0; n < 5; n++) feed(kernel("exec", "sh", 1000 + n, { n }));
    expect(raised).toHaveLength(3);
    expect(suppressed).toEqual(["per-pid", "per-pid"]);
  });

  test("alerts saved at a stop keep firing and resolve as usual; those of a rule that is gone resolve at once", async () => {
    const { engine, raised } = await engineFor([{ name: "oom", when: 'event.kind == "oom"', resolveAfter: "1m" }]);
    const labels = { alertname: "oom", instance: "edge-1" };
    engine.restore(
      [
        { rule: "oom", labels, annotations: {}, startsAt: 1000, lastMatch: 50_000 },
        { rule: "removed", labels: { alertname: "removed" }, annotations: {}, startsAt: 1000, lastMatch: 50_000 },
      ],
      60_000,
    );
    expect(raised.map((a) => `${a.rule} ${a.status}`)).toEqual(["removed resolved"]);
    engine.tick(100_000);
    expect(raised).toHaveLength(1);
    engine.tick(110_000);
    expect(raised.map((a) => `${a.rule} ${a.status}`)).toEqual(["removed resolved", "oom resolved"]);
  });

  test("compile errors point at the rule's file:line:col and say how to fix them", async () => {
    expect(await compileError([{ name: "a", when: 'event.kind == "oom" &&' }])).toContain("opskit.yaml:10:4: agent.rules[0].when: invalid expression");
    expect(await compileError([{ name: "a", when: 'evnt.kind == "oom"' }])).toContain('unknown name "evnt"');
    expect(await compileError([{ name: "a", when: 'window("nginx", "1m") > 1' }])).toContain('opskit.yaml:10:4: agent.rules[0].when: window("nginx", ...) names no configured source\nconfigured sources: kernel, app');
    expect(await compileError([{ name: "a", when: 'window("kernel", "10m") > 1' }])).toContain("looks back 10m, past agent.windows (300s kept)");
    expect(await compileError([{ name: "a", when: 'rate("kernel", "soon") > 1' }])).toContain('rate(): "soon" is not a duration');
    expect(await compileError([{ name: "a", when: 'window("kernel", "a", "b", "1m") > 1' }])).toContain("window() takes 2 or 3 arguments, not 4");
    expect(await compileError([{ name: "a", when: 'window("kernel", "1m") > 1', labels: { comm: "{{ event.comm }}" } }])).toContain("opskit.yaml:10:5: agent.rules[0].labels.comm: a rule over windows has no event to template from");
    expect(await compileError([{ name: "a", when: 'event.kind == "oom"', labels: { x: "{{ log.message }}" } }])).toContain('unknown name "log"');
    expect(await compileError([{ name: "a", when: "true" }, { name: "a", when: "false" }])).toContain('opskit.yaml:11:4: agent rule "a" is already defined at opskit.yaml:10:4');
  });
});
