import pkg from "../../package.json" with { type: "json" };
import type { LoadedConfig } from "../config/index.ts";
import type { EventSink } from "../engine/index.ts";
import type { HealSink } from "../heal/index.ts";
import type { IncidentStore } from "../journal/index.ts";
import { parseTraceparent, startTracing, type OtlpExport, type TraceContext, type Tracing } from "../observe/index.ts";
import { resolveOtlpExport } from "./otlp-config.ts";

// Tracing for the commands that run workflows (run, exec, runs resume, wrap)
// and for opskit serve: started only when observability.otlp or the OTEL_*
// variables name a collector, so OpenTelemetry loads only then.

/** The command's tracing, or undefined when no collector is configured. */
export async function startCommandTracing(loaded: LoadedConfig, warn?: (line: string) => void): Promise<Tracing | undefined> {
  const settings = await resolveOtlpExport("traces", loaded);
  return settings ? startTracingTo(settings, warn) : undefined;
}

/** Tracing to settings resolved earlier (opskit serve checks them before it opens anything). */
export function startTracingTo(settings: OtlpExport, warn?: (line: string) => void): Promise<Tracing> {
  return startTracing(settings, { version: pkg.version, ...(warn ? { warn } : {}) });
}

/** A run's trace sink over a command's tracing (engine/trace-sink.ts). */
export async function runTraceSinkOf(tracing: Tracing): Promise<EventSink> {
  const { runTraceSink } = await import("../engine/index.ts");
  return runTraceSink(tracing.recorder);
}

/**
 * The trace a run started from the command line joins: the caller's, when
 * it passed one on (a CI job, or a step of another opskit run, sets
 * TRACEPARENT), so the run's spans hang under the span that started it.
 */
export function callerTrace(env: NodeJS.ProcessEnv = process.env): TraceContext | undefined {
  const parent = parseTraceparent(env.TRACEPARENT);
  return parent ? { traceId: parent.traceId, parentSpanId: parent.spanId } : undefined;
}

/**
 * opskit serve's trace sinks: incidents (heal events, an incident this
 * process did not open found by its trace id in the journal) and their runs.
 */
export async function serveTraceSinks(tracing: Tracing, journal: IncidentStore): Promise<{ heal: HealSink; run: EventSink }> {
  const { incidentTraceSink } = await import("../heal/index.ts");
  return {
    heal: incidentTraceSink(tracing.recorder, { traceOf: async (id) => (await journal.getIncident(id))?.traceId }),
    run: await runTraceSinkOf(tracing),
  };
}
