import type { AgentEvent } from "./types.ts";

/** Per-second counts of one series over the last `span` seconds: a ring indexed by the second. */
class Series {
  readonly #buckets: Uint32Array;
  /** The latest second a bucket holds (older seconds wrap around into the ring). */
  #head = -Infinity;

  constructor(readonly span: number) {
    this.#buckets = new Uint32Array(span);
  }

  add(second: number, n = 1): void {
    if (second > this.#head) {
      // The seconds between the last write and this one saw nothing.
      const gap = this.#head === -Infinity ? this.span : Math.min(this.span, second - this.#head);
      for (let i = 0; i < gap; i++) this.#buckets[(second - i) % this.span] = 0;
      this.#head = second;
    } else if (second <= this.#head - this.span) return;
    this.#buckets[second % this.span]! += n;
  }

  /** Whether nothing it holds is within the span any more. */
  idleAt(now: number): boolean {
    return this.#head <= now - this.span;
  }

  /** Events in the `seconds` seconds ending with `now` (inclusive). */
  count(now: number, seconds: number): number {
    let sum = 0;
    const from = Math.max(now - seconds + 1, this.#head - this.span + 1);
    const to = Math.min(now, this.#head);
    for (let s = from; s <= to; s++) sum += this.#buckets[s % this.span]!;
    return sum;
  }
}

interface SourceSeries {
  all: Series;
  kinds: Map<string, Series>;
  keys: Map<string, Series>;
}

/**
 * Sliding counts with one-second granularity, per source, per source and
 * kind, and per source and key (a process name, a log field's value), kept
 * for `spanSec` seconds. Events count at the second they happened, so
 * `window("kernel", "oom", "5m")` is the OOM kills of the last five minutes
 * even when they reached the rules late. Keys are bounded per source (a
 * fork bomb has as many process names as it likes): past maxKeys a new key
 * is not tracked, and onKeyDropped counts it.
 */
export class Windows {
  readonly #sources = new Map<string, SourceSeries>();
  readonly maxKeys: number;

  constructor(
    readonly spanSec: number,
    options: { maxKeys?: number; onKeyDropped?: (source: string) => void } = {},
  ) {
    // A series costs 4 bytes a second of span: keep each source's keys within 4 MiB.
    this.maxKeys = options.maxKeys ?? Math.max(16, Math.min(1000, Math.floor((4 * 1024 * 1024) / (4 * spanSec))));
    this.#onKeyDropped = options.onKeyDropped;
  }

  readonly #onKeyDropped: ((source: string) => void) | undefined;

  /** Counts an event at its own second, clamped to `nowMs` (a clock ahead of ours does not count in the future). */
  add(event: AgentEvent, key: string | undefined, nowMs: number): void {
    const second = Math.floor(Math.min(event.time, nowMs) / 1000);
    const series = this.#series(event.source);
    series.all.add(second);
    let kind = series.kinds.get(event.kind);
    if (!kind) series.kinds.set(event.kind, (kind = new Series(this.spanSec)));
    kind.add(second);
    if (key === undefined || key === "") return;
    let keyed = series.keys.get(key);
    if (!keyed) {
      if (series.keys.size >= this.maxKeys && !this.#evictIdle(series.keys, second)) return this.#onKeyDropped?.(event.source);
      series.keys.set(key, (keyed = new Series(this.spanSec)));
    }
    keyed.add(second);
  }

  /**
   * Events of a source in the last `ms` (at least a second, at most the
   * span); with `key`, only those of that kind (exec, oom, log, ...) or,
   * when no event of that kind was seen, of that key.
   */
  count(source: string, key: string | undefined, ms: number, nowMs: number): number {
    const series = this.#sources.get(source);
    if (!series) return 0;
    const target = key === undefined ? series.all : (series.kinds.get(key) ?? series.keys.get(key));
    if (!target) return 0;
    return target.count(Math.floor(nowMs / 1000), this.#seconds(ms));
  }

  /** Events per second over the last `ms`. */
  rate(source: string, key: string | undefined, ms: number, nowMs: number): number {
    return this.count(source, key, ms, nowMs) / this.#seconds(ms);
  }

  /** Forgets one key that saw nothing within the span; false when every key is live. */
  #evictIdle(keys: Map<string, Series>, now: number): boolean {
    for (const [key, series] of keys) {
      if (series.idleAt(now)) {
        keys.delete(key);
        return true;
      }
    }
    return false;
  }

  #seconds(ms: number): number {
    return Math.min(this.spanSec, Math.max(1, Math.ceil(ms / 1000)));
  }

  #series(source: string): SourceSeries {
    let series = this.#sources.get(source);
    if (!series) this.#sources.set(source, (series = { all: new Series(this.spanSec), kinds: new Map(), keys: new Map() }));
    return series;
  }

  /** Every series with its count over `ms` ending now, for /metrics. */
  *entries(ms: number, nowMs: number): Generator<{ source: string; kind?: string; key?: string; count: number }> {
    const now = Math.floor(nowMs / 1000);
    const seconds = this.#seconds(ms);
    for (const [source, series] of this.#sources) {
      for (const [kind, s] of series.kinds) yield { source, kind, count: s.count(now, seconds) };
      for (const [key, s] of series.keys) yield { source, key, count: s.count(now, seconds) };
    }
  }
}
