// What each step running on this server has printed so far, from its
// step.output events: the journal has a step's output only once it ends
// (and keeps its tail), so a download while it runs reads here. Bounded per
// step and in all, and dropped a little after its run finishes.
import type { RunEvent } from "../engine/index.ts";
import type { StepPhase } from "../journal/index.ts";

/** Kept of each stream of each step: its last 4 MiB (in UTF-16 code units, as JavaScript strings count). */
export const STREAM_LIMIT = 4 * 1024 * 1024;
/** Kept of every step together; past it, finished steps go first, then the largest streams are cut to their tail. */
export const TOTAL_LIMIT = 64 * 1024 * 1024;
/** How long a finished run's output stays after run.finished: the journal has written its last step by then. */
export const KEPT_AFTER_RUN_MS = 5_000;

export interface LiveOutputLimits {
  /** Characters kept of each stream of each step. */
  stream: number;
  /** Characters kept of every step together. */
  total: number;
  /** How long a run's output stays once it finished. */
  keptAfterRunMs: number;
}

/** The last `limit` characters of a stream, and how many came before them. */
class Tail {
  chunks: string[] = [];
  length = 0;
  /** Characters cut from the front. */
  dropped = 0;

  push(text: string, limit: number): void {
    this.chunks.push(text);
    this.length += text.length;
    if (this.length > limit) this.trim(limit);
  }

  /** Cuts to the last `limit` characters; returns how many went. */
  trim(limit: number): number {
    let cut = 0;
    while (this.length > limit && this.chunks.length > 0) {
      const over = this.length - limit;
      const first = this.chunks[0]!;
      const take = Math.min(first.length, over);
      if (take === first.length) this.chunks.shift();
      else this.chunks[0] = first.slice(take);
      this.length -= take;
      this.dropped += take;
      cut += take;
    }
    return cut;
  }

  text(): string {
    if (this.chunks.length > 1) this.chunks = [this.chunks.join("")];
    return this.chunks[0] ?? "";
  }
}

export interface StepOutput {
  stdout: Tail;
  stderr: Tail;
  finished: boolean;
}

/** Where a chunk of output went: its step, and how much of its stream came before it. */
export interface OutputPlace {
  phase: StepPhase;
  index: number;
  offset: number;
}

const stepKey = (runId: string, target: string, phase: string, index: number) => `${runId}\u0000${target}\u0000${phase}\u0000${index}`;
const targetKey = (runId: string, target: string) => `${runId}\u0000${target}`;

export class LiveOutput {
  readonly #steps = new Map<string, StepOutput>();
  /** The step each target of a running run is in: a target runs its steps one at a time, so step.output belongs to the last one started. */
  readonly #current = new Map<string, { key: string; phase: StepPhase; index: number }>();
  readonly #byRun = new Map<string, Set<string>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #total = 0;

  readonly #limits: LiveOutputLimits;

  constructor(limits: Partial<LiveOutputLimits> = {}) {
    this.#limits = { stream: STREAM_LIMIT, total: TOTAL_LIMIT, keptAfterRunMs: KEPT_AFTER_RUN_MS, ...limits };
  }

  /** Characters held now, every stream of every step. */
  get total(): number {
    return this.#total;
  }

  /** Follows a run's events; returns where a step.output chunk went (undefined for other events, or output of no known step). */
  apply(event: RunEvent): OutputPlace | undefined {
    switch (event.type) {
      case "step.started": {
        const key = stepKey(event.runId, event.target, event.phase, event.index);
        this.#current.set(targetKey(event.runId, event.target), { key, phase: event.phase, index: event.index });
        // A step started again on its target (a retry continuing a run) starts afresh.
        this.#drop(key);
        this.#steps.set(key, { stdout: new Tail(), stderr: new Tail(), finished: false });
        const keys = this.#byRun.get(event.runId) ?? new Set();
        keys.add(key);
        this.#byRun.set(event.runId, keys);
        return undefined;
      }
      case "step.output": {
        const current = this.#current.get(targetKey(event.runId, event.target));
        const step = current && this.#steps.get(current.key);
        if (!current || !step) return undefined;
        const tail = step[event.stream];
        const offset = tail.dropped + tail.length;
        const before = tail.length;
        tail.push(event.text, this.#limits.stream);
        this.#total += tail.length - before;
        if (this.#total > this.#limits.total) this.#shed(current.key);
        return { phase: current.phase, index: current.index, offset };
      }
      case "step.finished": {
        const key = stepKey(event.runId, event.target, event.phase, event.index);
        const step = this.#steps.get(key);
        if (step) step.finished = true;
        return undefined;
      }
      case "target.finished":
        this.#current.delete(targetKey(event.runId, event.target));
        return undefined;
      case "run.finished": {
        const runId = event.runId;
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#dropRun(runId);
        }, this.#limits.keptAfterRunMs);
        timer.unref?.();
        this.#timers.add(timer);
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** What the step has printed so far, if this server holds it. */
  read(runId: string, target: string, phase: string, index: number): { stdout: string; stderr: string; dropped: { stdout: number; stderr: number }; finished: boolean } | undefined {
    const step = this.#steps.get(stepKey(runId, target, phase, index));
    if (!step) return undefined;
    return { stdout: step.stdout.text(), stderr: step.stderr.text(), dropped: { stdout: step.stdout.dropped, stderr: step.stderr.dropped }, finished: step.finished };
  }

  /** Forgets everything (the server stops). */
  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#steps.clear();
    this.#current.clear();
    this.#byRun.clear();
    this.#total = 0;
  }

  #drop(key: string): void {
    const step = this.#steps.get(key);
    if (!step) return;
    this.#total -= step.stdout.length + step.stderr.length;
    this.#steps.delete(key);
  }

  #dropRun(runId: string): void {
    for (const key of this.#byRun.get(runId) ?? []) this.#drop(key);
    this.#byRun.delete(runId);
    for (const key of this.#current.keys()) if (key.startsWith(`${runId}\u0000`)) this.#current.delete(key);
  }

  /** Over the total: finished steps go first (the journal has them), then running ones are cut to an equal share each. */
  #shed(keep: string): void {
    for (const [key, step] of this.#steps) {
      if (this.#total <= this.#limits.total) return;
      if (step.finished && key !== keep) this.#drop(key);
    }
    if (this.#total <= this.#limits.total) return;
    const share = Math.max(64 * 1024, Math.floor(this.#limits.total / (2 * Math.max(1, this.#steps.size))));
    for (const step of this.#steps.values()) for (const tail of [step.stdout, step.stderr]) this.#total -= tail.trim(share);
  }
}
