// Counters and a histogram for what happens per request or per alert, which
// prom-client would count at a cost: each of its calls validates the labels
// and builds a hash string of them, about 16 µs a request in an alert storm
// (its counter and histogram together, measured on a Bun server). These count
// in a Map keyed by the label values and give the registry the same values
// prom-client's own metrics would (counts.test.ts renders both and compares),
// so /metrics reads the same.

type Labels = Record<string, string>;

/** A counter whose labels are given as values, in the order of labelNames. */
export class LabeledCounter {
  readonly type = "counter";
  readonly aggregator = "sum";
  readonly #entries = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(...values: string[]): void {
    const key = values.join("\u0000");
    const entry = this.#entries.get(key);
    if (entry) entry.value++;
    else this.#entries.set(key, { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])), value: 1 });
  }

  async get() {
    const values = [...this.#entries.values()].map(({ labels, value }) => ({ value, labels: { ...labels } }));
    return { help: this.help, name: this.name, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#entries.clear();
  }
}

/** A histogram with one label. */
export class LabeledHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #entries = new Map<string, { buckets: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelName: string,
    readonly upperBounds: readonly number[],
  ) {}

  observe(label: string, value: number): void {
    let entry = this.#entries.get(label);
    if (!entry) this.#entries.set(label, (entry = { buckets: this.upperBounds.map(() => 0), sum: 0, count: 0 }));
    const bucket = this.upperBounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) entry.buckets[bucket]!++;
    entry.sum += value;
    entry.count++;
  }

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [label, { buckets, sum, count }] of this.#entries) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ labels: { le, [this.labelName]: label }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: "+Inf", [this.labelName]: label }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: { [this.labelName]: label }, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#entries.clear();
  }
}
