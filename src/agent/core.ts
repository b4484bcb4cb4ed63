import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { CompiledAgent, ConfiguredSource } from "./compile.ts";
import { Counter, Gauge, MetricRegistry, metricNamePart } from "./metrics.ts";
import { EventQueue } from "./queue.ts";
import { RuleEngine, type AgentAlert } from "./rules.ts";
import type { AgentEvent, SourceContext } from "./types.ts";
import { Windows } from "./windows.ts";

/** Events handled per turn of the event loop, so timers and HTTP get their turn in a burst. */
const EVENTS_PER_TURN = 4096;
/** The window /metrics reports rates over (or agent.windows, if shorter). */
const RATE_WINDOW_MS = 60_000;

export interface CoreOptions {
  /** Each firing and resolved notice. */
  raise(alert: AgentAlert): void;
  /** Lines for the operator (a source's warning, said once). */
  notice(line: string): void;
  /** After each tick (once a second). */
  afterTick?(): void;
}

/**
 * The agent between its sources and its alerts: the bounded queue the
 * sources emit into (refusing when full: backpressure), the per-second
 * windows every event is counted in, the rules evaluated over each event and
 * once a second over the windows, and the metrics of all of it. Running the
 * sources and delivering alerts are the caller's (run.ts, once.ts).
 */
export class AgentCore {
  readonly queue: EventQueue;
  readonly windows: Windows;
  readonly engine: RuleEngine;
  readonly registry = new MetricRegistry();
  readonly #abort = new AbortController();
  readonly #keyOf: Map<string, (event: AgentEvent) => string | undefined>;
  readonly #sourceCounters = new Map<string, Counter>();
  readonly #warned = new Set<string>();
  #scheduled = false;
  #ticker: ReturnType<typeof setInterval> | undefined;
  readonly events: Counter;
  readonly #queueFull: Counter;
  readonly #ruleErrors: Counter;
  readonly #raised: Counter;

  constructor(
    readonly agent: CompiledAgent,
    readonly options: CoreOptions,
  ) {
    const r = this.registry;
    this.queue = new EventQueue(agent.settings.queue);
    this.events = r.add(new Counter("opskit_agent_events_total", "Events the rules and windows took, by source and kind.", ["source", "kind"]));
    this.#queueFull = r.add(new Counter("opskit_agent_queue_full_total", "Times a source found the event queue full and paused reading (backpressure; the event was kept, not dropped).", ["source"]));
    const keysDropped = r.add(new Counter("opskit_agent_window_keys_dropped_total", "Events not counted per key because their source already had as many live keys as it may (they still count per source and kind).", ["source"]));
    this.#ruleErrors = r.add(new Counter("opskit_agent_rule_errors_total", "Rule evaluations that failed (a type error, a label template that could not render), by rule.", ["rule"]));
    this.#raised = r.add(new Counter("opskit_agent_alerts_raised_total", "Alert notices raised, by rule and status (firing, resolved).", ["rule", "status"]));
    const suppressed = r.add(new Counter("opskit_agent_alerts_suppressed_total", "Matches not raised because too many alerts were firing already, by rule.", ["rule"]));
    r.add(new Gauge("opskit_agent_queue_depth", "Events waiting in the queue.", () => [{ value: this.queue.length }]));
    r.add(new Gauge("opskit_agent_queue_capacity", "The queue's bound (agent.queue).", () => [{ value: this.queue.capacity }]));
    this.windows = new Windows(Math.round(agent.settings.windowsMs / 1000), { onKeyDropped: (source) => keysDropped.inc([source]) });
    const span = agent.settings.windowsMs;
    const rateMs = Math.min(RATE_WINDOW_MS, span);
    r.add(new Gauge("opskit_agent_window_events", `Events in the last agent.windows (${span / 1000}s), by source and kind, or source and key (process name, log field).`, () => this.#windowValues(span, (count) => count)));
    r.add(new Gauge("opskit_agent_window_rate", `Events per second over the last ${rateMs / 1000}s, by source and kind, or source and key.`, () => this.#windowValues(rateMs, (count) => count / (rateMs / 1000))));
    r.add(new Gauge("opskit_agent_alerts_firing", "Alerts firing now.", () => [{ value: this.engine.firingCount }]));
    r.add(new Gauge("opskit_process_resident_memory_bytes", "Resident memory size in bytes.", () => [{ value: process.memoryUsage.rss() }]));
    const cpuSeconds = () => {
      const { user, system } = process.cpuUsage();
      return [{ value: (user + system) / 1e6 }];
    };
    r.add(new Gauge("opskit_process_cpu_seconds_total", "User and system CPU time spent in seconds.", cpuSeconds, "counter"));
    this.#keyOf = new Map(agent.sources.map((source) => [source.name, keyReader(source.key)]));
    this.engine = new RuleEngine(agent.rules, agent.clock, this.windows, {
      raise: (alert) => {
        this.#raised.inc([alert.rule, alert.status]);
        options.raise(alert);
      },
      onError: (rule) => this.#ruleErrors.inc([rule]),
      onSuppressed: (rule) => {
        suppressed.inc([rule]);
        this.#warnOnce(`suppressed`, `opskit agent: rule ${rule}: too many alerts firing at once; further matches are counted in opskit_agent_alerts_suppressed_total, not raised`);
      },
      defaultLabels: { instance: hostname() },
    });
  }

  /** Aborted when the agent stops: every source's context.signal. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** What a source is handed: its emit into the queue, its own state directory, its counters. */
  contextFor(source: ConfiguredSource): SourceContext {
    const stateDir = join(this.agent.settings.stateDir, "sources", source.name);
    mkdirSync(stateDir, { recursive: true });
    return {
      name: source.name,
      stateDir,
      emit: (event) => this.emit(event),
      drained: () => this.queue.drained(),
      signal: this.#abort.signal,
      warn: (message) => this.#warnOnce(`${source.name}\u0000${message}`, `opskit agent: source ${source.name}: ${message}`),
      counters: { inc: (name, n = 1) => this.#sourceCounter(name).inc([source.name], n) },
    };
  }

  /** Into the queue; false when it is full (the source keeps the event and waits for drained()). */
  emit(event: AgentEvent): boolean {
    if (!this.queue.push(event)) {
      this.#queueFull.inc([event.source]);
      return false;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#drainTurn());
    }
    return true;
  }

  /** Starts the once-a-second evaluation of the rules over windows (and resolving what stopped matching). */
  startTicking(): void {
    this.#ticker ??= setInterval(() => this.tick(Date.now()), 1000);
  }

  tick(nowMs: number): void {
    this.engine.tick(nowMs);
    this.options.afterTick?.();
  }

  /** Handles every event still queued, now. */
  drainAll(): void {
    const now = Date.now();
    for (let event = this.queue.shift(); event; event = this.queue.shift()) this.#handle(event, now);
  }

  /** Stops ticking and tells the sources to stop (their signal; a source waiting for room is let go). */
  stop(): void {
    clearInterval(this.#ticker);
    this.#abort.abort();
    this.queue.release();
  }

  #drainTurn(): void {
    this.#scheduled = false;
    const now = Date.now();
    for (let n = 0; n < EVENTS_PER_TURN; n++) {
      const event = this.queue.shift();
      if (!event) return;
      this.#handle(event, now);
    }
    if (this.queue.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#drainTurn());
    }
  }

  #handle(event: AgentEvent, nowMs: number): void {
    this.events.inc([event.source, event.kind]);
    this.windows.add(event, this.#keyOf.get(event.source)?.(event), nowMs);
    this.engine.onEvent(event, nowMs);
  }

  #windowValues(ms: number, value: (count: number) => number): { labels: Record<string, string>; value: number }[] {
    const now = Date.now();
    const out: { labels: Record<string, string>; value: number }[] = [];
    for (const entry of this.windows.entries(ms, now)) {
      out.push({ labels: entry.kind !== undefined ? { source: entry.source, kind: entry.kind } : { source: entry.source, key: entry.key! }, value: value(entry.count) });
    }
    return out;
  }

  #sourceCounter(name: string): Counter {
    let counter = this.#sourceCounters.get(name);
    if (!counter) {
      counter = this.registry.add(new Counter(`opskit_agent_${metricNamePart(name)}_total`, `A source's own count: ${name}.`, ["source"]));
      this.#sourceCounters.set(name, counter);
    }
    return counter;
  }

  #warnOnce(key: string, line: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.options.notice(line);
  }
}

/** Reads the field a source's per-key windows count by: comm, pid, kind, message or fields.NAME. */
function keyReader(field: string): (event: AgentEvent) => string | undefined {
  if (field.startsWith("fields.")) {
    const name = field.slice("fields.".length);
    return (event) => {
      const value = event.fields[name];
      return value === undefined ? undefined : String(value);
    };
  }
  return (event) => {
    const value = (event as unknown as Record<string, unknown>)[field];
    return value === undefined ? undefined : String(value);
  };
}
