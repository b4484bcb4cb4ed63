// W3C Trace Context ids (https://www.w3.org/TR/trace-context/#traceparent-header):
// every run and incident gets a trace id where it is created, and the engine
// names each span it will report (run, batch, target, step) up front, so a
// step's command can be told its span before the step ends. Ids cost a few
// random bytes; nothing here loads OpenTelemetry.

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  // All zeros is the invalid id of the spec; 2^-64 at worst, but never emitted.
  if (buffer.every((b) => b === 0)) buffer[bytes - 1] = 1;
  return Buffer.from(buffer).toString("hex");
}

/** 32 lowercase hex digits, random (the spec's "random trace-id" flag is not claimed). */
export function newTraceId(): string {
  return randomHex(16);
}

/** 16 lowercase hex digits, random. */
export function newSpanId(): string {
  return randomHex(8);
}

export const isTraceId = (value: unknown): value is string => typeof value === "string" && TRACE_ID.test(value) && !/^0+$/.test(value);
export const isSpanId = (value: unknown): value is string => typeof value === "string" && SPAN_ID.test(value) && !/^0+$/.test(value);

/**
 * A span id every process computes alike from a trace id and a name: an
 * incident's root span and each attempt's span have one, so the replica that
 * runs attempt 3 parents its run under it without asking the one that
 * opened the incident, and a restart does not lose it.
 */
export function derivedSpanId(traceId: string, name: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(`${traceId}/${name}`);
  const id = hasher.digest("hex").slice(0, 16);
  return /^0+$/.test(id) ? "0000000000000001" : id;
}

/** The incident's root span (`incident <id>`). */
export const incidentSpanId = (traceId: string): string => derivedSpanId(traceId, "incident");
/** Remediation attempt N's span, the parent of its run's span. */
export const attemptSpanId = (traceId: string, attempt: number): string => derivedSpanId(traceId, `attempt/${attempt}`);
/** The escalation's span, the parent of the escalation run's span. */
export const escalationSpanId = (traceId: string): string => derivedSpanId(traceId, "escalation");

/** `00-<trace id>-<span id>-01`: the traceparent header and TRACEPARENT variable for a sampled span. */
export function formatTraceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

/** A traceparent value read leniently (surrounding space, upper case); undefined when it is not a valid version-00 one. */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const match = value === undefined ? null : TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match || !isTraceId(match[1]) || !isSpanId(match[2])) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, sampled: (Number.parseInt(match[3]!, 16) & 1) === 1 };
}

/**
 * Whether steps pass their span on (TRACEPARENT for commands, a traceparent
 * header on requests). On only while this process exports traces: without a
 * collector, a header would make the services a step calls join a trace
 * whose parents nobody records, and a legacy script's environment would
 * change for nothing. Process-wide because the exporter is.
 */
let propagating = false;

export function setTracePropagation(on: boolean): void {
  propagating = on;
}

export function tracePropagation(): boolean {
  return propagating;
}

/** Where a run's spans hang: its trace, and the span it runs under when it joins another's trace (a remediation under its attempt). */
export interface TraceContext {
  traceId: string;
  parentSpanId?: string;
}
