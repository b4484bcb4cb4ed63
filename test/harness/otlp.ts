import { decodeOtlpProtobuf, type OtlpSignal } from "./otlp-proto.ts";

/**
 * An OTLP/HTTP receiver in the test process, standing in for an OpenTelemetry
 * Collector: POST /v1/traces, /v1/metrics and /v1/logs in JSON
 * (application/json) or protobuf (application/x-protobuf), plain or gzip.
 * What it receives is flattened into plain records a test can assert on.
 *
 *   const otlp = await startOtlpReceiver();
 *   // point an exporter at otlp.url (OTEL_EXPORTER_OTLP_ENDPOINT)
 *   const span = await otlp.waitFor(() => otlp.spans().find((s) => s.name === "probe"));
 *   otlp.stop();
 */

export type Attributes = Record<string, unknown>;

export interface FlatSpan {
  /** 32 lowercase hex digits, whether the exporter sent hex (OTLP/JSON) or base64. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** undefined for a root span. */
  parentSpanId: string | undefined;
  traceState: string | undefined;
  name: string;
  /** SpanKind as OTLP numbers it: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** Nanoseconds since the epoch as a decimal string (64 bits do not fit a number). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  /** code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string | undefined };
  /** The resource's attributes (service.name, …). */
  resource: Attributes;
  scope: { name: string; version: string | undefined };
  events: { name: string; timeUnixNano: string; attributes: Attributes }[];
  links: { traceId: string; spanId: string; attributes: Attributes }[];
}

export type MetricType = "gauge" | "sum" | "histogram" | "exponentialHistogram" | "summary";

export interface FlatDataPoint {
  attributes: Attributes;
  startTimeUnixNano: string | undefined;
  timeUnixNano: string | undefined;
  /** gauge and sum points: asInt or asDouble. */
  value?: number;
  /** histogram, exponential histogram and summary points. */
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
  quantiles?: { quantile: number; value: number }[];
}

export interface FlatMetric {
  name: string;
  unit: string;
  description: string;
  type: MetricType;
  /** sums only. */
  isMonotonic?: boolean;
  /** 1 delta, 2 cumulative (sums and histograms). */
  aggregationTemporality?: number;
  dataPoints: FlatDataPoint[];
  resource: Attributes;
  scope: { name: string; version: string | undefined };
}

export interface FlatLogRecord {
  timeUnixNano: string | undefined;
  observedTimeUnixNano: string | undefined;
  severityNumber: number | undefined;
  severityText: string | undefined;
  body: unknown;
  attributes: Attributes;
  traceId: string | undefined;
  spanId: string | undefined;
  eventName: string | undefined;
  resource: Attributes;
  scope: { name: string; version: string | undefined };
}

export interface ReceivedRequest {
  signal: OtlpSignal;
  contentType: "json" | "protobuf";
  gzip: boolean;
  headers: Record<string, string>;
}

export interface OtlpReceiver {
  /** Base URL, e.g. http://127.0.0.1:41234 (an exporter appends /v1/traces etc.). */
  url: string;
  spans(): FlatSpan[];
  /** Every metric of every export, in arrival order (a metric exported twice appears twice). */
  metrics(): FlatMetric[];
  /** The most recent export of the metric with this name. */
  metric(name: string): FlatMetric | undefined;
  logs(): FlatLogRecord[];
  /** Accepted export requests, in arrival order. */
  received(): ReceivedRequest[];
  /** Number of export requests accepted so far. */
  readonly requests: number;
  /** Export requests answered with the status set by respondWith (not 200). */
  readonly refused: number;
  /** Bodies that could not be decoded (answered 400), with the reason. */
  errors(): string[];
  /**
   * Resolves with the predicate's first truthy result, checked now and after
   * each request; rejects after timeoutMs (default 15 s) with what arrived.
   */
  waitFor<T>(predicate: (receiver: OtlpReceiver) => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /** Answer following exports with this HTTP status (e.g. 503 to test retries); 200 again with `respondWith(200)`. */
  respondWith(status: number): void;
  stop(): void;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

/** Trace and span ids: OTLP/JSON says hex, some exporters send base64 (protobuf's JSON mapping). */
export function normaliseId(v: unknown): string | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  if (/^[0-9a-fA-F]+$/.test(v) && (v.length === 32 || v.length === 16)) return v.toLowerCase();
  const hex = Buffer.from(v, "base64").toString("hex");
  return hex === "" || /^0+$/.test(hex) ? undefined : hex;
}

function nanos(v: unknown): string | undefined {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" || typeof v === "bigint") return BigInt(v).toString();
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v !== "" && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

const statusNames: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const kindNames: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5,
};

function enumValue(v: unknown, names: Record<string, number>): number {
  if (typeof v === "string" && v in names) return names[v]!;
  return num(v) ?? 0;
}

export function anyValue(v: unknown): unknown {
  if (!isObject(v)) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) {
    const n = num(v.intValue);
    return n !== undefined && Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if ("doubleValue" in v) return num(v.doubleValue);
  if ("arrayValue" in v) return list(isObject(v.arrayValue) ? v.arrayValue.values : undefined).map(anyValue);
  if ("kvlistValue" in v) return attributesOf(isObject(v.kvlistValue) ? v.kvlistValue.values : undefined);
  if ("bytesValue" in v) return v.bytesValue;
  return undefined;
}

function attributesOf(kvs: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of list(kvs)) if (typeof kv.key === "string") out[kv.key] = anyValue(kv.value);
  return out;
}

function scopeOf(v: unknown): { name: string; version: string | undefined } {
  const s = isObject(v) ? v : {};
  return { name: typeof s.name === "string" ? s.name : "", version: typeof s.version === "string" && s.version !== "" ? s.version : undefined };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function flattenSpans(req: Json): FlatSpan[] {
  const out: FlatSpan[] = [];
  for (const rs of list(req.resourceSpans)) {
    const resource = attributesOf(isObject(rs.resource) ? rs.resource.attributes : undefined);
    for (const ss of list(rs.scopeSpans)) {
      const scope = scopeOf(ss.scope);
      for (const s of list(ss.spans)) {
        const status = isObject(s.status) ? s.status : {};
        out.push({
          traceId: normaliseId(s.traceId) ?? "",
          spanId: normaliseId(s.spanId) ?? "",
          parentSpanId: normaliseId(s.parentSpanId),
          traceState: str(s.traceState),
          name: typeof s.name === "string" ? s.name : "",
          kind: enumValue(s.kind, kindNames),
          startTimeUnixNano: nanos(s.startTimeUnixNano) ?? "0",
          endTimeUnixNano: nanos(s.endTimeUnixNano) ?? "0",
          attributes: attributesOf(s.attributes),
          status: { code: enumValue(status.code, statusNames), message: str(status.message) },
          resource,
          scope,
          events: list(s.events).map((e) => ({
            name: typeof e.name === "string" ? e.name : "",
            timeUnixNano: nanos(e.timeUnixNano) ?? "0",
            attributes: attributesOf(e.attributes),
          })),
          links: list(s.links).map((l) => ({
            traceId: normaliseId(l.traceId) ?? "",
            spanId: normaliseId(l.spanId) ?? "",
            attributes: attributesOf(l.attributes),
          })),
        });
      }
    }
  }
  return out;
}

const metricTypes: MetricType[] = ["gauge", "sum", "histogram", "exponentialHistogram", "summary"];

function flattenPoint(p: Json): FlatDataPoint {
  const point: FlatDataPoint = {
    attributes: attributesOf(p.attributes),
    startTimeUnixNano: nanos(p.startTimeUnixNano),
    timeUnixNano: nanos(p.timeUnixNano),
  };
  const value = num(p.asDouble) ?? num(p.asInt);
  if (value !== undefined) point.value = value;
  const count = num(p.count);
  if (count !== undefined) point.count = count;
  for (const key of ["sum", "min", "max"] as const) {
    const n = num(p[key]);
    if (n !== undefined) point[key] = n;
  }
  if (Array.isArray(p.bucketCounts)) point.bucketCounts = p.bucketCounts.map((c) => num(c) ?? 0);
  if (Array.isArray(p.explicitBounds)) point.explicitBounds = p.explicitBounds.map((b) => num(b) ?? 0);
  if (Array.isArray(p.quantileValues)) {
    point.quantiles = list(p.quantileValues).map((q) => ({ quantile: num(q.quantile) ?? 0, value: num(q.value) ?? 0 }));
  }
  return point;
}

function flattenMetrics(req: Json): FlatMetric[] {
  const out: FlatMetric[] = [];
  for (const rm of list(req.resourceMetrics)) {
    const resource = attributesOf(isObject(rm.resource) ? rm.resource.attributes : undefined);
    for (const sm of list(rm.scopeMetrics)) {
      const scope = scopeOf(sm.scope);
      for (const m of list(sm.metrics)) {
        const type = metricTypes.find((t) => isObject(m[t]));
        if (!type) continue;
        const data = m[type] as Json;
        const metric: FlatMetric = {
          name: typeof m.name === "string" ? m.name : "",
          unit: typeof m.unit === "string" ? m.unit : "",
          description: typeof m.description === "string" ? m.description : "",
          type,
          dataPoints: list(data.dataPoints).map(flattenPoint),
          resource,
          scope,
        };
        if (type === "sum") metric.isMonotonic = data.isMonotonic === true;
        if (data.aggregationTemporality !== undefined) {
          metric.aggregationTemporality = enumValue(data.aggregationTemporality, {
            AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
          });
        }
        out.push(metric);
      }
    }
  }
  return out;
}

function flattenLogs(req: Json): FlatLogRecord[] {
  const out: FlatLogRecord[] = [];
  for (const rl of list(req.resourceLogs)) {
    const resource = attributesOf(isObject(rl.resource) ? rl.resource.attributes : undefined);
    for (const sl of list(rl.scopeLogs)) {
      const scope = scopeOf(sl.scope);
      for (const l of list(sl.logRecords)) {
        out.push({
          timeUnixNano: nanos(l.timeUnixNano),
          observedTimeUnixNano: nanos(l.observedTimeUnixNano),
          severityNumber: num(l.severityNumber),
          severityText: str(l.severityText),
          body: anyValue(l.body),
          attributes: attributesOf(l.attributes),
          traceId: normaliseId(l.traceId),
          spanId: normaliseId(l.spanId),
          eventName: str(l.eventName),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

const signals: Record<string, OtlpSignal> = { "/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs" };

async function readBody(request: Request): Promise<{ bytes: Uint8Array; gzip: boolean }> {
  let bytes = new Uint8Array(await request.arrayBuffer());
  const encoding = (request.headers.get("content-encoding") ?? "").toLowerCase();
  const gzip = encoding === "gzip" || (bytes[0] === 0x1f && bytes[1] === 0x8b);
  if (gzip) bytes = Bun.gunzipSync(bytes);
  else if (encoding === "deflate") bytes = Bun.inflateSync(bytes);
  return { bytes, gzip };
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: FlatSpan[] = [];
  const metrics: FlatMetric[] = [];
  const logs: FlatLogRecord[] = [];
  const received: ReceivedRequest[] = [];
  const errors: string[] = [];
  const waiters = new Set<() => void>();
  let status = 200;
  let refused = 0;

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const signal = signals[new URL(request.url).pathname];
      if (!signal) return new Response("not found\n", { status: 404 });
      if (request.method !== "POST") return new Response("method not allowed\n", { status: 405 });
      const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      const contentType = type === "application/json" ? "json" : type === "application/x-protobuf" ? "protobuf" : undefined;
      if (!contentType) return new Response(`unsupported content type ${type}\n`, { status: 415 });
      if (status !== 200) {
        refused++;
        for (const wake of [...waiters]) wake();
        return new Response("refused by the test\n", { status });
      }
      let body: Json;
      let gzip: boolean;
      try {
        const read = await readBody(request);
        gzip = read.gzip;
        const decoded = contentType === "json" ? JSON.parse(new TextDecoder().decode(read.bytes)) : decodeOtlpProtobuf(signal, read.bytes);
        if (!isObject(decoded)) throw new Error("body is not an object");
        body = decoded;
      } catch (error) {
        errors.push(`${signal} ${contentType}: ${(error as Error).message}`);
        return new Response("bad request\n", { status: 400 });
      }
      if (signal === "traces") spans.push(...flattenSpans(body));
      else if (signal === "metrics") metrics.push(...flattenMetrics(body));
      else logs.push(...flattenLogs(body));
      received.push({ signal, contentType, gzip, headers: Object.fromEntries(request.headers) });
      for (const wake of [...waiters]) wake();
      // An empty Export*ServiceResponse means full success in both encodings.
      return contentType === "json"
        ? Response.json({})
        : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
    },
  });

  const receiver: OtlpReceiver = {
    url: `http://127.0.0.1:${server.port}`,
    spans: () => [...spans],
    metrics: () => [...metrics],
    metric: (name) => metrics.findLast((m) => m.name === name),
    logs: () => [...logs],
    received: () => [...received],
    get requests() {
      return received.length;
    },
    get refused() {
      return refused;
    },
    errors: () => [...errors],
    waitFor<T>(predicate: (r: OtlpReceiver) => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = (): boolean => {
          let result: T | undefined | null | false;
          try {
            result = predicate(receiver);
          } catch (error) {
            done();
            reject(error);
            return true;
          }
          if (!result) return false;
          done();
          resolve(result);
          return true;
        };
        const timer = setTimeout(() => {
          done();
          const names = [...new Set(spans.map((s) => s.name))].join(", ");
          const metricNames = [...new Set(metrics.map((m) => m.name))].join(", ");
          reject(new Error(
            `OTLP receiver: condition not met within ${timeoutMs} ms; ${received.length} requests, ` +
              `spans [${names}], metrics [${metricNames}], ${logs.length} log records, errors [${errors.join("; ")}]`,
          ));
        }, timeoutMs);
        const wake = (): void => void check();
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
        check();
      });
    },
    respondWith(code) {
      status = code;
    },
    stop() {
      server.stop(true);
    },
  };
  return receiver;
}
