import type { AgentRule } from "../config/index.ts";
import { configError, isOpsError } from "../errors.ts";
import { compileExpression, compileTemplate, functionCalls, type ExprFunction, type Expression, type Template } from "../expr/index.ts";
import { parseDuration } from "../time/index.ts";
import type { AgentEvent } from "./types.ts";
import type { Windows } from "./windows.ts";

/** One notice about an alert, as the agent raises it and the server's generic endpoint takes it. */
export interface AgentAlert {
  rule: string;
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Epoch ms. */
  startsAt: number;
  endsAt?: number;
  /** When the agent raised this notice: delivery latency counts from here. */
  raisedAt: number;
}

/** The body of POST /api/v1/alerts for one alert (opskit serve derives the fingerprint from the labels). */
export function alertPayload(alert: AgentAlert): Record<string, unknown> {
  return {
    labels: alert.labels,
    annotations: alert.annotations,
    status: alert.status,
    startsAt: new Date(alert.startsAt).toISOString(),
    ...(alert.endsAt !== undefined ? { endsAt: new Date(alert.endsAt).toISOString() } : {}),
  };
}

/** What a rule's `when` is evaluated over: each event, each log record, or the windows once a second. */
export type RuleInput = "events" | "logs" | "windows";

export interface CompiledAgentRule {
  name: string;
  input: RuleInput;
  when: Expression;
  labels: [string, Template][];
  annotations: [string, Template][];
  resolveAfterMs: number;
}

/** What window() and rate() read: the engine points it at its windows and the time before each evaluation. */
export interface WindowClock {
  windows: Windows | undefined;
  nowMs: number;
}

const WINDOW_FUNCTIONS = ["window", "rate"] as const;
/** A rule over events resolves this long after its last match unless it says otherwise. */
const DEFAULT_RESOLVE_AFTER_MS = 5 * 60_000;

/** window(source, [key,] duration) and rate(...), bound to a clock; durations are parsed once each. */
function windowFunctions(clock: WindowClock): ExprFunction[] {
  const parsed = new Map<string, number>();
  const ms = (text: string) => {
    let value = parsed.get(text);
    if (value === undefined) {
      value = parseDuration(text, "window duration");
      if (parsed.size < 1000) parsed.set(text, value);
    }
    return value;
  };
  const count = (source: string, key: string | undefined, duration: string) => clock.windows?.count(source, key, ms(duration), clock.nowMs) ?? 0;
  const rate = (source: string, key: string | undefined, duration: string) => clock.windows?.rate(source, key, ms(duration), clock.nowMs) ?? 0;
  return [
    { name: "window", args: ["string", "string"], result: "int", call: (s, d) => count(String(s), undefined, String(d)) },
    { name: "window", args: ["string", "string", "string"], result: "int", call: (s, k, d) => count(String(s), String(k), String(d)) },
    { name: "rate", args: ["string", "string"], result: "double", call: (s, d) => rate(String(s), undefined, String(d)) },
    { name: "rate", args: ["string", "string", "string"], result: "double", call: (s, k, d) => rate(String(s), String(k), String(d)) },
  ];
}

/**
 * Compiles the agent's rules once, at load: each `when` (CEL, with window()
 * and rate()), the constant arguments of its window calls (a source that is
 * not configured, a duration past agent.windows), and its label and
 * annotation templates, every error at its file:line:col.
 */
export async function compileAgentRules(rules: readonly AgentRule[], where: (index: number, ...path: (string | number)[]) => string, sources: readonly string[], spanMs: number): Promise<{ rules: CompiledAgentRule[]; clock: WindowClock }> {
  const clock: WindowClock = { windows: undefined, nowMs: 0 };
  const functions = windowFunctions(clock);
  const seen = new Map<string, number>();
  const compiled: CompiledAgentRule[] = [];
  for (const [index, rule] of rules.entries()) {
    const at = (...path: (string | number)[]) => where(index, ...path);
    const first = seen.get(rule.name);
    if (first !== undefined) throw configError("E_CONFIG_DUPLICATE", `${at("name")}: agent rule "${rule.name}" is already defined at ${where(first, "name")}`, "give each agent rule its own name");
    seen.set(rule.name, index);
    const when = await compileExpression(rule.when, `${at("when")}: agent.rules[${index}].when`, ["event", "log"], functions);
    await checkWindowCalls(rule.when, `${at("when")}: agent.rules[${index}].when`, sources, spanMs);
    const roots = new Set(when.reads.map((read) => read.path[0]));
    const input: RuleInput = roots.has("log") ? "logs" : roots.has("event") ? "events" : "windows";
    const variables = input === "logs" ? ["event", "log"] : input === "events" ? ["event"] : [];
    const templates = async (field: "labels" | "annotations") =>
      Promise.all(
        Object.entries(rule[field]).map(async ([name, text]) => {
          const shown = `${at(field, name)}: agent.rules[${index}].${field}.${name}`;
          if (input === "windows" && text.includes("{{")) {
            throw configError("E_AGENT_RULE", `${shown}: a rule over windows has no event to template from`, `write the value as plain text, or make the rule read the event (e.g. when: event.kind == "oom" && window("kernel", "oom", "5m") > 3)`);
          }
          return [name, await compileTemplate(text, shown, variables)] as [string, Template];
        }),
      );
    compiled.push({
      name: rule.name,
      input,
      when,
      labels: await templates("labels"),
      annotations: await templates("annotations"),
      resolveAfterMs: rule.resolveAfter !== undefined ? parseDuration(rule.resolveAfter, at("resolveAfter")) : input === "windows" ? 0 : DEFAULT_RESOLVE_AFTER_MS,
    });
  }
  return { rules: compiled, clock };
}

async function checkWindowCalls(source: string, where: string, sources: readonly string[], spanMs: number): Promise<void> {
  for (const call of await functionCalls(source, WINDOW_FUNCTIONS)) {
    const usage = `${call.name}(source, duration) or ${call.name}(source, key, duration), e.g. ${call.name}("${sources[0] ?? "kernel"}", "1m")`;
    if (call.args.length !== 2 && call.args.length !== 3) throw configError("E_AGENT_RULE", `${where}: ${call.name}() takes 2 or 3 arguments, not ${call.args.length}`, usage);
    const [name] = call.args;
    if (typeof name === "string" && !sources.includes(name)) {
      throw configError("E_AGENT_RULE", `${where}: ${call.name}("${name}", ...) names no configured source`, sources.length > 0 ? `configured sources: ${sources.join(", ")}` : "add the source under agent.sources");
    }
    const duration = call.args.at(-1);
    if (typeof duration !== "string") continue;
    let ms: number;
    try {
      ms = parseDuration(duration, "window duration");
    } catch (error) {
      throw configError("E_AGENT_RULE", `${where}: ${call.name}(): "${duration}" is not a duration`, isOpsError(error) && error.hint ? error.hint : usage);
    }
    if (ms > spanMs) throw configError("E_AGENT_RULE", `${where}: ${call.name}() looks back ${duration}, past agent.windows (${spanMs / 1000}s kept)`, `raise agent.windows to ${duration} or more, or look back less`);
  }
}

/** The names an event is seen by in CEL: `event`, and `log` for log records. */
export function eventScope(event: AgentEvent): { event: Record<string, unknown>; log?: Record<string, unknown> } {
  const scope: { event: Record<string, unknown>; log?: Record<string, unknown> } = { event: { ...event } };
  if (event.kind === "log") {
    const { file, unit } = event.fields;
    scope.log = { source: event.source, time: event.time, message: event.message ?? "", fields: event.fields, ...(file !== undefined ? { file } : {}), ...(unit !== undefined ? { unit } : {}) };
  }
  return scope;
}

interface Firing {
  rule: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: number;
  lastMatch: number;
}

/** A firing alert as the state file keeps it across restarts. */
export type SavedAlert = Firing;

export interface RuleEngineOptions {
  /** Each firing and resolved notice, in order. */
  raise(alert: AgentAlert): void;
  /** A rule that could not be evaluated for an event (not for a field the event lacks, which is just no match). */
  onError(rule: string, message: string): void;
  /** Labels every alert carries unless its rule sets them (instance: the host name). */
  defaultLabels?: Record<string, string>;
  /** Alerts firing at once, at most (a rule templating a label from a pid would otherwise grow without end); past it a match is counted, not raised. */
  maxFiring?: number;
  onSuppressed?(rule: string): void;
}

/** Misses that mean "this event has no such field": no match, not an error. */
const absentField = /^(field not found|no such key|no value for)/;

/**
 * Evaluates the rules: over each event as it is processed, over the windows
 * at each tick. A rule raises an alert (by its rendered labels) the first
 * time it matches and resolves it once it has not matched for resolveAfter.
 */
export class RuleEngine {
  readonly #byInput: Record<RuleInput, CompiledAgentRule[]> = { events: [], logs: [], windows: [] };
  readonly #firing = new Map<string, Firing>();
  readonly #rules: Map<string, CompiledAgentRule>;
  readonly #maxFiring: number;
  #changes = 0;

  constructor(
    rules: readonly CompiledAgentRule[],
    readonly clock: WindowClock,
    windows: Windows,
    readonly options: RuleEngineOptions,
  ) {
    clock.windows = windows;
    for (const rule of rules) this.#byInput[rule.input].push(rule);
    this.#rules = new Map(rules.map((rule) => [rule.name, rule]));
    this.#maxFiring = options.maxFiring ?? 10_000;
  }

  get firingCount(): number {
    return this.#firing.size;
  }

  /** Grows each time an alert starts or stops firing (the state file is rewritten when it moved). */
  get changes(): number {
    return this.#changes;
  }

  /** Whether any rule reads events one by one (else events only feed the windows). */
  get readsEvents(): boolean {
    return this.#byInput.events.length + this.#byInput.logs.length > 0;
  }

  onEvent(event: AgentEvent, nowMs: number): void {
    if (!this.readsEvents) return;
    this.clock.nowMs = nowMs;
    const scope = eventScope(event);
    for (const rule of this.#byInput.events) this.#evaluate(rule, scope, event.time, nowMs);
    if (scope.log) for (const rule of this.#byInput.logs) this.#evaluate(rule, scope, event.time, nowMs);
  }

  /** Once a second: the rules over windows, and resolving what stopped matching. */
  tick(nowMs: number): void {
    this.clock.nowMs = nowMs;
    const matched = new Set<string>();
    for (const rule of this.#byInput.windows) {
      const key = this.#evaluate(rule, {}, nowMs, nowMs);
      if (key) matched.add(key);
    }
    for (const [key, firing] of this.#firing) {
      const rule = this.#rules.get(firing.rule);
      if (matched.has(key)) continue;
      // resolveAfter past the last match: a rule over windows that stops holding resolves at once by default, one over events 5m after.
      if (nowMs - firing.lastMatch >= (rule?.resolveAfterMs ?? 0)) this.#resolve(key, firing, nowMs);
    }
  }

  /** The alerts firing now, for the state file (and --once). */
  firing(): SavedAlert[] {
    return [...this.#firing.values()].map((firing) => ({ ...firing }));
  }

  /** Alerts that were firing when the agent stopped: they resolve as usual from here; those of rules that are gone resolve now. */
  restore(saved: readonly SavedAlert[], nowMs: number): void {
    for (const firing of saved) {
      const key = alertKey(firing.rule, firing.labels);
      if (this.#rules.has(firing.rule)) this.#firing.set(key, { ...firing });
      else this.#resolve(key, firing, nowMs);
    }
  }

  /** Evaluates one rule; the alert's key when it matched. */
  #evaluate(rule: CompiledAgentRule, scope: Record<string, unknown>, at: number, nowMs: number): string | undefined {
    const result = rule.when.evaluate(scope);
    if (!result.ok) {
      if (!absentField.test(result.error)) this.options.onError(rule.name, result.error);
      return undefined;
    }
    if (result.value !== true) return undefined;
    const labels = this.#render(rule, rule.labels, scope);
    labels.alertname ??= rule.name;
    for (const [name, value] of Object.entries(this.options.defaultLabels ?? {})) labels[name] ??= value;
    const key = alertKey(rule.name, labels);
    const firing = this.#firing.get(key);
    if (firing) {
      firing.lastMatch = nowMs;
      return key;
    }
    if (this.#firing.size >= this.#maxFiring) {
      this.options.onSuppressed?.(rule.name);
      return undefined;
    }
    const annotations = this.#render(rule, rule.annotations, scope);
    const started: Firing = { rule: rule.name, labels, annotations, startsAt: Math.min(at, nowMs), lastMatch: nowMs };
    this.#firing.set(key, started);
    this.#changes++;
    this.options.raise({ rule: rule.name, status: "firing", labels, annotations, startsAt: started.startsAt, raisedAt: nowMs });
    return key;
  }

  #resolve(key: string, firing: Firing, nowMs: number): void {
    this.#firing.delete(key);
    this.#changes++;
    this.options.raise({ rule: firing.rule, status: "resolved", labels: firing.labels, annotations: firing.annotations, startsAt: firing.startsAt, endsAt: nowMs, raisedAt: nowMs });
  }

  /** Labels or annotations rendered as data; a field the event lacks renders empty (and is reported), so the alert still goes out. */
  #render(rule: CompiledAgentRule, templates: readonly [string, Template][], scope: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, template] of templates) {
      try {
        out[name] = template.render(scope, "raw");
      } catch (error) {
        this.options.onError(rule.name, isOpsError(error) ? error.message : String(error));
        out[name] = "";
      }
    }
    return out;
  }
}

/** An alert's identity within the agent: its rule and its labels, in name order. */
function alertKey(rule: string, labels: Record<string, string>): string {
  return JSON.stringify([rule, ...Object.keys(labels).sort().map((name) => [name, labels[name]])]);
}
