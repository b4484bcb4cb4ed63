/**
 * OTLP protobuf request bodies decoded into the shape of OTLP/JSON (camelCase
 * fields, 64-bit integers as decimal strings, ids as hex, bytes as base64), so
 * the receiver flattens both encodings with one code path.
 *
 * Field numbers follow opentelemetry-proto v1 (common, resource, trace,
 * metrics, logs and their collector services). The installed OpenTelemetry
 * packages only ship encoders for these messages, hence this small decoder.
 */

type Json = Record<string, unknown>;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error("varint too long");
    }
  }
  small(): number {
    return Number(this.varint());
  }
  bytes(): Uint8Array {
    const len = this.small();
    if (this.pos + len > this.buf.length) throw new Error("truncated length-delimited field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  fixed64(): bigint {
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  double(): number {
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  fixed32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_I32) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** How one field is read: its JSON name, its type, whether it repeats. */
type FieldSpec = [name: string, type: FieldType, repeated?: boolean];
type FieldType =
  | "string" | "bool" | "int64" | "sint32" | "uint32" | "enum" | "fixed64" | "fixed32" | "sfixed64" | "double"
  | "id" | "bytes" | Message;
type Message = { [field: number]: FieldSpec };

const textDecoder = new TextDecoder();

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function signed64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

function readScalar(r: Reader, type: Exclude<FieldType, Message>): unknown {
  switch (type) {
    case "string": return textDecoder.decode(r.bytes());
    case "bool": return r.varint() !== 0n;
    case "int64": return signed64(r.varint()).toString();
    case "sint32": { const n = r.small(); return (n >>> 1) ^ -(n & 1); }
    case "uint32": case "enum": return Number(BigInt.asIntN(32, r.varint()));
    case "fixed64": return r.fixed64().toString();
    case "sfixed64": return signed64(r.fixed64()).toString();
    case "fixed32": return r.fixed32();
    case "double": return r.double();
    case "id": return toHex(r.bytes());
    case "bytes": return Buffer.from(r.bytes()).toString("base64");
  }
}

const scalarWire: Record<Exclude<FieldType, Message>, number> = {
  string: WIRE_LEN, bool: WIRE_VARINT, int64: WIRE_VARINT, sint32: WIRE_VARINT, uint32: WIRE_VARINT,
  enum: WIRE_VARINT, fixed64: WIRE_I64, sfixed64: WIRE_I64, fixed32: WIRE_I32, double: WIRE_I64,
  id: WIRE_LEN, bytes: WIRE_LEN,
};

function decodeMessage(buf: Uint8Array, spec: Message): Json {
  const r = new Reader(buf);
  const out: Json = {};
  while (!r.atEnd()) {
    const tag = r.small();
    const field = tag >>> 3;
    const wire = tag & 7;
    const fs = spec[field];
    if (!fs) {
      r.skip(wire);
      continue;
    }
    const [name, type, repeated] = fs;
    const push = (v: unknown): void => {
      if (repeated) ((out[name] ??= []) as unknown[]).push(v);
      else out[name] = v;
    };
    if (typeof type === "object") {
      push(decodeMessage(r.bytes(), type));
    } else if (repeated && wire === WIRE_LEN && scalarWire[type] !== WIRE_LEN) {
      // packed repeated scalars (bucketCounts, explicitBounds)
      const inner = new Reader(r.bytes());
      while (!inner.atEnd()) push(readScalar(inner, type));
    } else {
      push(readScalar(r, type));
    }
  }
  return out;
}

// --- opentelemetry-proto v1 ------------------------------------------------

const AnyValue: Message = {};
const KeyValue: Message = { 1: ["key", "string"], 2: ["value", AnyValue] };
const ArrayValue: Message = { 1: ["values", AnyValue, true] };
const KeyValueList: Message = { 1: ["values", KeyValue, true] };
Object.assign(AnyValue, {
  1: ["stringValue", "string"],
  2: ["boolValue", "bool"],
  3: ["intValue", "int64"],
  4: ["doubleValue", "double"],
  5: ["arrayValue", ArrayValue],
  6: ["kvlistValue", KeyValueList],
  7: ["bytesValue", "bytes"],
} satisfies Message);
const attributes: FieldSpec = ["attributes", KeyValue, true];
const Scope: Message = { 1: ["name", "string"], 2: ["version", "string"], 3: attributes, 4: ["droppedAttributesCount", "uint32"] };
const Resource: Message = { 1: attributes, 2: ["droppedAttributesCount", "uint32"] };

const SpanEvent: Message = { 1: ["timeUnixNano", "fixed64"], 2: ["name", "string"], 3: attributes, 4: ["droppedAttributesCount", "uint32"] };
const SpanLink: Message = {
  1: ["traceId", "id"], 2: ["spanId", "id"], 3: ["traceState", "string"], 4: attributes,
  5: ["droppedAttributesCount", "uint32"], 6: ["flags", "fixed32"],
};
const Status: Message = { 2: ["message", "string"], 3: ["code", "enum"] };
const Span: Message = {
  1: ["traceId", "id"], 2: ["spanId", "id"], 3: ["traceState", "string"], 4: ["parentSpanId", "id"],
  16: ["flags", "fixed32"], 5: ["name", "string"], 6: ["kind", "enum"],
  7: ["startTimeUnixNano", "fixed64"], 8: ["endTimeUnixNano", "fixed64"], 9: attributes,
  10: ["droppedAttributesCount", "uint32"], 11: ["events", SpanEvent, true], 12: ["droppedEventsCount", "uint32"],
  13: ["links", SpanLink, true], 14: ["droppedLinksCount", "uint32"], 15: ["status", Status],
};
const TraceRequest: Message = {
  1: ["resourceSpans", {
    1: ["resource", Resource],
    2: ["scopeSpans", { 1: ["scope", Scope], 2: ["spans", Span, true], 3: ["schemaUrl", "string"] }, true],
    3: ["schemaUrl", "string"],
  }, true],
};

const Exemplar: Message = {
  7: ["filteredAttributes", KeyValue, true], 2: ["timeUnixNano", "fixed64"], 3: ["asDouble", "double"],
  6: ["asInt", "sfixed64"], 4: ["spanId", "id"], 5: ["traceId", "id"],
};
const NumberDataPoint: Message = {
  7: attributes, 2: ["startTimeUnixNano", "fixed64"], 3: ["timeUnixNano", "fixed64"], 4: ["asDouble", "double"],
  6: ["asInt", "sfixed64"], 5: ["exemplars", Exemplar, true], 8: ["flags", "uint32"],
};
const HistogramDataPoint: Message = {
  9: attributes, 2: ["startTimeUnixNano", "fixed64"], 3: ["timeUnixNano", "fixed64"], 4: ["count", "fixed64"],
  5: ["sum", "double"], 6: ["bucketCounts", "fixed64", true], 7: ["explicitBounds", "double", true],
  8: ["exemplars", Exemplar, true], 10: ["flags", "uint32"], 11: ["min", "double"], 12: ["max", "double"],
};
const Buckets: Message = { 1: ["offset", "sint32"], 2: ["bucketCounts", "uint32", true] };
const ExpHistogramDataPoint: Message = {
  1: attributes, 2: ["startTimeUnixNano", "fixed64"], 3: ["timeUnixNano", "fixed64"], 4: ["count", "fixed64"],
  5: ["sum", "double"], 6: ["scale", "sint32"], 7: ["zeroCount", "fixed64"], 8: ["positive", Buckets],
  9: ["negative", Buckets], 10: ["flags", "uint32"], 11: ["exemplars", Exemplar, true], 12: ["min", "double"],
  13: ["max", "double"], 14: ["zeroThreshold", "double"],
};
const SummaryDataPoint: Message = {
  7: attributes, 2: ["startTimeUnixNano", "fixed64"], 3: ["timeUnixNano", "fixed64"], 4: ["count", "fixed64"],
  5: ["sum", "double"], 6: ["quantileValues", { 1: ["quantile", "double"], 2: ["value", "double"] }, true],
  8: ["flags", "uint32"],
};
const Metric: Message = {
  1: ["name", "string"], 2: ["description", "string"], 3: ["unit", "string"],
  5: ["gauge", { 1: ["dataPoints", NumberDataPoint, true] }],
  7: ["sum", { 1: ["dataPoints", NumberDataPoint, true], 2: ["aggregationTemporality", "enum"], 3: ["isMonotonic", "bool"] }],
  9: ["histogram", { 1: ["dataPoints", HistogramDataPoint, true], 2: ["aggregationTemporality", "enum"] }],
  10: ["exponentialHistogram", { 1: ["dataPoints", ExpHistogramDataPoint, true], 2: ["aggregationTemporality", "enum"] }],
  11: ["summary", { 1: ["dataPoints", SummaryDataPoint, true] }],
  12: ["metadata", KeyValue, true],
};
const MetricsRequest: Message = {
  1: ["resourceMetrics", {
    1: ["resource", Resource],
    2: ["scopeMetrics", { 1: ["scope", Scope], 2: ["metrics", Metric, true], 3: ["schemaUrl", "string"] }, true],
    3: ["schemaUrl", "string"],
  }, true],
};

const LogRecord: Message = {
  1: ["timeUnixNano", "fixed64"], 11: ["observedTimeUnixNano", "fixed64"], 2: ["severityNumber", "enum"],
  3: ["severityText", "string"], 5: ["body", AnyValue], 6: attributes, 7: ["droppedAttributesCount", "uint32"],
  8: ["flags", "fixed32"], 9: ["traceId", "id"], 10: ["spanId", "id"], 12: ["eventName", "string"],
};
const LogsRequest: Message = {
  1: ["resourceLogs", {
    1: ["resource", Resource],
    2: ["scopeLogs", { 1: ["scope", Scope], 2: ["logRecords", LogRecord, true], 3: ["schemaUrl", "string"] }, true],
    3: ["schemaUrl", "string"],
  }, true],
};

export type OtlpSignal = "traces" | "metrics" | "logs";

const requestSpec: Record<OtlpSignal, Message> = { traces: TraceRequest, metrics: MetricsRequest, logs: LogsRequest };

/** An Export*ServiceRequest in protobuf, as the equivalent OTLP/JSON object. */
export function decodeOtlpProtobuf(signal: OtlpSignal, body: Uint8Array): Json {
  return decodeMessage(body, requestSpec[signal]);
}
