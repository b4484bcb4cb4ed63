import type { PromMetricJson, PromSource } from "../observe/index.ts";

// The agent's metrics: what /metrics renders as Prometheus text and what the
// OTLP bridge (observe's startOtlpMetrics) reads as a PromSource. Written
// here rather than with prom-client, which opskit serve uses: importing it
// costs 18 MB of resident memory (measured under Bun), over a third of the
// agent's whole budget at the edge.

type Labels = Record<string, string>;
type MetricType = "counter" | "gauge" | "histogram";

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  values(): PromMetricJson["values"];
}

/** A counter over label values given in the order of labelNames. */
export class Counter implements Metric {
  readonly type = "counter";
  readonly #entries = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  inc(values: readonly string[] = [], n = 1): void {
    const key = values.join("\u0000");
    const entry = this.#entries.get(key);
    if (entry) entry.value += n;
    else this.#entries.set(key, { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? ""])), value: n });
  }

  /** The count for these label values (0 when never counted). */
  get(values: readonly string[] = []): number {
    return this.#entries.get(values.join("\u0000"))?.value ?? 0;
  }

  values() {
    return [...this.#entries.values()].map(({ labels, value }) => ({ labels: { ...labels }, value }));
  }
}

/** A gauge read when collected (or a counter kept elsewhere, such as the process's CPU time). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => { labels?: Labels; value: number }[],
    readonly type: "gauge" | "counter" = "gauge",
  ) {}

  values() {
    return this.read().map(({ labels, value }) => ({ labels: labels ?? {}, value }));
  }
}

/** A histogram without labels, in seconds. */
export class Histogram implements Metric {
  readonly type = "histogram";
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly upperBounds: readonly number[],
  ) {
    this.#counts = upperBounds.map(() => 0);
  }

  observe(value: number): void {
    const bucket = this.upperBounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) this.#counts[bucket]!++;
    this.#sum += value;
    this.#count++;
  }

  values() {
    let cumulative = 0;
    const buckets = this.upperBounds.map((bound, i) => {
      cumulative += this.#counts[i]!;
      return { labels: { le: String(bound) }, value: cumulative, metricName: `${this.name}_bucket` };
    });
    return [
      ...buckets,
      { labels: { le: "+Inf" }, value: this.#count, metricName: `${this.name}_bucket` },
      { labels: {}, value: this.#sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.#count, metricName: `${this.name}_count` },
    ];
  }
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** The metrics in the order they were added: Prometheus text, or JSON for the OTLP bridge. */
export class MetricRegistry implements PromSource {
  readonly #metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics) {
      lines.push(`# HELP ${metric.name} ${metric.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${metric.name} ${metric.type}`);
      for (const { labels, value, metricName } of metric.values()) {
        const pairs = Object.entries(labels).map(([name, v]) => `${name}="${escapeLabel(String(v))}"`);
        lines.push(`${metricName ?? metric.name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  async getMetricsAsJSON(): Promise<PromMetricJson[]> {
    return this.#metrics.map((metric) => ({ name: metric.name, help: metric.help, type: metric.type, values: metric.values() }));
  }
}

/** A source's own counter name (`lines_read`) as a metric name part: letters, digits and _. */
export function metricNamePart(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}
